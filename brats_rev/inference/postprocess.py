"""From region probabilities on the cropped grid to labels on the original grid (numpy only).

    probabilities (x, y, z, R) of a task's regions --threshold, decode--> canonical labels
    --small ET relabelled to the task's fallback--> --uncrop--> --convention--> labels (X, Y, Z)
"""

import numpy as np

from brats_rev import labels
from brats_rev.data import preprocess


def threshold_regions(probabilities, thresholds, task=labels.GLI):
    """Canonical uint8 labels (x, y, z) of `task` from its region probabilities (x, y, z, R).

    A voxel is in a region when its probability is >= that region's threshold (one per
    region, `InferenceConfig.region_thresholds`); the task's
    decoding then gives it one class (`labels.canonical_from_regions`; GLI: ET wins, then TC as
    NCR, then WT as ED), so a voxel above the ET threshold is ET even if its WT probability is
    low.
    """
    probabilities = np.asarray(probabilities)
    regions = task.region_names
    if probabilities.shape[-1:] != (len(regions),):
        raise ValueError(f"probabilities need a last axis of {len(regions)} regions "
                         f"{regions}. Received: shape={probabilities.shape}")
    return labels.canonical_from_regions(probabilities >= np.asarray(thresholds, np.float32),
                                         task)


def relabel_small_enhancing(canonical, min_voxels, task=labels.GLI):
    """`canonical` with every ET voxel relabelled to `task.et_fallback` (GLI: NCR) if the case
    has fewer than `min_voxels` ET.

    `min_voxels` 0, or a task without ET fallback, leaves the labels unchanged. Returns a new
    array; TC (which holds the fallback class) and WT are unchanged.
    """
    canonical = np.array(canonical, dtype=np.uint8)
    if task.et_fallback is None:
        return canonical
    enhancing = canonical == task.value("ET")
    if 0 < np.count_nonzero(enhancing) < min_voxels:
        canonical[enhancing] = task.value(task.et_fallback)
    return canonical


def to_original_grid(canonical, box, original_shape, convention):
    """Cropped canonical labels -> uint8 labels in `convention` on the original grid.

    Args:
      canonical: uint8 (x, y, z) canonical labels on the crop `box`.
      box: int (3, 2) crop box [start, stop) in the original grid.
      original_shape: (X, Y, Z).
      convention: output label convention (a brats_rev.tasks.CONVENTIONS key of the task).
    Returns:
      uint8 (X, Y, Z), background outside the box.
    """
    full = preprocess.uncrop(np.asarray(canonical, np.uint8), box, original_shape,
                             fill=labels.BACKGROUND)
    return labels.from_canonical(full, convention)
