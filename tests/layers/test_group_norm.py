"""GroupNormalization: the group statistics exactly, in float32 and mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers import GroupNormalization


def _reference(x, groups, gamma, beta, epsilon):
    """Group normalisation in float64 numpy: x (B, ..., C)."""
    x = np.asarray(x, np.float64)
    grouped = x.reshape(x.shape[0], -1, groups, x.shape[-1] // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    variance = grouped.var(axis=(1, 3), keepdims=True)
    return ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape) * gamma + beta


def _layer(groups, channels, shape, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    layer = GroupNormalization(groups, epsilon=1e-5, **kwargs)
    layer.build(shape)
    weights = [rng.uniform(0.5, 1.5, channels).astype("float32"),
               rng.normal(size=channels).astype("float32")]
    layer.set_weights(weights)
    return layer, weights


@pytest.mark.parametrize("shape, groups", [
    ((2, 6, 5, 4, 8), 4),    # 3D volumes, two cases with their own statistics
    ((1, 7, 9, 6), 3),       # 2D, 3 groups of 2
    ((3, 10, 4), -1),        # one group per channel (instance normalisation)
    ((1, 4, 4, 4, 6), 1),    # layer normalisation
])
def test_equals_the_float64_definition(shape, groups):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=shape) * rng.uniform(0.5, 4, shape[-1]) + 3).astype(np.float32)
    layer, (gamma, beta) = _layer(groups, shape[-1], shape)
    expected = _reference(x, shape[-1] if groups == -1 else groups, gamma, beta, 1e-5)
    np.testing.assert_allclose(layer(x), expected, rtol=0, atol=2e-5)


def test_a_large_mean_does_not_cancel_the_variance():
    # E[x²] - E[x]² in float32 loses the variance of values 1000 +- 1 over many voxels.
    x = (1000 + np.random.default_rng(2).normal(size=(1, 32, 32, 32, 4))).astype(np.float32)
    layer, (gamma, beta) = _layer(2, 4, x.shape)
    np.testing.assert_allclose(tf.function(layer)(x), _reference(x, 2, gamma, beta, 1e-5),
                               rtol=0, atol=2e-3)


def test_mixed_precision_keeps_float32_statistics():
    x = np.random.default_rng(3).normal(5, 2, (1, 8, 8, 8, 8)).astype(np.float32)
    layer, (gamma, beta) = _layer(4, 8, x.shape, dtype="mixed_float16")
    y = layer(tf.cast(x, tf.float16))
    assert y.dtype == tf.float16
    np.testing.assert_allclose(tf.cast(y, tf.float32), _reference(x, 4, gamma, beta, 1e-5),
                               rtol=0, atol=1e-2)


def test_gradients_equal_those_of_the_keras_layer():
    x = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 6, 4, 8)), tf.float32)
    ours, weights = _layer(4, 8, x.shape)
    keras_layer = keras.layers.GroupNormalization(4, epsilon=1e-5)
    keras_layer.build(x.shape)
    keras_layer.set_weights(weights)
    upstream = tf.constant(np.random.default_rng(5).normal(size=x.shape), tf.float32)
    gradients = []
    for layer in (ours, keras_layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * upstream)
        gradients.append(tape.gradient(loss, [x, *layer.trainable_weights]))
    for mine, theirs in zip(*gradients, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


def test_saves_and_loads_in_a_keras_file(tmp_path):
    inputs = keras.Input((None, None, None, 6))
    model = keras.Model(inputs, GroupNormalization(3, name="norm")(inputs))
    model.layers[-1].set_weights([np.full(6, 2.0, np.float32), np.arange(6, dtype=np.float32)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(6).normal(size=(1, 4, 5, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert isinstance(loaded.layers[-1], GroupNormalization)
    assert loaded.layers[-1].groups == 3


def test_rejects_another_axis():
    with pytest.raises(ValueError, match="`axis` must be -1"):
        GroupNormalization(2, axis=1)
