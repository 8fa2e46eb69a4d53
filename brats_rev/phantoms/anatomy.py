"""One case's healthy anatomy: the template moved, stretched and warped onto the case's grid.

Each output voxel looks up the template at

    T(x) = c_t + P (w(x) - c_o)                                   the pose (affine)
    T'(x) = T(s) + (T(x) - T(s)) (1 - m exp(-|w(x) - w(s)|^2 / (2 r^2)))   mass effect at s
    template position = T'(x) + u(x)                              a smooth elastic field u

where w(x) is the voxel's world position (mm), P a random rotation (about +-10 degrees per axis)
divided by a scale (0.92-1.08, slightly different per axis), c_o and c_t the grid's and the
brain's centres (plus a shift of a few mm), s the tumour's seed. The mass effect stretches the
template around s, so the anatomy there is pushed outwards by up to about m r. Tissue maps are
interpolated linearly (partial volume survives); all work happens in the box of the grid that
can hold brain.
"""

import concurrent.futures
import dataclasses
import os

import numpy as np
from scipy import ndimage

from brats_rev.phantoms import fields
from brats_rev.phantoms.case import phantom_affine

_MAX_ROTATION_DEG = 10.0
_SCALE_RANGE = (0.92, 1.08)
_SCALE_ANISOTROPY = 0.03
_MAX_SHIFT_MM = 4.0
_ELASTIC_CORRELATION_MM = 35.0
_ELASTIC_SD_MM = (1.0, 3.0)
# Margin of the work box beyond the posed brain: room for the elastic field (mm).
_BOX_MARGIN_MM = 12.0
# Threads for the template lookups.
THREADS = min(4, os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class Pose:
    """The affine part of the output -> template map: template = centre_t + matrix @ (w - centre_o).

    Attributes:
      matrix: (3, 3) float64 (rotation divided by scale).
      centre_output, centre_template: (3,) float64 world positions (mm).
    """

    matrix: np.ndarray
    centre_output: np.ndarray
    centre_template: np.ndarray

    def to_template(self, world):
        """(..., 3) output world mm -> (..., 3) template world mm."""
        return self.centre_template + (world - self.centre_output) @ self.matrix.T

    def to_output(self, world):
        """(..., 3) template world mm -> (..., 3) output world mm (the inverse map)."""
        return self.centre_output + (world - self.centre_template) @ np.linalg.inv(self.matrix).T


@dataclasses.dataclass(frozen=True)
class Anatomy:
    """Healthy tissue of one case on its work box.

    Attributes:
      box: tuple of three slices: where the work box lies in the output grid.
      brain: bool brain mask of the box.
      gm, wm, csf: float32 tissue fractions (sum 1 inside the brain, 0 outside).
      ventricle_distance: float32 mm to the lateral ventricles (0 inside).
    """

    box: tuple
    brain: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    ventricle_distance: np.ndarray


def _rotation(rng):
    """A (3, 3) rotation: random angles up to _MAX_ROTATION_DEG about x, then y, then z."""
    matrix = np.eye(3)
    for axis, angle in enumerate(np.deg2rad(rng.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG, 3))):
        i, j = [a for a in range(3) if a != axis]
        turn = np.eye(3)
        turn[i, i] = turn[j, j] = np.cos(angle)
        turn[i, j], turn[j, i] = -np.sin(angle), np.sin(angle)
        matrix = turn @ matrix
    return matrix


def random_pose(rng, template, shape, spacing):
    """A random Pose that puts the template brain in the middle of a `shape` grid of `spacing` mm.

    Brains are scaled with the grid: a grid of the BraTS field of view (240 x 240 x 155 mm)
    holds a brain of the template's size times 0.92-1.08, whatever the voxel size.
    """
    scale = rng.uniform(*_SCALE_RANGE) * rng.uniform(1 - _SCALE_ANISOTROPY,
                                                     1 + _SCALE_ANISOTROPY, 3)
    matrix = _rotation(rng) / scale[None, :]
    corners = template.brain_box_corners()
    centre_template = (corners.min(axis=0) + corners.max(axis=0)) / 2
    centre_template += rng.uniform(-_MAX_SHIFT_MM, _MAX_SHIFT_MM, 3)
    output_affine = phantom_affine(shape, spacing)
    centre_output = output_affine[:3, :3] @ ((np.asarray(shape) - 1) / 2) + output_affine[:3, 3]
    return Pose(matrix, centre_output, centre_template)


