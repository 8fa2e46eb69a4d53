"""Sliding-window prediction: window layout, importance weights, exact blending, graph mode."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.inference.sliding_window import (
    gaussian_importance,
    sliding_window_predict,
    window_starts,
)


@pytest.mark.parametrize(
    "size, window, overlap, expected",
    [
        (8, 8, 0.5, [0]),
        (10, 8, 0.5, [0, 2]),
        (16, 8, 0.5, [0, 4, 8]),
        (17, 8, 0.5, [0, 3, 6, 9]),  # ceil(9 / 4) + 1 = 4 windows over a span of 9
        (16, 8, 0.0, [0, 8]),
        (17, 8, 0.0, [0, 4, 9]),
        (20, 8, 0.75, [0, 2, 4, 6, 8, 10, 12]),
        (9, 4, 0.99, [0, 1, 2, 3, 4, 5]),  # step never below one voxel
    ],
)
def test_window_starts(size, window, overlap, expected):
    np.testing.assert_array_equal(window_starts(size, window, overlap).numpy(), expected)


def test_gaussian_importance_peak_centre_and_symmetry():
    weights = gaussian_importance((8, 6, 5), sigma_scale=0.125)
    assert weights.dtype == np.float32
    assert weights.max() == 1.0
    assert weights.min() > 0
    np.testing.assert_array_equal(weights, weights[::-1, ::-1, ::-1])  # symmetric
    # Odd axis: the centre voxel is the peak; its neighbours are exp(-0.5 / (5 / 8) ** 2) lower.
    np.testing.assert_allclose(weights[3, 2, 1] / weights[3, 2, 2],
                               np.exp(-0.5 / (5 * 0.125) ** 2), rtol=1e-6)


def test_gaussian_importance_rejects_bad_sigma():
    with pytest.raises(ValueError, match="Received: sigma_scale=0"):
        gaussian_importance((4, 4, 4), sigma_scale=0)


def _affine_model(windows):
    """A known voxelwise function with two outputs: (2x + 1, -x) of the first channel."""
    first = windows[..., :1]
    return tf.concat([2 * first + 1, -first], axis=-1)


def _volume(shape, channels=2, seed=0):
    return np.random.default_rng(seed).normal(size=tuple(shape) + (channels,)).astype(np.float32)


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.8])
@pytest.mark.parametrize("shape", [(13, 9, 7), (8, 8, 8), (5, 11, 3)])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_known_function_reproduced(overlap, shape, batch_size):
    image = _volume(shape)
    result = sliding_window_predict(_affine_model, image, (8, 6, 4), overlap=overlap,
                                    batch_size=batch_size).numpy()
    expected = np.concatenate([2 * image[..., :1] + 1, -image[..., :1]], axis=-1)
    assert result.shape == shape + (2,)
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6)


def test_every_voxel_covered_and_weights_blended():
    """A model predicting constant 1 gives exactly 1 everywhere (no voxel left at 0/0)."""
    ones = sliding_window_predict(lambda w: tf.ones_like(w[..., :1]), _volume((21, 10, 9)),
                                  (8, 8, 4), overlap=0.3, batch_size=2).numpy()
    np.testing.assert_allclose(ones, 1.0, rtol=1e-6)


def test_position_dependent_model_is_blended_by_importance():
    """A model that outputs the in-window offset: the result is the importance-weighted mean."""
    window, size, overlap = (4, 1, 1), (6, 1, 1), 0.5
    offsets = tf.range(4, dtype=tf.float32)[None, :, None, None, None]
    result = sliding_window_predict(lambda w: tf.broadcast_to(offsets, tf.shape(w[..., :1])),
                                    np.zeros(size + (1,), np.float32), window, overlap).numpy()
    # Windows start at 0 and 2; voxel 2 is offset 2 in the first and 0 in the second.
    g = gaussian_importance(window)[:, 0, 0]
    expected = [0, 1, (2 * g[2] + 0 * g[0]) / (g[2] + g[0]),
                (3 * g[3] + 1 * g[1]) / (g[3] + g[1]), 2, 3]
    np.testing.assert_allclose(result[:, 0, 0, 0], expected, rtol=1e-6)


def test_graph_mode_with_unknown_spatial_sizes():
    calls = []

    def model(windows):
        calls.append(windows.shape)
        return _affine_model(windows)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)])
    def segment(image):
        return sliding_window_predict(model, image, (8, 6, 4), overlap=0.5, batch_size=2)

    for shape in [(13, 9, 7), (4, 20, 5)]:
        image = _volume(shape, seed=1)
        expected = np.concatenate([2 * image[..., :1] + 1, -image[..., :1]], axis=-1)
        np.testing.assert_allclose(segment(image).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert segment.experimental_get_tracing_count() == 1
    assert calls and all(shape[1:] == (8, 6, 4, 2) for shape in calls)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"overlap": 1.0}, "Received: overlap=1.0"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"window_size": (8, 8)}, "window_size"),
    ],
)
def test_rejects_bad_arguments(arguments, message):
    kwargs = {"window_size": (8, 8, 8), **arguments}
    with pytest.raises(ValueError, match=message):
        sliding_window_predict(_affine_model, _volume((8, 8, 8)), **kwargs)
