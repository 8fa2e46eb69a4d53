"""Lesion-wise BraTS metrics against hand-worked cases: matching, merging, thresholds, FP / FN.

Boxes are written as (x, y, z) slices. Lesions are kept far enough apart that their dilations
(3 voxels per axis for the GLI tasks) neither touch nor reach another lesion, unless a case says
otherwise.
"""

import numpy as np
import pytest

from brats_rev import labels, lesion_metrics, tasks

ONE_MM = (1.0, 1.0, 1.0)
A = np.s_[1:5, 1:5, 1:5]  # the 4x4x4 cube every case has: 64 voxels, 56 of them on its surface


def _boxes(shape, *boxes):
    mask = np.zeros(shape, bool)
    for box in boxes:
        mask[box] = True
    return mask


def _scores(prediction, reference, task="gli2023", spacing=ONE_MM, region="WT"):
    return lesion_metrics.region_metrics(prediction, reference, spacing,
                                         tasks.TASKS[task], region)


def _expected(dice, hd95, tp, fp, fn):
    return {"lesion_dice": dice, "lesion_hd95": hd95, "lesion_tp": tp, "lesion_fp": fp,
            "lesion_fn": fn}


def test_the_task_table():
    """The values of the reference code of each task: dilation and threshold (mm³) per region
    (WT, TC, ET, then the 2024 tasks' other regions), prediction components grouped as the
    reference's, HD95 of a miss / false positive."""
    table = {name: ({region: (lesion.dilation, lesion.threshold_mm3)
                     for region, lesion in task.lesion.items()},
                    task.group_predictions, task.missed_hd95)
             for name, task in tasks.TASKS.items()}

    def every(regions, dilation, threshold):
        return {region: (dilation, threshold) for region in regions.split()}

    assert table == {"gli2023": (every("WT TC ET", 3, 50), False, 374),
                     "ssa2023": (every("WT TC ET", 3, 50), False, 374),
                     "men2023": (every("WT TC ET", 1, 50), False, 374),
                     "ped2023": (every("WT TC ET", 3, 50), False, 374),
                     "met2023": (every("WT TC ET", 1, 2), False, 374),
                     "gli2024": ({**every("WT TC SNFH", 3, 20), "ET": (3, 10),
                                  **every("NETC RC", 5, 20)}, True, 337),
                     "ped2024": (every("WT TC ET NETC CC ED", 5, 10), True, 374),
                     "met2024": (every("WT TC ET", 1, 2), True, 374),
                     "ssa2024": (every("WT TC ET", 3, 50), True, 374)}
    assert tasks.DEFAULT_TASK == "gli2023"
    assert all(task.lesion_source and task.labels_source for task in tasks.TASKS.values())


def test_a_missed_lesion_scores_dice_0_and_hd95_374():
    """Lesions A and B (64 voxels each, 64 mm³ > 50); only A is predicted, exactly. A: Dice 1,
    HD95 0; B: Dice 0, HD95 374. Means over 2 lesions and no FP: 0.5 and 187."""
    reference = _boxes((24, 6, 6), A, np.s_[14:18, 1:5, 1:5])
    assert _scores(_boxes((24, 6, 6), A), reference) == pytest.approx(_expected(0.5, 187, 1, 0, 1))


def test_a_false_lesion_counts_as_dice_0_and_hd95_374():
    """A predicted exactly, plus a 2x2x2 component far from every lesion: one FP. The FP adds
    a 0 to the Dice sum and 374 to the HD95 sum: (1 + 0) / 2, (0 + 374) / 2."""
    prediction = _boxes((24, 6, 6), A, np.s_[20:22, 1:3, 1:3])
    assert _scores(prediction, _boxes((24, 6, 6), A)) == pytest.approx(_expected(0.5, 187, 1, 1, 0))


def test_reference_lesions_closer_than_the_dilation_are_one_lesion():
    """A (x 1-4) and B (x 9-12): 4 voxels apart. Dilated 3 times (GLI) they touch: one lesion
    of 128 voxels, of which A is predicted. Dice 2 * 64 / (64 + 128) = 2 / 3. HD95: P's 56
    surface voxels and A's 56 in the lesion's surface are at 0; B's 56 are 5 (16, x = 9),
    6 (12), 7 (12) and 8 mm (16, x = 12) from A's face x = 4. Of the 168 pooled distances the
    95th percentile (index 158.65 of 0..167, among the 16 eights at 152..167) is 8.
    Dilated once (MET) they stay apart: A found (1, 0) and B missed (0, 374)."""
    reference = _boxes((16, 6, 6), A, np.s_[9:13, 1:5, 1:5])
    prediction = _boxes((16, 6, 6), A)
    assert _scores(prediction, reference, "gli2023") == pytest.approx(_expected(2 / 3, 8, 1, 0, 0))
    assert _scores(prediction, reference, "met2023") == pytest.approx(_expected(0.5, 187, 1, 0, 1))


def test_a_component_within_the_dilation_of_a_lesion_is_matched_without_overlapping_it():
    """Lesion A (x 1-4); the prediction is a 2x4x4 slab at x 7-8, 2 voxels beyond A. A dilated
    3 times (GLI) reaches x = 7: matched, a TP of Dice 0. HD95: the slab's 32 surface voxels
    are 3 (x = 7) and 4 mm from A's face x = 4; A's 56 are 3 (16, x = 4), 4 (12), 5 (12) and
    6 mm (16, x = 1) from x = 7. Of the 88 pooled distances the 95th percentile (index 82.65,
    among the sixes at 72..87) is 6. Dilated once (MET) A reaches x = 5 only: a miss and an FP,
    (0 + 0) / 2 and (374 + 374) / 2."""
    prediction, reference = _boxes((12, 6, 6), np.s_[7:9, 1:5, 1:5]), _boxes((12, 6, 6), A)
    assert _scores(prediction, reference, "gli2023") == pytest.approx(_expected(0, 6, 1, 0, 0))
    assert _scores(prediction, reference, "met2023") == pytest.approx(_expected(0, 374, 0, 1, 1))


