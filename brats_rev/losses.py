"""Region loss: soft Dice + binary cross-entropy per region (WT, TC, ET), deep supervision.

Everything is computed in float32 whatever the model's dtype policy, so the loss is the same
under mixed precision. Losses are per sample, shape (B,): a distributed training loop sums
them over its replica's samples and divides by the global batch size.
"""

import keras
import tensorflow as tf

SPATIAL_AXES = (1, 2, 3)


def soft_dice(targets, probabilities, smooth=1.0):
    """Soft Dice per sample and region.

    Args:
        targets: (B, X, Y, Z, R) region masks in [0, 1].
        probabilities: (B, X, Y, Z, R) predicted probabilities.
        smooth: added to numerator and denominator: a region empty in both scores 1, and
            an empty target with a little predicted mass scores close to 1.

    Returns:
        float32 (B, R): (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth).
    """
    targets = tf.cast(targets, tf.float32)
    probabilities = tf.cast(probabilities, tf.float32)
    overlap = tf.reduce_sum(targets * probabilities, axis=SPATIAL_AXES)
    total = tf.reduce_sum(targets, axis=SPATIAL_AXES) + tf.reduce_sum(probabilities,
                                                                      axis=SPATIAL_AXES)
    return (2.0 * overlap + smooth) / (total + smooth)


@keras.saving.register_keras_serializable(package="brats_rev")
class RegionDiceBCE(keras.losses.Loss):
    """Per sample: mean over regions of BCE (mean over voxels) + mean over regions of
    (1 - soft Dice).

    `y_true` (B, X, Y, Z, R) region masks, `y_pred` (B, X, Y, Z, R) logits (sigmoid, not
    softmax). With `reduction=None` the call returns the per-sample losses (B,).

    Args:
        smooth: soft Dice smoothing (see `soft_dice`).
    """

    def __init__(self, smooth=1.0, name="region_dice_bce", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not smooth > 0:
            raise ValueError(f"`smooth` must be > 0. Received: smooth={smooth!r}")
        self.smooth = smooth

    def call(self, y_true, y_pred):
        logits = tf.cast(y_pred, tf.float32)
        targets = tf.cast(y_true, tf.float32)
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
        bce = tf.reduce_mean(cross_entropy, axis=(1, 2, 3, 4))
        dice = soft_dice(targets, tf.sigmoid(logits), self.smooth)
        return bce + tf.reduce_mean(1.0 - dice, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


def output_key(level):
    """The model output holding logits at 1 / 2**level resolution."""
    return "logits" if level == 0 else f"logits_level_{level}"


def output_weights(num_outputs, weights=None):
    """Loss weight per model output, full resolution first, normalised to sum 1.

    Args:
        num_outputs: 1 + the number of deep-supervision outputs.
        weights: one non-negative weight per output, or None for 1, 1/2, 1/4, ...

    Returns:
        tuple of `num_outputs` floats summing to 1.
    """
    weights = tuple(0.5 ** level for level in range(num_outputs)) if weights is None else (
        tuple(weights))
    if len(weights) != num_outputs:
        raise ValueError(f"Need one deep-supervision weight per model output ({num_outputs}). "
                         f"Received: {list(weights)}")
    return tuple(w / sum(weights) for w in weights)


def downsample_targets(targets, level):
    """Region masks (B, X, Y, Z, R) averaged over 2**level cubes: soft targets at the
    resolution of `output_key(level)`."""
    if level == 0:
        return targets
    factor = 2 ** level
    return tf.nn.avg_pool3d(tf.cast(targets, tf.float32), factor, factor, "VALID")


def supervised_loss(loss, targets, outputs, weights):
    """Weighted sum over the model's outputs of `loss` against resampled targets.

    Args:
        loss: a per-sample loss (`RegionDiceBCE(reduction=None)`).
        targets: (B, X, Y, Z, R) region masks at full resolution.
        outputs: the model's output dict ("logits", "logits_level_<i>", ...).
        weights: `output_weights(...)`, one per output, full resolution first.

    Returns:
        float32 (B,) per-sample loss.
    """
    return tf.add_n([weight * loss(downsample_targets(targets, level), outputs[output_key(level)])
                     for level, weight in enumerate(weights)])
