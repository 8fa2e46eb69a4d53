"""Validation on whole cases: sliding-window prediction, Dice per region, an overlay slice.

Runs in the cross-replica context on every worker (no collective ops), so all workers of a
multi-worker job reach the same result and the same best-checkpoint decision.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from brats_rev import metrics
from brats_rev.inference.sliding_window import sliding_window_predict
from brats_rev.training import summaries


def make_predictor(model, window_size, overlap, batch_size):
    """tf.function: image (X, Y, Z, C) float32 -> region probabilities (X, Y, Z, R).

    Args:
        model: the U-Net; its "logits" output is used.
        window_size: (wx, wy, wz), the training patch.
        overlap: sliding-window overlap fraction.
        batch_size: windows per forward pass.
    """
    def predict_windows(windows):
        return tf.sigmoid(tf.cast(model(windows, training=False)["logits"], tf.float32))

    channels = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, channels), tf.float32)])
    def predict(image):
        return sliding_window_predict(predict_windows, image, window_size, overlap, batch_size)

    return predict


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """dice: {case_id: float (R,)}; overlay: uint8 RGB image of the first case (or None);
    regions: the R region names (the task's, brats_rev.tasks)."""

    dice: dict
    overlay: np.ndarray | None
    regions: tuple

    @property
    def region_dice(self):
        """Mean Dice over cases per region, {region: float}."""
        mean = np.mean(list(self.dice.values()), axis=0)
        return dict(zip(self.regions, map(float, mean), strict=True))

    @property
    def mean_dice(self):
        """Mean over regions of the per-region mean Dice."""
        return float(np.mean(list(self.region_dice.values())))


def _axial_overlay(image, targets, probabilities):
    """The overlay (see summaries.overlay) of the axial slice with the most whole tumour,
    FLAIR channel, whole-tumour region (region 0 of every task)."""
    slice_index = int(np.argmax(targets[..., 0].sum(axis=(0, 1))))
    return summaries.overlay(image[:, :, slice_index, 0], targets[:, :, slice_index, 0] > 0,
                             probabilities[:, :, slice_index, 0] > 0.5)


def validate(predict, dataset, regions):
    """Dice per case and region of `predict` on `dataset`.

    Args:
        predict: from `make_predictor`.
        dataset: `build_dataset(..., "validation", ...)`: dicts with "image" (1, X, Y, Z, C),
            "regions" (1, X, Y, Z, R) and "case_id" (1,).
        regions: the R region names, in order (`Task.region_names`).

    Returns:
        ValidationResult.
    """
    dice, overlay = {}, None
    for case in dataset:
        probabilities = predict(case["image"][0])
        case_id = case["case_id"][0].numpy().decode()
        dice[case_id] = metrics.region_dice(case["regions"], probabilities[None])[0].numpy()
        if overlay is None:
            overlay = _axial_overlay(case["image"][0].numpy(), case["regions"][0].numpy(),
                                     probabilities.numpy())
    return ValidationResult(dice, overlay, tuple(regions))
