"""What looks like tumour and is not labelled: vessels, choroid plexus, FLAIR-bright white matter.

    vessels          random smooth walks 0.8-2.4 mm thick through the brain, enhancing on T1ce
    choroid plexus   clumps inside the lateral ventricles, enhancing on T1ce
    periventricular  a FLAIR-bright band 2-6 mm wide along the ventricles, patchy, fading outwards
    WMH              small white-matter hyperintensities (thresholded fine noise in white matter)

Each is a float32 fraction on the work box (`mimic_fractions`); none changes the labels.
"""

import numpy as np
from scipy import ndimage

from brats_rev.phantoms import fields

MIMICS = ("vessel", "choroid_plexus", "periventricular", "wmh")
_STEP_MM = 0.5


def _walks(rng, brain, spacing, count):
    """(N, 4) float64 rows (x, y, z in voxels, cross-section in mm^2) of `count` vessel walks."""
    spacing = np.asarray(spacing)
    starts = np.argwhere(brain)
    rows = []
    for start in starts[rng.integers(0, len(starts), count)]:
        position = start.astype(np.float64)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        area = np.pi * rng.uniform(0.4, 1.2) ** 2
        for _ in range(int(rng.uniform(20.0, 70.0) / _STEP_MM)):
            voxel = np.rint(position).astype(int)
            if np.any(voxel < 0) or np.any(voxel >= brain.shape) or not brain[tuple(voxel)]:
                break
            rows.append((*position, area))
            direction += rng.normal(scale=0.12, size=3)
            direction /= np.linalg.norm(direction)
            position = position + direction * _STEP_MM / spacing
    return np.asarray(rows, np.float64).reshape(-1, 4)


def _vessels(rng, brain, spacing):
    """Vessel volume fraction per voxel: each walk step adds its tube volume to its voxel."""
    rows = _walks(rng, brain, spacing, int(rng.integers(60, 120)))
    fraction = np.zeros(brain.shape, np.float32)
    voxels = np.rint(rows[:, :3]).astype(int)
    np.add.at(fraction, tuple(voxels.T), rows[:, 3] * _STEP_MM / np.prod(spacing))
    fraction = ndimage.gaussian_filter(fraction, [0.5 / h for h in spacing], mode="constant")
    return np.minimum(fraction, 1.0) * brain


def _on_box(rng, mask, spacing, correlation_mm):
    """Smooth noise on the bounding box of `mask`, zero elsewhere (float32, mask's shape)."""
    out = np.zeros(mask.shape, np.float32)
    if np.any(mask):
        box = ndimage.find_objects(mask.astype(np.int8))[0]
        shape = tuple(s.stop - s.start for s in box)
        out[box] = fields.smooth_noise(rng, shape, spacing, correlation_mm)
    return out


def _soft(mask, brain, spacing):
    """Partial-volume fraction of a hard mask (blurred by 0.5 mm), zero outside the brain."""
    return ndimage.gaussian_filter(mask.astype(np.float32), [0.5 / h for h in spacing]) * brain


def mimic_fractions(rng, anatomy, spacing):
    """{name in MIMICS: float32 fraction on the work box} for one case's `anatomy`."""
    ventricles = (anatomy.ventricle_distance < 0.5) & (anatomy.csf > 0.5) & anatomy.brain
    plexus = ventricles & (_on_box(rng, ventricles, spacing, 3.0) > rng.uniform(0.5, 1.2))
    width = rng.uniform(2.0, 8.0)
    band = anatomy.brain & ~ventricles & (anatomy.ventricle_distance < width)
    patches = _on_box(rng, band, spacing, 6.0) > rng.uniform(-0.8, 0.2)
    periventricular = np.where(band & patches, 1.0 - anatomy.ventricle_distance / width, 0.0)
    white = anatomy.brain & (anatomy.wm > 0.7)
    wmh = white & (_on_box(rng, white, spacing, 2.5) > rng.uniform(1.8, 2.6))
    return {"vessel": _vessels(rng, anatomy.brain, spacing),
            "choroid_plexus": _soft(plexus, anatomy.brain, spacing),
            "periventricular": periventricular.astype(np.float32) * anatomy.wm,
            "wmh": _soft(wmh, anatomy.brain, spacing)}
