"""BraTS metrics against hand-computed values, a brute-force HD95 and the empty conventions."""

import itertools

import numpy as np
import pytest

from brats_rev import evaluation, labels


def _mask(shape, *voxels):
    mask = np.zeros(shape, bool)
    for voxel in voxels:
        mask[voxel] = True
    return mask


def test_overlap_metrics_table():
    # 2x3x4 grid (24 voxels); G has 4 voxels, P has 3, 2 shared: TP 2, FN 2, FP 1, TN 19.
    reference = _mask((2, 3, 4), (0, 0, 0), (0, 0, 1), (1, 2, 3), (1, 1, 1))
    prediction = _mask((2, 3, 4), (0, 0, 0), (0, 0, 1), (0, 2, 2))
    metrics = evaluation.region_metrics(prediction, reference, (1.0, 1.0, 1.0))
    assert metrics["dice"] == pytest.approx(4 / 7)
    assert metrics["sensitivity"] == pytest.approx(2 / 4)
    assert metrics["specificity"] == pytest.approx(19 / 20)


def test_hd95_of_a_rod_with_anisotropic_spacing():
    """P is one voxel at the end of a 10-voxel rod G along x; spacing 2 mm along x.

    P -> G: [0]; G -> P: 0, 2, ..., 18 mm. Pooled and sorted, 11 values; the 95th percentile
    sits at index 9.5, between 16 and 18: 17 mm.
    """
    reference = np.zeros((12, 3, 3), bool)
    reference[0:10, 1, 1] = True
    prediction = _mask((12, 3, 3), (0, 1, 1))
    assert evaluation.hd95(prediction, reference, (2.0, 1.0, 1.0)) == pytest.approx(17.0)
    assert evaluation.hd95(reference, prediction, (2.0, 1.0, 1.0)) == pytest.approx(17.0)
    # Two single voxels 3 apart along x at 2 mm and 1 apart along z at 0.5 mm: sqrt(36.25).
    one, other = _mask((5, 2, 3), (0, 0, 0)), _mask((5, 2, 3), (3, 0, 1))
    assert evaluation.hd95(one, other, (2.0, 1.0, 0.5)) == pytest.approx(np.sqrt(36.25))


def test_surface_excludes_interior_voxels_only():
    cube = np.zeros((5, 5, 5), bool)
    cube[1:4, 1:4, 1:4] = True
    np.testing.assert_array_equal(evaluation.surface(cube), cube & ~_mask((5, 5, 5), (2, 2, 2)))
    full = np.ones((3, 3, 3), bool)  # the grid's edge counts as outside
    np.testing.assert_array_equal(evaluation.surface(full), ~_mask((3, 3, 3), (1, 1, 1)))


def _brute_force_hd95(prediction, reference, spacing):
    def surface(mask):
        points = []
        for voxel in zip(*np.nonzero(mask), strict=True):
            for axis, step in itertools.product(range(3), (-1, 1)):
                neighbour = list(voxel)
                neighbour[axis] += step
                if not 0 <= neighbour[axis] < mask.shape[axis] or not mask[tuple(neighbour)]:
                    points.append(voxel)
                    break
        return np.asarray(points, np.float64) * spacing

    p, g = surface(prediction), surface(reference)
    pairwise = np.sqrt(((p[:, None, :] - g[None, :, :]) ** 2).sum(-1))
    return np.percentile(np.concatenate([pairwise.min(1), pairwise.min(0)]), 95)


@pytest.mark.parametrize("seed", range(4))
def test_hd95_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape, spacing = (9, 8, 7), np.array([1.5, 1.0, 0.7])
    prediction = rng.random(shape) < 0.15
    reference = np.zeros(shape, bool)
    reference[2:7, 1:5, 3:7] = True  # touches no edge; prediction does
    assert evaluation.hd95(prediction, reference, spacing) == pytest.approx(
        _brute_force_hd95(prediction, reference, spacing))


@pytest.mark.parametrize(
    "prediction_empty, reference_empty, expected",
    [
        (True, True, {"dice": 1.0, "hd95": 0.0, "sensitivity": 1.0, "specificity": 1.0}),
        (False, True, {"dice": 0.0, "hd95": 373.13, "sensitivity": 1.0, "specificity": 63 / 64}),
        (True, False, {"dice": 0.0, "hd95": 373.13, "sensitivity": 0.0, "specificity": 1.0}),
    ],
)
def test_empty_conventions(prediction_empty, reference_empty, expected):
    one = _mask((4, 4, 4), (1, 2, 3))
    empty = np.zeros((4, 4, 4), bool)
    metrics = evaluation.region_metrics(empty if prediction_empty else one,
                                        empty if reference_empty else one, (1.0, 2.0, 3.0))
    assert metrics == pytest.approx(expected)


