"""Pointwise: the values, gradients and weights of `keras.layers.Dense`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers.pointwise import Pointwise
from tests.layers.peaks import measured_peaks


def _pair(shape, units, **kwargs):
    pointwise, dense = Pointwise(units, **kwargs), keras.layers.Dense(units, **kwargs)
    pointwise.build(shape)
    dense.build(shape)
    weights = [w + 0.1 * np.sin(np.arange(w.size).reshape(w.shape) + 1.0)
               for w in dense.get_weights()]
    pointwise.set_weights(weights)
    dense.set_weights(weights)
    return pointwise, dense


def _output_and_grads(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cos(y) * tf.cast(tf.range(y.shape[-1]), y.dtype))
    return [y, *tape.gradient(loss, [x, *layer.trainable_variables])]


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 6), (3, 4, 5, 6), (4, 6)])
@pytest.mark.parametrize("kwargs", [{}, {"use_bias": False, "activation": "swish"}])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_matches_dense(shape, kwargs, dtype):
    pointwise, dense = _pair(shape, 7, dtype=dtype, **kwargs)
    x = tf.random.stateless_normal(shape, seed=(1, 2), dtype=dtype)
    want = _output_and_grads(dense, x)
    got = tf.function(lambda: _output_and_grads(pointwise, x))()
    assert len(got) == len(want) == 2 + len(dense.trainable_variables)
    tolerance = 1e-5 if dtype == "float32" else 2e-2
    for a, b in zip(want, got, strict=True):
        assert b.dtype == dtype
        assert float(tf.reduce_max(tf.abs(a))) > 0
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=tolerance, atol=tolerance)
    assert [w.path.split("/")[-1] for w in pointwise.weights] == [
        w.path.split("/")[-1] for w in dense.weights]


def test_mixed_precision_computes_in_float16():
    pointwise, dense = _pair((1, 4, 4, 4, 8), 16, dtype="mixed_float16")
    x = tf.random.stateless_normal((1, 4, 4, 4, 8), seed=(3, 4))
    got, want = pointwise(x), dense(x)
    assert got.dtype == tf.float16
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-3, atol=2e-3)


_PEAK_SCRIPT = """
import json
import keras
import tensorflow as tf
from brats_rev.layers.pointwise import Pointwise
peaks = {}
for c_in, c_out in ((16, 64), (64, 16)):
    x = tf.random.normal((1, 64, 64, 64, c_in), dtype=tf.float16)
    upstream = tf.random.normal((1, 64, 64, 64, c_out), dtype=tf.float16)
    for layer in (Pointwise(c_out, dtype="float16"), keras.layers.Dense(c_out, dtype="float16")):
        layer.build(x.shape)
        step = tf.function(lambda x, layer=layer: tf.gradients(
            layer(x), [x, *layer.trainable_variables], grad_ys=upstream))
        step(x)
        tf.config.experimental.reset_memory_stats("CPU:0")
        base = tf.config.experimental.get_memory_info("CPU:0")["current"]
        step(x)
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - base
        peaks[f"{type(layer).__name__} {c_in}->{c_out}"] = peak
print("PEAKS", json.dumps(peaks))
"""


@pytest.mark.slow
def test_float16_step_has_no_float32_scratch():
    # 64³ voxels x 64 channels: 32 MiB in float16. The step's peak is the float16 gradient of
    # its input and nothing more: a float32 copy of either side (which a CPU matrix product
    # makes on processors without float16 arithmetic, e.g. Dense on AMD EPYC) would add
    # 32-64 MiB. Dense's peaks are measured alongside for the failure message: on processors with
    # AVX512-FP16 it needs no copy either.
    peaks = measured_peaks(_PEAK_SCRIPT)
    for c_in, c_out in ((16, 64), (64, 16)):
        input_gradient = 64**3 * c_in * 2
        assert peaks[f"Pointwise {c_in}->{c_out}"] <= 1.05 * input_gradient + 2**20, peaks
