"""Validation: Dice per case and region through the sliding window; the overlay image."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.training import case_validation, summaries


def test_overlay_tints_ground_truth_red_and_prediction_green():
    image = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    target = np.zeros((4, 4), bool)
    target[0, 0] = True  # the darkest voxel: grey 0
    prediction = np.zeros((4, 4), bool)
    prediction[3, 3] = True  # the brightest: grey 1 (above the 99th percentile)
    out = summaries.overlay(image, target, prediction)
    assert out.shape == (4, 8, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (128, 26, 26)  # 0.5 * 0 + 0.5 * (1, 0.2, 0.2)
    assert tuple(out[3, 4 + 3]) == (153, 255, 153)  # 0.5 * 1 + 0.5 * (0.2, 1, 0.2)
    assert tuple(out[3, 3]) == (255, 255, 255)  # not tinted in the ground-truth panel
    assert out[1, 1, 0] == out[1, 1, 1] == out[1, 1, 2] > 0


def test_validate_scores_each_case_and_region():
    regions = np.zeros((1, 6, 6, 4, 3), np.float32)
    regions[0, 1:4, 1:4, 1:3, 0] = 1  # WT: 18 voxels, TC and ET empty
    image = np.random.default_rng(0).normal(size=(1, 6, 6, 4, 4)).astype(np.float32)
    cases = tf.data.Dataset.from_tensors({"image": image, "regions": regions,
                                          "case_id": tf.constant(["case_a"])})

    def half_wt_predict(volume):
        # Predicts WT on the first 9 of the 18 tumour voxels (x rows 1..3, y 1..3, z 1),
        # nothing else.
        mask = np.zeros((6, 6, 4, 3), np.float32)
        mask[1:4, 1:4, 1, 0] = 1
        return tf.constant(mask) + 0 * tf.reduce_sum(volume)

    result = case_validation.validate(half_wt_predict, cases, ("WT", "TC", "ET"))
    np.testing.assert_allclose(result.dice["case_a"], [2 * 9 / 27, 1.0, 1.0], rtol=1e-6)
    assert result.region_dice == pytest.approx({"WT": 2 * 9 / 27, "TC": 1.0, "ET": 1.0})
    np.testing.assert_allclose(result.mean_dice, (2 / 3 + 2) / 3, rtol=1e-6)
    assert result.overlay.shape == (6, 12, 3)
