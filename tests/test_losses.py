"""Region loss against values computed by hand on tiny tensors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from brats_rev import losses


def volume(values):
    """(1, n, 1, 1, 1) float32 from a list of n values (one region)."""
    return tf.constant(np.asarray(values, np.float32).reshape(1, -1, 1, 1, 1))


@pytest.mark.parametrize("targets,probabilities,smooth,expected", [
    ([1, 1, 0, 0], [0.5, 1.0, 0.5, 0.0], 1.0, (2 * 1.5 + 1) / (2 + 2 + 1)),
    ([1, 1, 0, 0], [0.5, 1.0, 0.5, 0.0], 1e-5, (3 + 1e-5) / (4 + 1e-5)),
    ([0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0], 1.0, 1.0),
    ([0, 0, 0, 0], [1.0, 0.0, 0.0, 0.0], 1.0, 0.5),
    ([1, 0, 0, 0], [0.0, 1.0, 0.0, 0.0], 1.0, 1 / 3),
])
def test_soft_dice_table(targets, probabilities, smooth, expected):
    dice = losses.soft_dice(volume(targets), volume(probabilities), smooth)
    np.testing.assert_allclose(dice.numpy(), [[expected]], rtol=1e-6)


def test_region_loss_is_bce_plus_one_minus_dice():
    # Logits 0 -> p = 0.5 everywhere: BCE = ln 2 per voxel; Dice = (2*0.5 + 1) / (1 + 1 + 1).
    loss = losses.RegionDiceBCE(reduction=None)(volume([1, 0]), volume([0.0, 0.0]))
    np.testing.assert_allclose(loss.numpy(), [math.log(2) + 1 / 3], rtol=1e-6)
    # A confident, correct prediction: BCE = ln(1 + e^-10) per voxel, Dice = (2p + 1)/(p + 2).
    p = 1 / (1 + math.exp(-10))
    loss = losses.RegionDiceBCE(reduction=None)(volume([1, 0]), volume([10.0, -10.0]))
    expected = math.log1p(math.exp(-10)) + 1 - (2 * p + 1) / (p + (1 - p) + 1 + 1)
    np.testing.assert_allclose(loss.numpy(), [expected], rtol=0, atol=1e-7)


def test_regions_are_averaged_and_samples_kept_apart():
    targets = np.zeros((2, 2, 1, 1, 2), np.float32)
    targets[0, 0, 0, 0, 0] = 1  # sample 0 has region 0 in voxel 0; everything else empty
    logits = np.zeros_like(targets)
    loss = losses.RegionDiceBCE(reduction=None)(targets, logits).numpy()
    dice_sample0 = ((2 * 0.5 + 1) / (1 + 1 + 1) + (0 + 1) / (1 + 0 + 1)) / 2
    np.testing.assert_allclose(loss, [math.log(2) + 1 - dice_sample0, math.log(2) + 0.5],
                               rtol=1e-6)
    mean = losses.RegionDiceBCE()(targets, logits)
    np.testing.assert_allclose(float(mean), loss.mean(), rtol=1e-6)


def test_float16_logits_give_the_float32_loss():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 4, 4, 3)).astype(np.float16)
    targets = (rng.random((2, 4, 4, 4, 3)) > 0.5).astype(np.float32)
    loss = losses.RegionDiceBCE(reduction=None)(targets, tf.constant(logits))
    reference = losses.RegionDiceBCE(reduction=None)(targets, logits.astype(np.float32))
    assert loss.dtype == tf.float32
    np.testing.assert_allclose(loss.numpy(), reference.numpy(), rtol=1e-6)


def test_output_weights():
    assert losses.output_weights(1) == (1.0,)
    np.testing.assert_allclose(losses.output_weights(3), (4 / 7, 2 / 7, 1 / 7))
    np.testing.assert_allclose(losses.output_weights(2, (3.0, 1.0)), (0.75, 0.25))
    with pytest.raises(ValueError, match="one deep-supervision weight per model output"):
        losses.output_weights(3, (1.0, 1.0))


def test_deep_supervision_averages_targets_to_each_level():
    targets = np.zeros((1, 4, 4, 4, 1), np.float32)
    targets[0, :2, :2, :2] = 1  # one of the eight 2-cubes is all tumour
    outputs = {"logits": tf.zeros((1, 4, 4, 4, 1)), "logits_level_1": tf.zeros((1, 2, 2, 2, 1))}
    region_loss = losses.RegionDiceBCE(reduction=None)
    total = losses.supervised_loss(region_loss, targets, outputs, (0.75, 0.25))
    coarse = np.zeros((1, 2, 2, 2, 1), np.float32)
    coarse[0, 0, 0, 0] = 1
    expected = (0.75 * region_loss(targets, outputs["logits"])
                + 0.25 * region_loss(coarse, outputs["logits_level_1"]))
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-6)
    # Full resolution: 8 of 64 voxels; p = 0.5 -> Dice (8 + 1) / (32 + 8 + 1).
    np.testing.assert_allclose(region_loss(targets, outputs["logits"]).numpy(),
                               [math.log(2) + 1 - 9 / 41], rtol=1e-6)


def test_loss_config_round_trip():
    loss = losses.RegionDiceBCE(smooth=0.5)
    assert losses.RegionDiceBCE.from_config(loss.get_config()).smooth == 0.5
    with pytest.raises(ValueError, match="smooth"):
        losses.RegionDiceBCE(smooth=0)
