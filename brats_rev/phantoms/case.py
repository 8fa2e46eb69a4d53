"""What every synthetic case is: four int16 images, canonical labels and a voxel -> mm affine."""

import dataclasses

import numpy as np

# The BraTS grid (x, y, z) in voxels; at 1 mm it is the default phantom shape.
BRATS_SHAPE = (240, 240, 155)


@dataclasses.dataclass(frozen=True)
class Phantom:
    """One synthetic case.

    Attributes:
      images: modality name (layouts.MODALITIES) -> int16 array of `shape`, voxel order (x, y, z);
        exactly 0 outside the brain, >= 1 inside.
      canonical: uint8 canonical labels (brats_rev.labels), same shape.
      affine: (4, 4) float64 voxel -> world (mm) matrix.
    """

    images: dict
    canonical: np.ndarray
    affine: np.ndarray


def phantom_affine(shape, spacing=(1.0, 1.0, 1.0)):
    """Voxel -> world affine (float64) with x and y flipped, as in the BraTS releases.

    Args:
      shape: grid size (x, y, z) in voxels.
      spacing: voxel size (x, y, z) in mm.
    """
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = [0.0, (shape[1] - 1.0) * spacing[1], 0.0]
    return affine
