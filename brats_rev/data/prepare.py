"""The case preprocessing that conversion and inference share: one function, one behaviour.

Brain mask (any modality nonzero) -> bounding box widened by a margin (and, when labels are
given, covering the tumour too) -> crop -> per-modality z-score over the brain -> labels to
canonical. Arrays are in NIfTI voxel order (x, y, z), images channel-last. `crop_case` stops
before the z-score (conversion stores the cropped source intensities and normalises on read);
`prepare_case` does it all.
"""

import dataclasses

import numpy as np

from brats_rev import labels
from brats_rev.config import CROP_MARGIN
from brats_rev.data import layouts, preprocess


@dataclasses.dataclass(frozen=True)
class CroppedCase:
    """A case cut to its crop box, intensities as in the source.

    Attributes:
      intensities: (x, y, z, 4) source intensities inside the box (a view of the input image,
        its dtype), modalities in `layouts.MODALITIES` order; 0 wherever the brain mask is False.
      mask: bool (x, y, z) brain mask inside the box (any modality nonzero).
      label: canonical uint8 (x, y, z) cropped like `intensities` (C-contiguous), or None.
      box: int64 (3, 2) crop box [start, stop) in the original grid.
      original_shape: (X, Y, Z) of the original grid.
    """

    intensities: np.ndarray
    mask: np.ndarray
    label: np.ndarray | None
    box: np.ndarray
    original_shape: tuple


@dataclasses.dataclass(frozen=True)
class PreparedCase:
    """A preprocessed case.

    Attributes:
      image: float32 (x, y, z, 4) cropped, z-scored over the brain, 0 outside it.
      label: canonical uint8 (x, y, z) cropped like `image` (C-contiguous), or None.
      box: int64 (3, 2) crop box [start, stop) in the original grid.
      original_shape: (X, Y, Z) of the original grid.
    """

    image: np.ndarray
    label: np.ndarray | None
    box: np.ndarray
    original_shape: tuple


def crop_case(image, seg=None, convention=None, margin=CROP_MARGIN):
    """Cuts one case to its crop box without normalising it.

    Args:
      image: (X, Y, Z, 4) array, modalities in `layouts.MODALITIES` order.
      seg: segmentation (X, Y, Z) in `convention`, or None (then the box comes from the
        image alone, as at inference).
      convention: the label convention of `seg` (a brats_rev.labels key); needed with `seg`.
      margin: voxels added on each side of the bounding box (clipped to the volume).

    Returns:
      CroppedCase.
    Raises:
      ValueError: empty brain mask, or label values outside `convention`.
    """
    mask = preprocess.brain_mask(image)
    canonical = None
    mask_for_box = mask
    if seg is not None:
        canonical = labels.to_canonical(seg, convention)
        mask_for_box = mask | (canonical > 0)
    box = preprocess.bounding_box(mask_for_box, margin)
    if canonical is not None:
        canonical = np.ascontiguousarray(preprocess.crop(canonical, box))
    return CroppedCase(preprocess.crop(image, box), preprocess.crop(mask, box), canonical, box,
                       tuple(int(s) for s in image.shape[:3]))


def prepare_case(image, seg=None, convention=None, margin=CROP_MARGIN):
    """Preprocesses one case: `crop_case`, then the per-modality z-score over the brain.

    Args and errors as `crop_case`; also raises ValueError naming a modality that is
    constant over the brain.

    Returns:
      PreparedCase.
    """
    cropped = crop_case(image, seg, convention, margin)
    normalised = preprocess.zscore(cropped.intensities, cropped.mask, layouts.MODALITIES)
    return PreparedCase(normalised, cropped.label, cropped.box, cropped.original_shape)
