"""The U-Net's transitions: the same function, gradients and weights in every mode, and only
their inputs stored for backprop outside "plain" mode."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers import Downsample, SegmentationHead, SkipMerge
from brats_rev.layers.recompute import recompute
from brats_rev.layers.reversible import MODES
from tests.layers.peaks import measured_peaks

COARSE, SKIP = (2, 2, 3, 2, 6), (2, 4, 6, 4, 4)


def _layers(name, dtype="float32"):
    """{mode: built layer} with identical, perturbed weights, and the layer's inputs."""
    make, inputs = {
        "down": (lambda mode: Downsample(6, mode=mode, dtype=dtype),
                 tf.random.stateless_normal(SKIP, seed=(1, 1))),
        "merge": (lambda mode: SkipMerge(4, mode=mode, dtype=dtype),
                  [tf.random.stateless_normal(COARSE, seed=(1, 2)),
                   tf.random.stateless_normal(SKIP, seed=(1, 3))]),
        "head": (lambda mode: SegmentationHead(3, norm_groups=2, activation="swish",
                                               mode=mode, dtype=dtype),
                 tf.random.stateless_normal(SKIP, seed=(1, 4)) * 3.0 + 1.0),
    }[name]
    layers = {mode: make(mode) for mode in MODES}
    for layer in layers.values():
        layer(inputs)
    weights = [w + 0.1 * np.cos(np.arange(w.size).reshape(w.shape) + i)
               for i, w in enumerate(layers["plain"].get_weights())]
    for layer in layers.values():
        layer.set_weights(weights)
    return layers, inputs


def _output_and_grads(layer, inputs):
    flat = inputs if isinstance(inputs, list) else [inputs]
    with tf.GradientTape() as tape:
        tape.watch(flat)
        y = tf.cast(layer(inputs), tf.float32)
        loss = tf.reduce_sum(tf.sin(y) * tf.range(y.shape[-1], dtype=tf.float32))
    return [y, *tape.gradient(loss, [*flat, *layer.trainable_variables])]


@pytest.mark.parametrize("name", ["down", "merge", "head"])
def test_recomputed_modes_match_plain_autodiff(name):
    layers, inputs = _layers(name)
    want = tf.function(lambda: _output_and_grads(layers["plain"], inputs))()
    assert len(want) == 1 + len(inputs if isinstance(inputs, list) else [inputs]) + len(
        layers["plain"].trainable_variables)
    for mode in ("reversible", "recompute"):
        got = tf.function(lambda mode=mode: _output_and_grads(layers[mode], inputs))()
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            scale = float(tf.reduce_max(tf.abs(a)))
            assert scale > 0, f"{name} tensor {i} is zero"
            assert float(tf.reduce_max(tf.abs(a - b))) / scale < 1e-6, f"{mode} tensor {i}"
    paths = {m: [(w.path.split("/", 1)[1], tuple(w.shape)) for w in layer.weights]
             for m, layer in layers.items()}
    assert paths["plain"] == paths["reversible"] == paths["recompute"]


@pytest.mark.slow
def test_mixed_precision_output_dtypes_and_gradients():
    layers, inputs = _layers("merge", "mixed_float16")
    assert layers["reversible"](inputs).dtype == tf.float16
    head, head_input = _layers("head", "mixed_float16")
    assert head["reversible"](head_input).dtype == tf.float32
    want = tf.function(lambda: _output_and_grads(head["plain"], head_input))()
    got = tf.function(lambda: _output_and_grads(head["reversible"], head_input))()
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_recompute_waits_for_the_incoming_gradient_and_gives_every_input_its_gradient():
    w = tf.Variable([[2.0, -1.0], [0.5, 3.0]])
    x = tf.constant([[1.0, 2.0], [3.0, -4.0]])
    s = tf.constant([[0.5, 1.5]])

    def function(inputs):
        a, b = inputs
        return tf.tanh(a @ w) * b

    @tf.function
    def grads(wrapped):
        with tf.GradientTape() as tape:
            tape.watch([x, s])
            y = wrapped([x, s])
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, s, w])

    want = grads(function)
    got = grads(lambda inputs: recompute(function, inputs))
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    graph = grads.get_concrete_function(lambda inputs: recompute(function, inputs)).graph
    assert sum(op.type == "Tanh" for op in graph.get_operations()) == 2  # forward + replay


_PEAK_SCRIPT = """
import json, sys
import tensorflow as tf
from brats_rev.layers import SkipMerge
tf.config.threading.set_inter_op_parallelism_threads(1)
peaks = {}
for mode in ("plain", "reversible"):
    layer = SkipMerge(32, mode=mode)
    coarse = tf.random.normal((1, 16, 16, 16, 64))
    skip = tf.random.normal((1, 32, 32, 32, 32))
    layer([coarse, skip])
    @tf.function
    def step(coarse, skip):
        with tf.GradientTape() as tape:
            tape.watch([coarse, skip])
            # Tiling makes the rest of the step the larger part (as the rest of a U-Net is).
            wide = tf.tile(layer([coarse, skip]), [1, 1, 1, 1, 8])
            loss = tf.reduce_sum(tf.square(wide))
        return tape.gradient(loss, [coarse, skip, *layer.trainable_variables])
    step(coarse, skip)
    tf.config.experimental.reset_memory_stats("CPU:0")
    base = tf.config.experimental.get_memory_info("CPU:0")["current"]
    step(coarse, skip)
    peaks[mode] = tf.config.experimental.get_memory_info("CPU:0")["peak"] - base
print("PEAKS", json.dumps(peaks))
"""


@pytest.mark.slow
def test_skip_merge_outside_plain_mode_does_not_store_its_activations():
    # 32³ voxels: a 32-channel float32 tensor is 4 MiB. Plain autodiff keeps the 64-channel
    # concatenation (8 MiB) for the projection's gradient while the rest of the step runs;
    # recomputed, it exists only during the layer's own backward pass.
    peaks = measured_peaks(_PEAK_SCRIPT)
    mib = 2**20
    assert peaks["plain"] - peaks["reversible"] >= 6 * mib, peaks
