"""Lesion-wise BraTS metrics per region (numpy / scipy), as BraTS has ranked since 2023.

Masks are boolean (X, Y, Z) arrays of one region of a task (`brats_rev.tasks`: GLI has WT,
TC, ET); spacing is the voxel size in mm per axis. With d the region's dilation in the task
(iterations of scipy's 18-connected structure `generate_binary_structure(3, 2)`; in voxels,
whatever the spacing):

1. Reference lesions: the reference mask is dilated d times; each 26-connected component of
   the dilated mask is one lesion, made of the reference voxels inside it (components closer
   than the dilation form one lesion; its voxels are the reference's, not the dilated ones).
2. Prediction components: 26-connected components of the prediction. With the task's
   `group_predictions` (the 2024 tasks) they are grouped by dilation as the reference's, and a
   group whose volume is not above the region's threshold is dropped.
3. Matching: every prediction component touching a lesion dilated d times is matched to it.
   The lesion's Dice and HD95 are those of the lesion against the union of its matched
   components; a lesion without any scores Dice 0 and HD95 `missed_hd95`.
4. A lesion whose volume (voxels x voxel volume, mm³) is not above the region's threshold is
   ignored: neither counted nor scored; a component matched to it is no false positive.
   False positives (FP): the prediction components matched to no lesion.
5. lesion_dice = sum of the kept lesions' Dice / (kept + FP); lesion_hd95 = (sum of their
   HD95 + missed_hd95 x FP) / (kept + FP); Dice 1 and HD95 0 when kept + FP is 0. Counts:
   lesion_tp (kept lesions with a match), lesion_fn (kept lesions without), lesion_fp.

HD95 (mm, from the spacing) is `brats_rev.evaluation.hd95`: the 95th percentile of the pooled
surface distances of 6-connected voxel surfaces (MedPy's definition), as the classic HD95
column and panoptica (the BraTS-evaluation package) compute it. The BraTS-2023/2024-Metrics
code uses DeepMind's `compute_robust_hausdorff` instead: surface elements between voxels,
weighted by their area, and the larger of the two directed 95th percentiles. That is mostly
equal or within a voxel of ours, but several mm larger where one surface has a tail the pooled
percentile dilutes; one definition keeps our HD95 columns comparable with each other.

`brats_rev.tasks.TASKS` holds each task's parameters and their source. Not reproduced: the 2024
code also merges the lesions of a tissue (ET, NETC, SNFH, RC) that touch a common lesion of
another tissue, both in the reference and the prediction; here every region's lesions are
those of step 1.
"""

import numpy as np
from scipy import ndimage

from brats_rev import evaluation, labels, tasks

# What `case_metrics` reports per region, in column order (the NSD is the whole region's).
METRICS = ("lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn", "nsd")

_NEIGHBOURS_26 = np.ones((3, 3, 3), bool)
_DILATION_STRUCTURE = ndimage.generate_binary_structure(3, 2)  # 18-connected


def _grouped_by_dilation(mask, dilation):
    """int32 labels 1..n of `mask`'s voxels, one per 26-connected component of `mask` dilated
    `dilation` times (0 outside `mask`), and n."""
    dilated = ndimage.binary_dilation(mask, structure=_DILATION_STRUCTURE, iterations=dilation)
    grouped, count = ndimage.label(dilated, structure=_NEIGHBOURS_26)
    grouped[~mask] = 0
    return grouped, count


def _widened(box, margin, shape):
    """The slices `box` widened by `margin` voxels on each side, clipped to `shape`."""
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, size))
                 for s, size in zip(box, shape, strict=True))


def _union(boxes):
    """The smallest slices holding every slices tuple of `boxes`."""
    return tuple(slice(min(b[axis].start for b in boxes), max(b[axis].stop for b in boxes))
                 for axis in range(len(boxes[0])))


