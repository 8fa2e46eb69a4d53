"""Sliding-window prediction over a whole volume with Gaussian importance weighting.

Written in TensorFlow ops so the same function runs eagerly and inside a `tf.function` whose
input has unknown spatial sizes (a serving signature). Windows are laid out per axis as in
nnU-Net: with `step = window * (1 - overlap)` the number of windows is
`ceil((size - window) / step) + 1`, spread evenly from 0 to `size - window` (the last window is
flush with the end, the effective step is at most `step`). A volume smaller than the window is
zero-padded symmetrically up to the window and the result cropped back.

Memory: besides the input, only one float32 accumulator of (X, Y, Z, K + 1) values (the
weighted sum of predictions and the sum of weights), the zero-padded window being added to it,
and one batch of windows are held. Windows are cut with `tf.slice` and added back by padding
them to the volume and adding (on CPU faster than `tf.gather_nd` + `tf.tensor_scatter_nd_add`);
the whole sliding window's overhead over the model calls is measured in docs/BENCHMARKS.md
("Inference").
"""

import numpy as np
import tensorflow as tf


def window_starts(size, window, overlap):
    """Start offsets of the windows along one axis (nnU-Net layout).

    Args:
        size: axis length in voxels (int or scalar int32 tensor), >= `window`.
        window: window length in voxels (int).
        overlap: fraction in [0, 1) of a window shared with its neighbour.

    Returns:
        int32 tensor (n,): 0 = first start < ... < last start = size - window, with
        n = ceil((size - window) / step) + 1 and step = max(1, floor(window * (1 - overlap))).
    """
    step = max(1, int(window * (1 - overlap)))
    span = tf.cast(size, tf.int32) - window
    count = (span + step - 1) // step + 1
    positions = tf.cast(tf.range(count), tf.float64)
    spacing = tf.cast(span, tf.float64) / tf.cast(tf.maximum(count - 1, 1), tf.float64)
    return tf.cast(tf.round(positions * spacing), tf.int32)


def gaussian_importance(window_size, sigma_scale=0.125):
    """Importance weights of one window: a Gaussian centred on the window, peak 1.

    Args:
        window_size: (wx, wy, wz) voxels.
        sigma_scale: standard deviation as a fraction of the window length, per axis.

    Returns:
        float32 numpy array (wx, wy, wz), maximum 1; values below the smallest positive
        float32 Gaussian value are raised to it, so every voxel has a positive weight.
    """
    if sigma_scale <= 0:
        raise ValueError(f"`sigma_scale` must be > 0. Received: sigma_scale={sigma_scale!r}")
    weights = np.ones((), np.float64)
    for length in window_size:
        centre, sigma = (length - 1) / 2, length * sigma_scale
        axis = np.exp(-0.5 * ((np.arange(length) - centre) / sigma) ** 2)
        weights = np.multiply.outer(weights, axis)
    weights = (weights / weights.max()).astype(np.float32)
    smallest = weights[weights > 0].min()
    return np.maximum(weights, smallest)


def _check_arguments(window_size, overlap, batch_size):
    if len(window_size) != 3 or any(int(w) < 1 for w in window_size):
        raise ValueError(f"`window_size` must be 3 positive ints. Received: {window_size!r}")
    if not 0 <= overlap < 1:
        raise ValueError(f"`overlap` must be in [0, 1). Received: overlap={overlap!r}")
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size!r}")


def _all_starts(shape, window_size, overlap):
    """int32 (n, 3): the start corner of every window of a volume of spatial `shape`."""
    per_axis = [window_starts(shape[a], window_size[a], overlap) for a in range(3)]
    grids = tf.meshgrid(*per_axis, indexing="ij")
    return tf.reshape(tf.stack(grids, axis=-1), (-1, 3))


def sliding_window_predict(predict_fn, image, window_size, overlap=0.5, batch_size=1,
                           sigma_scale=0.125):
    """Predicts a whole volume window by window and blends the windows.

    Args:
        predict_fn: maps float32 (N, wx, wy, wz, C) -> (N, wx, wy, wz, K) probabilities (any
            float dtype; cast to float32). N is at most `batch_size` and may vary.
        image: float32 tensor (X, Y, Z, C); X, Y, Z may be unknown when traced.
        window_size: (wx, wy, wz) ints, the model's input patch.
        overlap: fraction in [0, 1) of a window shared with its neighbour per axis.
        batch_size: windows per `predict_fn` call.
        sigma_scale: Gaussian importance standard deviation / window length.

    Returns:
        float32 tensor (X, Y, Z, K): per voxel, the importance-weighted mean of the
        predictions of the windows covering it (each voxel is covered at least once).
    """
    window_size = tuple(int(w) for w in window_size)
    _check_arguments(window_size, overlap, batch_size)
    image = tf.convert_to_tensor(image, tf.float32)
    channels = image.shape[-1]
    original = tf.shape(image)[:3]
    padded_shape = tf.maximum(original, window_size)
    before = (padded_shape - original) // 2
    paddings = tf.concat([tf.stack([before, padded_shape - original - before], axis=1),
                          tf.zeros((1, 2), tf.int32)], axis=0)
    padded = tf.pad(image, paddings)

    starts = _all_starts(padded_shape, window_size, overlap)
    count = tf.shape(starts)[0]
    importance = tf.constant(gaussian_importance(window_size, sigma_scale))[..., None]
    window_extent = tf.constant(window_size, tf.int32)

    def cut(start):
        return tf.slice(padded, tf.concat([start, [0]], axis=0),
                        tf.concat([window_extent, [-1]], axis=0))

    def predict_batch(first):
        """(starts (n, 3), importance-weighted predictions + weights (n, wx, wy, wz, K + 1))."""
        batch_starts = starts[first:tf.minimum(first + batch_size, count)]
        windows = tf.map_fn(cut, batch_starts, fn_output_signature=tf.TensorSpec(
            window_size + (channels,), tf.float32))
        probabilities = tf.cast(predict_fn(windows), tf.float32)
        weights = tf.broadcast_to(importance, tf.shape(probabilities[..., :1]))
        return batch_starts, tf.concat([probabilities * importance, weights], axis=-1)

    def add_batch(accumulator, batch_starts, weighted):
        """Adds each window of `weighted` into `accumulator` at its start (pad, then add)."""
        accumulator_shape = tf.shape(accumulator)

        def add_one(k, accumulator):
            corner = tf.concat([batch_starts[k], [0]], axis=0)
            after = accumulator_shape - corner - tf.shape(weighted)[1:]
            return k + 1, accumulator + tf.pad(weighted[k], tf.stack([corner, after], axis=1))

        _, accumulator = tf.while_loop(lambda k, _: k < tf.shape(batch_starts)[0], add_one,
                                       (tf.constant(0), accumulator))
        return accumulator

    # The first batch fixes K (the number of output channels) for the accumulator.
    batch_starts, weighted = predict_batch(0)
    accumulator = add_batch(
        tf.zeros(tf.concat([padded_shape, tf.shape(weighted)[-1:]], axis=0), tf.float32),
        batch_starts, weighted)

    def body(first, accumulator):
        return first + batch_size, add_batch(accumulator, *predict_batch(first))

    _, accumulator = tf.while_loop(lambda first, _: first < count, body,
                                   (tf.constant(batch_size, tf.int32), accumulator))
    blended = accumulator[..., :-1] / accumulator[..., -1:]
    return tf.slice(blended, tf.concat([before, [0]], axis=0),
                    tf.concat([original, [-1]], axis=0))
