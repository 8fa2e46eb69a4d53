"""Dice per region on binary masks: BraTS conventions for empty masks, hand-computed values."""

import numpy as np
import pytest

from brats_rev import metrics


def masks(*voxel_lists, size=4):
    """(1, size, 1, 1, R) masks; region r has the voxels voxel_lists[r]."""
    out = np.zeros((1, size, 1, 1, len(voxel_lists)), np.float32)
    for region, voxels in enumerate(voxel_lists):
        out[0, list(voxels), 0, 0, region] = 1
    return out


@pytest.mark.parametrize("target,prediction,expected", [
    ((), (), 1.0),
    ((0,), (), 0.0),
    ((), (1,), 0.0),
    ((0, 1), (1, 2), 0.5),
    ((0, 1, 2), (0, 1, 2), 1.0),
    ((0,), (0, 1, 2, 3), 0.4),
])
def test_binary_dice_table(target, prediction, expected):
    dice = metrics.binary_dice(masks(target), masks(prediction))
    np.testing.assert_allclose(dice, [[expected]], rtol=1e-6)


def test_region_dice_thresholds_each_region():
    targets = masks((0, 1), (2,), ())
    probabilities = masks((0,), (2,), ()) * 0.9 + masks((1,), (), (3,)) * 0.5
    # Region 0: p > 0.5 only at voxel 0 -> 2 * 1 / 3; region 1 exact; region 2 both empty
    # (0.5 is not above the threshold).
    np.testing.assert_allclose(metrics.region_dice(targets, probabilities),
                               [[2 / 3, 1.0, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(metrics.region_dice(targets, probabilities, threshold=0.4),
                               [[1.0, 1.0, 0.0]], rtol=1e-6)