def _prediction_components(prediction, task, dilation, voxel_mm3, threshold_mm3):
    """int32 labels of the prediction components (0: background or dropped)."""
    if not task.group_predictions:
        return ndimage.label(prediction, structure=_NEIGHBOURS_26)[0]
    grouped, _ = _grouped_by_dilation(prediction, dilation)
    small = np.bincount(grouped.ravel()) * voxel_mm3 <= threshold_mm3
    small[0] = False
    grouped[small[grouped]] = 0
    return grouped


def region_metrics(prediction, reference, spacing, task, region):
    """{"lesion_dice", "lesion_hd95" (mm), "lesion_tp", "lesion_fp", "lesion_fn"} of two
    boolean masks of one shape, for `task` (a brats_rev.tasks.Task) and its `region` (whose
    dilation and volume threshold apply)."""
    prediction, reference = np.asarray(prediction, bool), np.asarray(reference, bool)
    spacing = tuple(float(s) for s in spacing)
    dilation, threshold_mm3 = task.lesion[region].dilation, task.lesion[region].threshold_mm3
    voxel_mm3 = float(np.prod(spacing))
    if prediction.any() or reference.any():
        # Nothing beyond the dilation of the masks' joint bounding box matters.
        box = _widened(ndimage.find_objects((prediction | reference).astype(np.uint8))[0],
                       dilation, prediction.shape)
        prediction, reference = prediction[box], reference[box]
    lesions, _ = _grouped_by_dilation(reference, dilation)
    components = _prediction_components(prediction, task, dilation, voxel_mm3,
                                        threshold_mm3)
    component_boxes = ndimage.find_objects(components)
    matched_anywhere, dices, hd95s, found = set(), [], [], 0
    for label, lesion_box in enumerate(ndimage.find_objects(lesions), start=1):
        near = _widened(lesion_box, dilation, lesions.shape)
        reach = ndimage.binary_dilation(lesions[near] == label, structure=_DILATION_STRUCTURE,
                                        iterations=dilation)
        matched = set(np.unique(components[near][reach]).tolist()) - {0}
        matched_anywhere |= matched
        if np.count_nonzero(lesions[lesion_box] == label) * voxel_mm3 <= threshold_mm3:
            continue  # ignored, and so are the components matched to it
        joint = _union([lesion_box] + [component_boxes[m - 1] for m in matched])
        lesion, matches = lesions[joint] == label, np.isin(components[joint], list(matched))
        dices.append(evaluation.dice(matches, lesion))
        hd95s.append(evaluation.hd95(matches, lesion, spacing) if matched else task.missed_hd95)
        found += bool(matched)
    false_positives = len(set(np.unique(components).tolist()) - {0} - matched_anywhere)
    scored = len(dices) + false_positives
    if scored == 0:
        dice, hd95 = 1.0, 0.0
    else:
        dice = sum(dices) / scored
        hd95 = (sum(hd95s) + task.missed_hd95 * false_positives) / scored
    return {"lesion_dice": float(dice), "lesion_hd95": float(hd95), "lesion_tp": found,
            "lesion_fp": false_positives, "lesion_fn": len(dices) - found}


def case_metrics(prediction, reference, spacing, task_name):
    """{region: {metric: value} for METRICS} for every region of task `task_name` (a
    brats_rev.tasks.TASKS key) of its canonical label arrays (X, Y, Z): the lesion-wise
    metrics and the region's NSD."""
    task, spacing = tasks.task_named(task_name), tuple(float(s) for s in spacing)
    predicted = labels.regions_from_canonical(prediction, task).astype(bool)
    expected = labels.regions_from_canonical(reference, task).astype(bool)
    scores = {}
    for k, region in enumerate(task.regions):
        scores[region] = region_metrics(predicted[..., k], expected[..., k], spacing, task,
                                        region)
        scores[region]["nsd"] = evaluation.normalized_surface_dice(
            predicted[..., k], expected[..., k], spacing)
    return scores
