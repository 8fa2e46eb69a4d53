"""Glioma-like tumours: irregular cores, necrosis in a (sometimes broken) rim, oedema in WM.

Shapes, in mm around a lesion centre c (all inside a box of the case's work box):

    rho(x)   = |Q^T (x - c) / a|             rotated, anisotropic ellipsoid (1 on its surface)
    core     = rho + 0.3 N1 <= 1             N1 smooth noise: an irregular, lobulated blob
    necrosis = depth in the core > w (1 + 0.35 N2)   a rim w = 2-6 mm thick, uneven
    rim      = core minus necrosis           enhancing (ET); where N3 > q it does not enhance
    oedema   = voxels reachable from the core through white matter (WM fraction >= 0.3: it
               stops at CSF and cortex) whose distance to the core, plus smooth noise, is below
               the value that makes the whole tumour k times the core (k in 2-4); its
               concentration falls from 1 to 0 across a fading edge around that distance

Labels are hard (ET, NCR = necrosis and non-enhancing core, ED); intensities use soft
compartment fractions (`Tumour.fractions`), so partial volume blurs edges and the outer edge
of the oedema is faint.
"""

import dataclasses

import numpy as np
from scipy import ndimage

from brats_rev import labels
from brats_rev.phantoms import fields


@dataclasses.dataclass(frozen=True)
class Traits:
    """What kind of tumour a case has (drawn per case by `draw_traits`).

    Attributes:
      radius_mm: equivalent radius of the (main) core.
      necrotic: a necrotic centre inside an enhancing rim (else a solid core).
      enhancing: whether the core enhances at all (else it is all non-enhancing core, NCR).
      broken_rim: part of the rim does not enhance.
      multifocal: a second, smaller lesion away from the first.
      oedema_ratio: whole tumour volume / core volume aimed at.
      fade_mm: width of the oedema's fading edge.
    """

    radius_mm: float
    necrotic: bool
    enhancing: bool
    broken_rim: bool
    multifocal: bool
    oedema_ratio: float
    fade_mm: float


@dataclasses.dataclass(frozen=True)
class Tumour:
    """A tumour on a box of the work box.

    Attributes:
      box: tuple of three slices into the work box.
      canonical: uint8 canonical labels on the box (0 where no tumour).
      fractions: {"necrosis", "non_enhancing", "enhancing", "oedema"} -> float32 soft
        fractions on the box; the first three sum to at most 1, "oedema" is the concentration
        of oedema in the remaining tissue.
    """

    box: tuple
    canonical: np.ndarray
    fractions: dict


def draw_traits(rng):
    """Traits of one case: about 17% solid (no necrosis), 15% non-enhancing, 20% multifocal."""
    enhancing = bool(rng.random() >= 0.15)
    necrotic = enhancing and bool(rng.random() >= 0.2)
    return Traits(radius_mm=float(rng.uniform(11.0, 24.0)), necrotic=necrotic,
                  enhancing=enhancing, broken_rim=necrotic and bool(rng.random() < 0.4),
                  multifocal=bool(rng.random() < 0.2),
                  oedema_ratio=float(rng.uniform(2.0, 4.0)), fade_mm=float(rng.uniform(3.0, 8.0)))


def _random_rotation(rng):
    """A uniformly random (3, 3) rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))[None, :]


def _ellipsoid_rho(rng, offsets, radius_mm):
    """rho of a random rotated ellipsoid of equivalent radius `radius_mm` (float32, box shape).

    `offsets` are the three broadcastable per-axis mm offsets from the lesion centre.
    """
    axes = np.exp(rng.uniform(-0.3, 0.3, 3))
    axes = radius_mm * axes / np.prod(axes) ** (1 / 3)
    rotation = _random_rotation(rng)
    squared = 0.0
    for k in range(3):
        along = sum(rotation[a, k] * offsets[a] for a in range(3))
        squared = squared + (along / axes[k]) ** 2
    return np.sqrt(squared).astype(np.float32)


def _lesion(rng, offsets, shape, spacing, radius_mm):
    """Bool core mask of one lesion centred at the offsets' origin."""
    rho = _ellipsoid_rho(rng, offsets, radius_mm)
    roughness = fields.smooth_noise(rng, shape, spacing, radius_mm * 0.5)
    return rho + 0.3 * roughness <= 1.0


def _necrosis_and_gaps(rng, core, spacing, traits):
    """(necrosis, broken) bool masks: the core deeper than an uneven rim; gaps in that rim."""
    shape = core.shape
    if not traits.necrotic:
        return np.zeros(shape, bool), np.zeros(shape, bool)
    # Depth below the core's surface, which lies half a voxel outside its last voxels.
    depth = ndimage.distance_transform_edt(core, sampling=spacing) - 0.5 * min(spacing)
    rim_mm = rng.uniform(2.0, 6.0) * (
        1.0 + 0.35 * fields.smooth_noise(rng, shape, spacing, traits.radius_mm * 0.5))
    necrosis = core & (depth > rim_mm)
    broken = np.zeros(shape, bool)
    if traits.broken_rim:
        gaps = fields.smooth_noise(rng, shape, spacing, traits.radius_mm * 0.6)
        broken = core & ~necrosis & (gaps > rng.uniform(0.3, 1.0))
    return necrosis, broken