def work_box(pose, template, shape, spacing):
    """Slices of the output grid that can hold brain under `pose` (with an elastic margin)."""
    affine = phantom_affine(shape, spacing)
    corners = pose.to_output(template.brain_box_corners())
    voxels = (corners - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    margin = _BOX_MARGIN_MM / np.asarray(spacing)
    low = np.maximum(np.floor(voxels.min(axis=0) - margin), 0).astype(int)
    high = np.minimum(np.ceil(voxels.max(axis=0) + margin) + 1, shape).astype(int)
    return tuple(slice(a, b) for a, b in zip(low, high, strict=True))


def box_world(box, shape, spacing):
    """Per-axis world coordinate vectors of the box's voxels: three 1-D float64 arrays (mm).

    The grid affine is diagonal, so world x depends on the voxel's x index only, and so on.
    """
    affine = phantom_affine(shape, spacing)
    return [affine[a, a] * np.arange(s.start, s.stop) + affine[a, 3] for a, s in enumerate(box)]


def template_positions(rng, pose, template, box, shape, spacing, seed_world, mass):
    """(3, *box shape) float32 template voxel coordinates of every box voxel.

    Args:
      seed_world: (3,) output world mm of the tumour seed s.
      mass: (m, r): strength (0-1) and radius (mm) of the mass effect.
    """
    axes = box_world(box, shape, spacing)
    box_shape = tuple(len(a) for a in axes)
    to_voxel = np.linalg.inv(template.affine)
    # Template voxel = A (c_t + P (w - c_o)) + b: one 3x3 linear map of w plus an offset.
    linear = to_voxel[:3, :3] @ pose.matrix
    offset = to_voxel[:3, :3] @ (pose.centre_template - pose.matrix @ pose.centre_output)
    offset += to_voxel[:3, 3]
    seed_voxel = linear @ seed_world + offset
    strength, radius = mass
    squared = sum(fields.along_axis((a - s) ** 2, k)
                  for k, (a, s) in enumerate(zip(axes, seed_world, strict=True)))
    keep = (1.0 - strength * np.exp(-squared / (2.0 * radius**2))).astype(np.float32)
    elastic_sd = rng.uniform(*_ELASTIC_SD_MM)
    positions = np.empty((3, *box_shape), np.float32)
    for out in range(3):
        value = np.float32(offset[out] - seed_voxel[out])
        for k in range(3):
            value = value + fields.along_axis((linear[out, k] * axes[k]).astype(np.float32), k)
        elastic = fields.smooth_noise(rng, box_shape, spacing, _ELASTIC_CORRELATION_MM)
        positions[out] = seed_voxel[out] + value * keep + elastic_sd * elastic
    return positions


def sample(template, positions, box):
    """The Anatomy at template `positions` (3, *box shape) for the output `box`.

    The brain mask is looked up everywhere, the other maps at brain voxels only; lookups run
    on THREADS threads (scipy releases the GIL while it interpolates).
    """
    def lookup(volume, points, cval=0.0):
        return ndimage.map_coordinates(volume, points, order=1, mode="constant", cval=cval,
                                       prefilter=False)

    def brain_slab(rows):
        return lookup(template.brain, positions[:, rows[0]:rows[-1] + 1]) >= 0.5

    shape = positions.shape[1:]
    far = float(template.ventricle_distance.max())
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        brain = np.concatenate(list(pool.map(brain_slab,
                                             np.array_split(np.arange(shape[0]), THREADS))))
        points = positions[:, brain]
        gm, wm, distance = pool.map(lookup, (template.gm, template.wm,
                                             template.ventricle_distance),
                                    (points,) * 3, (0.0, 0.0, far))
    total = gm + wm
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-6), 1.0).astype(np.float32)
    gm, wm = gm * scale, wm * scale
    maps = {}
    for name, values, outside in (("gm", gm, 0.0), ("wm", wm, 0.0), ("csf", 1.0 - gm - wm, 0.0),
                                  ("ventricle_distance", distance, far)):
        maps[name] = np.full(shape, outside, np.float32)
        maps[name][brain] = values
    return Anatomy(box, brain, **maps)
