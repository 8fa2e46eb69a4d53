"""Smooth random fields on a voxel grid, cheap enough for whole heads.

A field is white Gaussian noise on a coarse lattice of knots, interpolated to the voxels with
cubic B-splines along each axis in turn (three matrix products, no full-size filtering). Each
axis' weights are normalised so that every voxel has variance exactly 1.
"""

import numpy as np


def along_axis(vector, axis):
    """A 1-D `vector` shaped to broadcast along `axis` of a 3-D grid, e.g. (1, n, 1) for axis 1."""
    return np.reshape(vector, [-1 if a == axis else 1 for a in range(3)])


def _cubic_bspline(t):
    """The cubic B-spline kernel at offsets `t` (knot units); support |t| < 2."""
    t = np.abs(t)
    inner = (4.0 - 6.0 * t**2 + 3.0 * t**3) / 6.0
    outer = (2.0 - t) ** 3 / 6.0
    return np.where(t < 1.0, inner, np.where(t < 2.0, outer, 0.0))


def _interpolation_matrix(size, spacing_mm, correlation_mm):
    """(size, knots) float32 weights from knots `correlation_mm` apart to voxels `spacing_mm` apart.

    Rows have unit Euclidean norm, so unit-variance iid knots give unit-variance voxels.
    """
    positions = np.arange(size) * (spacing_mm / correlation_mm)
    knots = np.arange(-1, int(np.ceil(positions[-1])) + 3)
    weights = _cubic_bspline(positions[:, None] - knots[None, :])
    weights /= np.sqrt(np.sum(weights**2, axis=1, keepdims=True))
    return weights.astype(np.float32)


def smooth_noise(rng, shape, spacing_mm, correlation_mm):
    """A zero-mean, unit-variance smooth Gaussian field.

    Args:
      rng: numpy Generator (consumed: one standard normal per knot).
      shape: grid size (x, y, z) in voxels.
      spacing_mm: voxel size (x, y, z) in mm.
      correlation_mm: knot distance in mm, scalar or per axis: features are about this wide.

    Returns:
      float32 array of `shape`.
    """
    correlation_mm = np.broadcast_to(np.asarray(correlation_mm, np.float64), (3,))
    matrices = [_interpolation_matrix(n, h, c)
                for n, h, c in zip(shape, spacing_mm, correlation_mm, strict=True)]
    knots = rng.standard_normal(tuple(m.shape[1] for m in matrices), dtype=np.float32)
    field = np.tensordot(matrices[0], knots, axes=(1, 0))  # (x, ky, kz)
    field = np.matmul(matrices[1], field)  # (x, y, kz): one (y, ky) @ (ky, kz) per x
    return np.ascontiguousarray(np.matmul(field, matrices[2].T))  # (x, y, z)