def tumour_box(centre, traits, spacing, box_shape):
    """Slices of the work box (of `box_shape`) around voxel `centre` that hold the tumour."""
    reach_mm = traits.radius_mm * (6.5 if traits.multifocal else 4.0) + 10.0
    half = np.ceil(reach_mm / np.asarray(spacing)).astype(int)
    return tuple(slice(max(c - h, 0), min(c + h + 1, n))
                 for c, h, n in zip(centre, half, box_shape, strict=True))


def _second_centre(rng, anatomy_wm, centre, radius_mm, spacing):
    """A voxel 3-4 core radii from `centre` in white matter (or the last try's voxel)."""
    shape = np.asarray(anatomy_wm.shape)
    candidate = np.asarray(centre)
    for _ in range(20):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        step = direction * rng.uniform(3.0, 4.0) * radius_mm / np.asarray(spacing)
        candidate = np.clip(np.rint(centre + step).astype(int), 0, shape - 1)
        if anatomy_wm[tuple(candidate)] >= 0.5:
            break
    return candidate


def _oedema(rng, core, wm, brain, spacing, traits):
    """(label mask, concentration) of oedema around `core` on its box (bool, float32)."""
    allowed = brain & ((wm >= 0.3) | ndimage.binary_dilation(core, iterations=2))
    reachable = ndimage.binary_propagation(core, mask=allowed | core) & ~core
    distance = ndimage.distance_transform_edt(~core, sampling=spacing).astype(np.float32)
    jitter = fields.smooth_noise(rng, core.shape, spacing, traits.radius_mm * 0.7)
    distance = distance + 0.35 * traits.radius_mm * jitter
    candidates = np.sort(distance[reachable])
    wanted = int(round((traits.oedema_ratio - 1.0) * np.count_nonzero(core)))
    if candidates.size == 0 or wanted <= 0:
        return np.zeros(core.shape, bool), np.zeros(core.shape, np.float32)
    limit = candidates[min(wanted, candidates.size) - 1]
    label = reachable & (distance <= limit)
    concentration = np.clip(0.5 + (limit - distance) / traits.fade_mm, 0.0, 1.0)
    return label, np.where(reachable, concentration, 0.0).astype(np.float32)


def _soft(mask, spacing):
    """Partial-volume fraction of a hard mask: blurred by 0.5 mm (float32)."""
    sigma = [0.5 / h for h in spacing]
    return ndimage.gaussian_filter(mask.astype(np.float32), sigma, mode="constant")


def grow(rng, anatomy, centre, traits, spacing):
    """The Tumour grown from work-box voxel `centre` into `anatomy` (brats_rev.phantoms.anatomy)."""
    box = tumour_box(centre, traits, spacing, anatomy.brain.shape)
    local = np.asarray(centre) - [s.start for s in box]
    shape = tuple(s.stop - s.start for s in box)
    brain, wm = anatomy.brain[box], anatomy.wm[box]
    outside_ventricles = anatomy.ventricle_distance[box] > 0.5
    centres = [local]
    if traits.multifocal:
        centres.append(_second_centre(rng, wm, local, traits.radius_mm, spacing))
    core = np.zeros(shape, bool)
    for number, lesion_centre in enumerate(centres):
        offsets = [fields.along_axis(((np.arange(n) - c) * h).astype(np.float32), a)
                   for a, (n, c, h) in enumerate(zip(shape, lesion_centre, spacing, strict=True))]
        radius = traits.radius_mm * (1.0 if number == 0 else rng.uniform(0.4, 0.7))
        core |= _lesion(rng, offsets, shape, spacing, radius)
    core &= brain & outside_ventricles
    necrosis, broken = _necrosis_and_gaps(rng, core, spacing, traits)
    oedema, concentration = _oedema(rng, core, wm, brain, spacing, traits)
    if traits.enhancing:
        enhancing = core & ~necrosis & ~broken
        non_enhancing = broken
    else:
        enhancing, non_enhancing = np.zeros(shape, bool), core & ~necrosis
    canonical = np.zeros(shape, np.uint8)
    canonical[oedema] = labels.ED
    canonical[necrosis | non_enhancing] = labels.NCR
    canonical[enhancing] = labels.ET
    fractions = {"necrosis": _soft(necrosis, spacing),
                 "non_enhancing": _soft(non_enhancing, spacing),
                 "enhancing": _soft(enhancing, spacing), "oedema": concentration}
    return Tumour(box, canonical, fractions)
