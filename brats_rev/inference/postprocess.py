"""From region probabilities on the cropped grid to labels on the original grid (numpy only).

    probabilities (x, y, z, 3) WT/TC/ET --threshold, nest--> canonical labels
    --small ET relabelled NCR--> --uncrop--> --convention--> labels (X, Y, Z) uint8
"""

import numpy as np

from brats_rev import labels
from brats_rev.data import preprocess


def threshold_regions(probabilities, thresholds=(0.5, 0.5, 0.5)):
    """Canonical uint8 labels (x, y, z) from region probabilities (x, y, z, 3) in WT, TC, ET order.

    A voxel is in a region when its probability is >= that region's threshold; nesting
    ET ⊂ TC ⊂ WT is then imposed by `labels.canonical_from_regions` (ET wins, then TC as NCR,
    then WT as ED), so a voxel above the ET threshold is ET even if its WT probability is low.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.shape[-1:] != (len(labels.REGIONS),):
        raise ValueError(f"probabilities need a last axis of {len(labels.REGIONS)} regions "
                         f"{labels.REGIONS}. Received: shape={probabilities.shape}")
    return labels.canonical_from_regions(probabilities >= np.asarray(thresholds, np.float32))


def relabel_small_enhancing(canonical, min_voxels):
    """`canonical` with every ET voxel relabelled NCR if the case has fewer than `min_voxels` ET.

    `min_voxels` 0 leaves the labels unchanged. Returns a new array; TC and WT are unchanged.
    """
    canonical = np.array(canonical, dtype=np.uint8)
    enhancing = canonical == labels.ET
    if 0 < np.count_nonzero(enhancing) < min_voxels:
        canonical[enhancing] = labels.NCR
    return canonical


def to_original_grid(canonical, box, original_shape, convention):
    """Cropped canonical labels -> uint8 labels in `convention` on the original grid.

    Args:
      canonical: uint8 (x, y, z) canonical labels on the crop `box`.
      box: int (3, 2) crop box [start, stop) in the original grid.
      original_shape: (X, Y, Z).
      convention: output label convention (a brats_rev.labels.CONVENTIONS key).
    Returns:
      uint8 (X, Y, Z), background outside the box.
    """
    full = preprocess.uncrop(np.asarray(canonical, np.uint8), box, original_shape,
                             fill=labels.BACKGROUND)
    return labels.from_canonical(full, convention)
