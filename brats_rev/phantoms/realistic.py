"""The realistic phantom: a real brain's anatomy, a glioma-like tumour, look-alikes and a scanner.

One case, deterministic given its seed:

1. anatomy      the ICBM152 template (`template`) posed, warped and pushed aside by the
                tumour's mass (`anatomy`)
2. tumour       an irregular core seeded in white matter, necrosis and a (sometimes broken)
                enhancing rim, oedema along white matter (`tumour`); case mix in
                `tumour.draw_traits`
3. mimics       vessels, choroid plexus, periventricular and white-matter hyperintensities,
                unlabelled (`mimics`)
4. acquisition  contrasts, texture, thick slices, misregistration, bias, gamma, gain and Rician
                noise per modality (`acquisition`)

The grid always spans the BraTS field of view (240 x 240 x 155 mm): the default shape is 1 mm
voxels, a smaller shape has larger voxels (the affine says which), so small cases for tests
are the same brains at lower resolution.
"""

import numpy as np

from brats_rev.phantoms import acquisition, anatomy, mimics, template, tumour
from brats_rev.phantoms.case import BRATS_SHAPE, Phantom, phantom_affine

# Mass effect: strength m (0-1) and radius in core radii (`anatomy.template_positions`).
_MASS_STRENGTH = (0.15, 0.4)
_MASS_RADIUS = 1.3
# With larger voxels (mm) a small tumour is a handful of voxels: 48 x 48 x 31 is the smallest grid.
MAX_SPACING_MM = 5.0


def spacing_for(shape):
    """Voxel size (x, y, z) in mm that makes a `shape` grid span the BraTS field of view."""
    return tuple(float(extent) / n for extent, n in zip(BRATS_SHAPE, shape, strict=True))


def make_realistic_phantom(shape, seed):
    """Builds one realistic case on a grid of `shape` (x, y, z) from `seed` (int or sequence).

    Returns a Phantom whose affine has `spacing_for(shape)` voxels. Every tumour voxel lies in
    the brain; the tumour core is never empty.

    Raises:
      ValueError: `shape` makes voxels larger than MAX_SPACING_MM.
    """
    spacing = spacing_for(shape)
    if max(spacing) > MAX_SPACING_MM:
        smallest = tuple(int(np.ceil(n / MAX_SPACING_MM)) for n in BRATS_SHAPE)
        raise ValueError(f"realistic phantoms need voxels of at most {MAX_SPACING_MM:g} mm, a "
                         f"grid of at least {smallest}. Received: shape={tuple(shape)}")
    rng = np.random.default_rng(seed)
    brain_template = template.load_template()
    pose = anatomy.random_pose(rng, brain_template, shape, spacing)
    traits = tumour.draw_traits(rng)
    seed_voxel = brain_template.seeds[rng.integers(len(brain_template.seeds))]
    seed_world = pose.to_output((brain_template.affine @ [*seed_voxel, 1.0])[:3])
    box = anatomy.work_box(pose, brain_template, shape, spacing)
    mass = (rng.uniform(*_MASS_STRENGTH), _MASS_RADIUS * traits.radius_mm)
    positions = anatomy.template_positions(rng, pose, brain_template, box, shape, spacing,
                                           seed_world, mass)
    healthy = anatomy.sample(brain_template, positions, box)
    affine = phantom_affine(shape, spacing)
    seed_index = np.linalg.solve(affine[:3, :3], seed_world - affine[:3, 3])
    centre = np.clip(np.rint(seed_index).astype(int) - [s.start for s in box], 0,
                     np.asarray(healthy.brain.shape) - 1)
    grown = tumour.grow(rng, healthy, centre, traits, spacing)
    fractions = acquisition.compartment_fractions(
        healthy, grown, mimics.mimic_fractions(rng, healthy, spacing))
    box_images = acquisition.acquire(rng, healthy, fractions, spacing)
    images = {}
    for modality, values in box_images.items():
        images[modality] = np.zeros(shape, np.int16)
        images[modality][box] = values
    canonical = np.zeros(shape, np.uint8)
    tumour_box = tuple(slice(b.start + t.start, b.start + t.stop)
                       for b, t in zip(box, grown.box, strict=True))
    canonical[tumour_box] = grown.canonical
    return Phantom(images, canonical, affine)
