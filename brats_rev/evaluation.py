"""BraTS segmentation metrics per region (numpy / scipy): Dice, HD95, sensitivity, specificity
(the classic `METRICS`) and the normalised surface Dice.

Masks are boolean (X, Y, Z) arrays; spacing is the voxel size in mm per axis. Regions are
those of a task (brats_rev.tasks; GLI: WT, TC, ET) from its canonical labels.

    Dice         2 |P ∩ G| / (|P| + |G|)
    sensitivity  |P ∩ G| / |G|                         (true positive rate)
    specificity  |¬P ∩ ¬G| / |¬G|, over the whole grid  (true negative rate)
    HD95         95th percentile of the symmetric surface distances, in mm: the surface of a
                 mask is its voxels with a 6-connected neighbour outside it (or on the grid's
                 edge); the distances from every surface voxel of P to the nearest surface voxel
                 of G and from every surface voxel of G to the nearest of P are pooled into one
                 set, and its 95th percentile (numpy linear interpolation) is taken. This is
                 MedPy's `hd95` (used by the BraTS toolkits up to 2021); the BraTS 2023 code
                 takes the larger of the two directed 95th percentiles instead, which can be
                 larger (brats_rev.lesion_metrics compares them).
    NSD          normalised surface Dice at a tolerance τ (mm, NSD_TOLERANCE_MM): the mean of
                 the fraction of P's surface voxels within τ of G's surface and the fraction of
                 G's within τ of P's (same surfaces and distances as HD95), as nnU-Net, the
                 BraTS-2024-Metrics code and panoptica (the BraTS-evaluation package) compute it.

Empty masks (the BraTS conventions): G and P both empty -> Dice 1, HD95 0, sensitivity 1;
exactly one empty -> Dice 0, HD95 373.13 mm (the diagonal of the 240x240x155 1 mm grid),
sensitivity 0 when G is not empty and 1 when only P is (nothing to miss); NSD 1 if both are
empty, 0 if one is. Specificity needs ¬G non-empty (always true for a real case); a grid that
is all G gives 1 if P is all P too.
"""

import numpy as np
from scipy import ndimage

from brats_rev import labels

METRICS = ("dice", "hd95", "sensitivity", "specificity")
# The HD95 of a region that is empty in exactly one of prediction and reference (mm).
EMPTY_HD95 = 373.13
# Tolerance of the normalised surface Dice (mm). BraTS-2024-Metrics reports NSD at 0.5 and
# 1.0 mm; panoptica (BraTS-evaluation) uses the smallest voxel spacing, 1 mm on the BraTS grid.
NSD_TOLERANCE_MM = 1.0
# BraTS leaderboard statistics, in report order.
STATISTICS = ("mean", "std", "median", "25quantile", "75quantile")

_SIX_CONNECTED = ndimage.generate_binary_structure(3, 1)


def dice(prediction, reference):
    """Dice of two boolean masks; 1.0 if both are empty."""
    total = np.count_nonzero(prediction) + np.count_nonzero(reference)
    if total == 0:
        return 1.0
    return 2.0 * np.count_nonzero(prediction & reference) / total


def sensitivity(prediction, reference):
    """|P ∩ G| / |G|; with G empty, 1.0 (nothing was missed)."""
    positives = np.count_nonzero(reference)
    if positives == 0:
        return 1.0
    return np.count_nonzero(prediction & reference) / positives


def specificity(prediction, reference):
    """|¬P ∩ ¬G| / |¬G| over the whole grid; 1.0 if ¬G is empty."""
    negatives = reference.size - np.count_nonzero(reference)
    if negatives == 0:
        return 1.0
    return np.count_nonzero(~prediction & ~reference) / negatives


def surface(mask):
    """Boolean: voxels of `mask` with a 6-connected neighbour outside it or on the grid edge."""
    return mask & ~ndimage.binary_erosion(mask, structure=_SIX_CONNECTED, border_value=0)


def _bounding_slices(mask):
    """Slices of the bounding box of `mask` widened by one voxel (clipped to the grid)."""
    slices = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        slices.append(slice(max(present[0] - 1, 0), present[-1] + 2))
    return tuple(slices)


def surface_distances(prediction, reference, spacing):
    """(distances of P's surface voxels to G's surface, of G's to P's), in mm (1-D arrays).

    Both masks must be non-empty. Computed on their joint bounding box: every surface voxel
    lies inside it, so the nearest one found there is the nearest one on the full grid.
    """
    box = _bounding_slices(prediction | reference)
    prediction, reference = prediction[box], reference[box]
    prediction_surface, reference_surface = surface(prediction), surface(reference)
    to_reference = ndimage.distance_transform_edt(~reference_surface, sampling=spacing)
    to_prediction = ndimage.distance_transform_edt(~prediction_surface, sampling=spacing)
    return to_reference[prediction_surface], to_prediction[reference_surface]


def hd95(prediction, reference, spacing):
    """95th percentile of the pooled symmetric surface distances (mm); see the module doc."""
    has_prediction, has_reference = bool(prediction.any()), bool(reference.any())
    if not has_prediction and not has_reference:
        return 0.0
    if has_prediction != has_reference:
        return EMPTY_HD95
    forward, backward = surface_distances(prediction, reference, spacing)
    return float(np.percentile(np.concatenate([forward, backward]), 95))


def normalized_surface_dice(prediction, reference, spacing, tolerance_mm=NSD_TOLERANCE_MM):
    """Mean of the fractions of P's and of G's surface voxels within `tolerance_mm` of the
    other's surface, in [0, 1]; 1.0 if both masks are empty, 0.0 if one is."""
    has_prediction, has_reference = bool(prediction.any()), bool(reference.any())
    if not has_prediction and not has_reference:
        return 1.0
    if has_prediction != has_reference:
        return 0.0
    forward, backward = surface_distances(prediction, reference, spacing)
    return float((np.mean(forward <= tolerance_mm) + np.mean(backward <= tolerance_mm)) / 2)


def region_metrics(prediction, reference, spacing):
    """{"dice", "hd95", "sensitivity", "specificity"} of two boolean masks (floats)."""
    prediction, reference = np.asarray(prediction, bool), np.asarray(reference, bool)
    if prediction.shape != reference.shape:
        raise ValueError(f"prediction shape {prediction.shape} differs from reference shape "
                         f"{reference.shape}")
    spacing = tuple(float(s) for s in spacing)
    return {"dice": float(dice(prediction, reference)),
            "hd95": hd95(prediction, reference, spacing),
            "sensitivity": float(sensitivity(prediction, reference)),
            "specificity": float(specificity(prediction, reference))}


def case_metrics(prediction, reference, spacing, task=labels.GLI):
    """{region: region_metrics} for every region of `task` (brats_rev.tasks.Task) of its
    canonical label arrays (X, Y, Z)."""
    predicted = labels.regions_from_canonical(prediction, task).astype(bool)
    expected = labels.regions_from_canonical(reference, task).astype(bool)
    return {region: region_metrics(predicted[..., k], expected[..., k], spacing)
            for k, region in enumerate(task.regions)}


def summarize(values):
    """{statistic: float} of a 1-D sequence of per-case values (population std, ddof=0)."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return {name: float("nan") for name in STATISTICS}
    return {"mean": float(values.mean()), "std": float(values.std()),
            "median": float(np.median(values)),
            "25quantile": float(np.percentile(values, 25)),
            "75quantile": float(np.percentile(values, 75))}
