"""The simple phantom: an ellipsoidal brain with one nested-ellipsoid tumour, for fast tests.

A skull-stripped head on a 1 mm grid: an ellipsoidal brain (cortex, white matter, ventricles, a
thin CSF rim) with one tumour made of a necrotic core (NCR) inside an enhancing rim (ET) inside
oedema (ED). Each modality gets its own contrast (FLAIR: bright oedema, dark CSF; T1ce: bright
enhancing rim; T2: bright CSF and oedema), a per-case gain, a smooth bias field and Gaussian
noise. Each tissue is one intensity far from its neighbours, so a fixed threshold segments it:
these cases test plumbing, not learning (`brats_rev.phantoms.realistic` is the hard kind).
"""

import numpy as np

from brats_rev import labels
from brats_rev.data import layouts
from brats_rev.phantoms.case import Phantom, phantom_affine

# Tissue indices of the phantom (0 is outside the brain).
_OUTSIDE, _CSF, _GM, _WM, _ED, _NCR, _ET = range(7)
# Mean intensity of each tissue index per modality before gain and bias.
_CONTRASTS = {
    "flair": (0, 150, 600, 480, 1100, 650, 900),
    "t1": (0, 250, 550, 800, 480, 300, 600),
    "t1ce": (0, 250, 580, 820, 500, 320, 1400),
    "t2": (0, 1600, 850, 550, 1300, 1450, 950),
}
_TISSUE_TO_CANONICAL = np.array([0, 0, 0, 0, labels.ED, labels.NCR, labels.ET], dtype=np.uint8)


def _ellipsoid_distance(grid, centre, radii):
    """Squared normalised distance (float32): <= 1 inside the ellipsoid."""
    return sum(((axis - c) / r) ** 2 for axis, c, r in zip(grid, centre, radii, strict=True))


def make_phantom(shape, seed):
    """Builds one phantom on a grid of `shape` (x, y, z) from integer `seed` (or seed sequence).

    Returns a Phantom. Every tumour voxel lies inside the brain, and all three tumour classes
    are present for shapes of at least 24 voxels per axis.
    """
    rng = np.random.default_rng(seed)
    size = np.asarray(shape, dtype=np.float32)
    grid = [a.astype(np.float32) for a in np.ogrid[: shape[0], : shape[1], : shape[2]]]
    centre = (size - 1) / 2 + rng.uniform(-0.03, 0.03, 3) * size
    radii = size * np.array([0.36, 0.42, 0.38]) * rng.uniform(0.92, 1.05, 3)
    brain_d = _ellipsoid_distance(grid, centre, radii)

    tissue = np.where(brain_d <= 1.0, _GM, _OUTSIDE).astype(np.uint8)
    tissue[brain_d <= 0.55] = _WM
    tissue[(brain_d > 0.88) & (brain_d <= 1.0)] = _CSF
    for side in (-1, 1):
        ventricle = centre + np.array([side * 0.12, 0.05, 0.05]) * radii
        tissue[_ellipsoid_distance(grid, ventricle, radii * [0.07, 0.25, 0.12]) <= 1] = _CSF

    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tumour_centre = centre + direction * rng.uniform(0.2, 0.4) * radii
    core_radii = size.min() * rng.uniform(0.09, 0.14) * rng.uniform(0.85, 1.15, 3)
    core_d = _ellipsoid_distance(grid, tumour_centre, core_radii)
    oedema_d = _ellipsoid_distance(grid, tumour_centre, core_radii * rng.uniform(1.5, 2.0))
    in_brain = brain_d <= 1.0
    tissue[(oedema_d <= 1) & in_brain] = _ED
    tissue[(core_d <= 1) & in_brain] = _ET
    tissue[(core_d <= rng.uniform(0.3, 0.5)) & in_brain] = _NCR

    gradient = rng.normal(size=3)
    bias = 1.0 + 0.1 * sum(
        g * (axis / s - 0.5) for g, axis, s in zip(gradient, grid, size, strict=True))
    noise_fraction = rng.uniform(0.02, 0.05)
    images = {}
    for modality in layouts.MODALITIES:
        means = np.asarray(_CONTRASTS[modality], dtype=np.float32) * rng.uniform(0.8, 1.25)
        clean = means[tissue] * bias
        noise = rng.standard_normal(shape, dtype=np.float32) * (noise_fraction * means[_WM])
        values = np.clip(np.rint(clean + noise), 1, np.iinfo(np.int16).max)
        images[modality] = np.where(in_brain, values, 0).astype(np.int16)
    return Phantom(images, _TISSUE_TO_CANONICAL[tissue], phantom_affine(shape))
