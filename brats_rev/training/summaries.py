"""TensorBoard writers (`logs/train`, `logs/validation`), the overlay image, peak memory.

Only the chief writes; other workers get no-op writers.
"""

import os

import numpy as np
import tensorflow as tf

BFC_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


class Summaries:
    """Scalar and image summaries of the train and validation splits.

    Args:
        log_dir: `model_dir/logs`.
        enabled: write files (the chief); otherwise every call is a no-op.
    """

    def __init__(self, log_dir, enabled):
        self._writers = {
            split: tf.summary.create_file_writer(os.path.join(log_dir, split)) if enabled
            else tf.summary.create_noop_writer()
            for split in ("train", "validation")
        }

    def scalars(self, split, step, values):
        """Writes {name: float} at `step`."""
        with self._writers[split].as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)

    def image(self, split, step, name, image):
        """Writes one uint8 RGB image (H, W, 3)."""
        with self._writers[split].as_default(step=step):
            tf.summary.image(name, image[None])

    def flush(self):
        for writer in self._writers.values():
            writer.flush()


def overlay(image, target, prediction):
    """An axial slice of a case as two panels: ground truth | prediction, over the image.

    Args:
        image: (X, Y) float intensities of one modality.
        target: (X, Y) bool, the ground-truth region.
        prediction: (X, Y) bool, the predicted region.

    Returns:
        uint8 (X, 2 Y, 3): grey image, the region tinted red (ground truth) and green
        (prediction).
    """
    low, high = np.percentile(image, (1, 99))
    grey = np.clip((image - low) / max(high - low, 1e-6), 0, 1)
    panels = []
    for mask, colour in ((target, (1.0, 0.2, 0.2)), (prediction, (0.2, 1.0, 0.2))):
        rgb = np.repeat(grey[..., None], 3, axis=-1)
        rgb[mask] = 0.5 * rgb[mask] + 0.5 * np.asarray(colour)
        panels.append(rgb)
    return (np.concatenate(panels, axis=1) * 255).round().astype(np.uint8)


def memory_device():
    """The device whose allocator peak can be read: "GPU:0", or "CPU:0" when TensorFlow runs
    with TF_CPU_ALLOCATOR_USE_BFC=true; None otherwise (peak memory is then not logged)."""
    if tf.config.list_physical_devices("GPU"):
        return "GPU:0"
    if os.environ.get(BFC_VARIABLE, "").lower() == "true":
        return "CPU:0"
    return None


def read_peak_bytes(device):
    """The allocator's peak bytes on `device` since the last call, then resets the peak."""
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    tf.config.experimental.reset_memory_stats(device)
    return peak