def test_lesions_up_to_the_volume_threshold_are_ignored_and_so_are_predictions_on_them():
    """Voxels of 1 x 1 x 2 mm. A: 64 voxels, 128 mm³. C: 5x5x1 voxels, 50 mm³ (not more than
    50: ignored), predicted exactly. D: 5x6x1 voxels, 60 mm³ (kept, 30 voxels), missed.
    Scored: A (1, 0) and D (0, 374); C's predicted component is matched (to C), so it is no
    FP: Dice 1 / 2, HD95 374 / 2. (A prediction on C as FP would give 1 / 3; C kept 2 / 3;
    volumes in voxels would ignore D too: 1.)"""
    shape, c, d = (32, 8, 6), np.s_[12:17, 1:6, 2:3], np.s_[24:29, 1:7, 2:3]
    prediction, reference = _boxes(shape, A, c), _boxes(shape, A, c, d)
    assert _scores(prediction, reference, spacing=(1.0, 1.0, 2.0)) == pytest.approx(
        _expected(0.5, 187, 1, 0, 1))


@pytest.mark.parametrize("prediction_boxes, reference_boxes, expected", [
    ((), (), _expected(1, 0, 0, 0, 0)),              # nothing to score
    ((A,), (), _expected(0, 374, 0, 1, 0)),          # one FP and no lesion
    ((), (np.s_[1:6, 1:6, 2:3],), _expected(1, 0, 0, 0, 0)),  # only a 25 mm³ lesion, ignored
])
def test_nothing_to_score_is_dice_1_and_hd95_0(prediction_boxes, reference_boxes, expected):
    shape = (8, 8, 8)
    assert _scores(_boxes(shape, *prediction_boxes), _boxes(shape, *reference_boxes)) == expected


def test_hd95_is_in_mm_on_anisotropic_voxels():
    """Voxels of 1 x 1 x 3 mm. The lesion is a 3x3x3 cube (81 mm³), predicted one slice
    further along z. Dice 2 * 18 / 54. Each has 26 surface voxels: 16 on the other's surface
    (0), 1 the other's centre, 1 mm from its surface, 9 on the far face, one 3 mm slice away.
    Pooled: 32 zeros, 2 ones, 18 threes; the 95th percentile (index 48.45 of 0..51) is 3 mm
    (1 if the spacing were ignored)."""
    reference = _boxes((5, 5, 7), np.s_[1:4, 1:4, 1:4])
    prediction = np.roll(reference, 1, axis=2)
    assert _scores(prediction, reference, spacing=(1.0, 1.0, 3.0)) == pytest.approx(
        _expected(2 / 3, 3.0, 1, 0, 0))


def test_gli2024_groups_prediction_components_and_drops_small_groups():
    """A predicted exactly, plus far from it: S (2x2x2, 8 voxels) and E1, E2 (3x3x2 each,
    18 voxels, 2 voxels apart). GLI 2024 groups predicted components as the reference's
    (dilation 3): S alone, 8 mm³ <= 20, is dropped; E1 + E2, 36 mm³, is one FP, scored 337:
    (1 + 0) / 2, (0 + 337) / 2. GLI 2023 counts S, E1 and E2: 3 FP at 374: 1 / 4, 3 * 374 / 4."""
    shape = (32, 10, 6)
    s, e1, e2 = np.s_[16:18, 1:3, 1:3], np.s_[26:29, 1:4, 1:3], np.s_[26:29, 6:9, 1:3]
    prediction, reference = _boxes(shape, A, s, e1, e2), _boxes(shape, A)
    assert _scores(prediction, reference, "gli2024") == pytest.approx(
        _expected(0.5, 168.5, 1, 1, 0))
    assert _scores(prediction, reference, "gli2023") == pytest.approx(
        _expected(0.25, 280.5, 1, 3, 0))


def test_case_metrics_use_each_regions_threshold_and_report_the_surface_dice():
    """Reference: one ET lesion of 3x3x2 voxels (18 mm³); prediction: nothing. GLI 2024
    ignores WT and TC lesions up to 20 mm³ but ET ones only up to 10: WT and TC have nothing
    to score (1, 0), ET misses its lesion (0, 337). GLI 2023 (50 mm³) ignores it everywhere.
    NSD: a region empty in the prediction only is 0."""
    reference = np.zeros((6, 6, 6), np.uint8)
    reference[1:4, 1:4, 1:3] = labels.ET
    prediction = np.zeros_like(reference)
    scores = lesion_metrics.case_metrics(prediction, reference, ONE_MM, "gli2024")
    nothing, missed = _expected(1, 0, 0, 0, 0), _expected(0, 337, 0, 0, 1)
    assert scores == {"WT": {**nothing, "nsd": 0.0}, "TC": {**nothing, "nsd": 0.0},
                      "ET": {**missed, "nsd": 0.0}, "NETC": {**nothing, "nsd": 1.0},
                      "SNFH": {**nothing, "nsd": 1.0}, "RC": {**nothing, "nsd": 1.0}}
    assert lesion_metrics.case_metrics(prediction, reference, ONE_MM, "gli2023")["ET"] == {
        **nothing, "nsd": 0.0}
    assert tuple(scores["ET"]) == lesion_metrics.METRICS


def test_an_unknown_task_is_refused_naming_the_known_ones():
    empty = np.zeros((2, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="unknown task 'gli2025'; known: gli2023, gli2024, "):
        lesion_metrics.case_metrics(empty, empty, ONE_MM, "gli2025")
