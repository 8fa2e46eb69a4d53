"""Dice per region (WT, TC, ET) on binary masks, in TensorFlow.

BraTS convention: a region empty in both the target and the prediction scores Dice 1, empty in
exactly one scores 0.
"""

import tensorflow as tf


def binary_dice(targets, predictions, axes=(1, 2, 3)):
    """Dice of binary masks per remaining axis.

    Args:
        targets: (B, X, Y, Z, R) masks (any dtype; nonzero is foreground).
        predictions: masks of the same shape.
        axes: the axes summed over (the spatial ones by default).

    Returns:
        float32 (B, R): 2 |T ∩ P| / (|T| + |P|), and 1 where both are empty.
    """
    targets = tf.cast(tf.cast(targets, tf.bool), tf.float32)
    predictions = tf.cast(tf.cast(predictions, tf.bool), tf.float32)
    overlap = tf.reduce_sum(targets * predictions, axis=axes)
    total = tf.reduce_sum(targets, axis=axes) + tf.reduce_sum(predictions, axis=axes)
    return tf.where(total > 0, 2.0 * overlap / tf.maximum(total, 1.0), 1.0)


def region_dice(targets, probabilities, threshold=0.5):
    """Dice per sample and region of thresholded probabilities.

    Args:
        targets: (B, X, Y, Z, R) region masks.
        probabilities: (B, X, Y, Z, R) sigmoid probabilities; a voxel is predicted in a
            region when its probability exceeds `threshold`.

    Returns:
        float32 (B, R).
    """
    return binary_dice(targets, tf.cast(probabilities, tf.float32) > threshold)