def test_case_metrics_use_the_nested_regions():
    reference = np.zeros((6, 6, 6), np.uint8)
    reference[1:3, 1:3, 1:3] = labels.ET   # 8 voxels
    reference[3, 1:3, 1:3] = labels.NCR    # 4 voxels
    reference[4, 1:3, 1:3] = labels.ED     # 4 voxels
    prediction = reference.copy()
    prediction[3, 1:3, 1:3] = labels.ED    # NCR predicted as oedema: TC and ET change, WT not
    metrics = evaluation.case_metrics(prediction, reference, (1.0, 1.0, 1.0))
    assert metrics["WT"]["dice"] == 1.0 and metrics["WT"]["hd95"] == 0.0
    assert metrics["TC"]["dice"] == pytest.approx(2 * 8 / (8 + 12))
    assert metrics["TC"]["sensitivity"] == pytest.approx(8 / 12)
    assert metrics["TC"]["hd95"] == pytest.approx(1.0)  # the NCR slab is 1 voxel from the ET
    assert metrics["ET"] == {"dice": 1.0, "hd95": 0.0, "sensitivity": 1.0, "specificity": 1.0}


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="prediction shape \\(2, 2, 2\\) differs"):
        evaluation.region_metrics(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)), (1, 1, 1))


def test_summary_statistics():
    summary = evaluation.summarize([4.0, 1.0, 3.0, 2.0])
    assert summary == pytest.approx({"mean": 2.5, "std": np.sqrt(1.25), "median": 2.5,
                                     "25quantile": 1.75, "75quantile": 3.25})
    assert all(np.isnan(v) for v in evaluation.summarize([]).values())


def test_surface_dice_of_a_cube_shifted_one_voxel_on_anisotropic_voxels():
    """G is a 3x3x3 cube, P the same cube one voxel further along x, where voxels are 2 mm.

    Each has 26 surface voxels (all but its centre). Of P's: the 9 on its far face are 2 mm
    from G's surface; the middle of its near face, (2, 2, 2), is G's centre, 1 mm (one step
    along y) from G's surface; the other 16 lie on G's surface. So 17 / 26 are within 1 mm, and G's
    likewise: NSD 17 / 26 at 1 mm (the default tolerance), 1 at 2 mm.
    """
    reference = np.zeros((6, 5, 5), bool)
    reference[1:4, 1:4, 1:4] = True
    prediction = np.roll(reference, 1, axis=0)
    spacing = (2.0, 1.0, 1.0)
    assert evaluation.NSD_TOLERANCE_MM == 1.0
    assert evaluation.normalized_surface_dice(prediction, reference, spacing) == pytest.approx(
        17 / 26)
    assert evaluation.normalized_surface_dice(prediction, reference, spacing,
                                              tolerance_mm=2.0) == 1.0


def test_surface_dice_averages_the_two_surfaces_fractions():
    """P a 10-voxel rod, G its first voxel (1 mm voxels). Within 1 mm: 2 of P's 10 surface
    voxels, G's 1 of 1: NSD (0.2 + 1) / 2 = 0.6 (not the pooled 3 / 11)."""
    rod = np.zeros((12, 3, 3), bool)
    rod[0:10, 1, 1] = True
    first = _mask((12, 3, 3), (0, 1, 1))
    assert evaluation.normalized_surface_dice(rod, first, (1.0, 1.0, 1.0)) == pytest.approx(0.6)
    assert evaluation.normalized_surface_dice(first, rod, (1.0, 1.0, 1.0)) == pytest.approx(0.6)


def test_surface_dice_of_empty_masks():
    one, empty = _mask((4, 4, 4), (1, 2, 3)), np.zeros((4, 4, 4), bool)
    assert evaluation.normalized_surface_dice(empty, empty, (1.0, 1.0, 1.0)) == 1.0
    assert evaluation.normalized_surface_dice(one, empty, (1.0, 1.0, 1.0)) == 0.0
    assert evaluation.normalized_surface_dice(empty, one, (1.0, 1.0, 1.0)) == 0.0
