"""DepthwiseConv3D: both implementations against a NumPy reference and against each other."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers import DepthwiseConv3D
from brats_rev.layers.depthwise import conv_output_length, resolve_implementation
from tests.layers.reference import depthwise_conv3d

CASES = [
    # (input shape N, D, H, W, C), kernel, stride, padding
    ((2, 7, 9, 6, 3), 3, 1, "same"),
    ((3, 4, 5, 6, 2), 3, 1, "same"),  # planes straddling cases in the ordered gradient
    ((2, 7, 9, 6, 3), 3, 2, "same"),
    ((1, 8, 8, 8, 4), 3, 2, "valid"),
    ((1, 5, 6, 7, 2), 3, 1, "valid"),
    ((1, 6, 5, 9, 2), 5, 1, "same"),
    ((1, 4, 4, 4, 2), 1, 2, "same"),
]


def _layer(implementation, shape, kernel, stride, padding, weights=None):
    layer = DepthwiseConv3D(kernel, stride, padding, implementation=implementation)
    layer.build(shape)
    if weights is not None:
        layer.set_weights(weights)
    return layer


@pytest.mark.parametrize("implementation", ["decomposed", "grouped"])
@pytest.mark.parametrize("shape,kernel,stride,padding", CASES)
def test_matches_numpy_reference(implementation, shape, kernel, stride, padding):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    weights = [
        rng.normal(size=(kernel, kernel, kernel, shape[-1], 1)).astype("float32"),
        rng.normal(size=(shape[-1],)).astype("float32"),
    ]
    layer = _layer(implementation, shape, kernel, stride, padding, weights)
    got = layer(x).numpy()
    want = depthwise_conv3d(x.astype("float64"), weights[0], weights[1], stride, padding)
    assert got.shape == want.shape
    assert layer.compute_output_shape(shape) == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,kernel,stride,padding", CASES)
def test_gradients_agree_between_implementations(shape, kernel, stride, padding):
    x = tf.random.stateless_normal(shape, seed=(3, 4))
    decomposed = _layer("decomposed", shape, kernel, stride, padding)
    grouped = _layer("grouped", shape, kernel, stride, padding, decomposed.get_weights())
    upstream = None
    grads = []
    for layer in (decomposed, grouped):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            if upstream is None:
                upstream = tf.random.stateless_normal(y.shape, seed=(5, 6))
            loss = tf.reduce_sum(y * upstream)
        grads.append(tape.gradient(loss, [x, *layer.trainable_variables]))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    assert float(tf.reduce_max(tf.abs(grads[0][1]))) > 0


@pytest.mark.parametrize("stride,padding,ordered", [(1, "same", True), (2, "same", False),
                                                    (1, "valid", False)])
def test_unit_stride_same_gradient_is_the_flipped_convolution(stride, padding, ordered):
    # The ordered gradient back-propagates no tap on its own: the input gradient is a forward
    # convolution of the output gradient, so the graph has no depthwise input back-propagation.
    layer = _layer("decomposed", (1, 6, 6, 6, 2), 3, stride, padding)

    @tf.function
    def grads(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        return tape.gradient(loss, [x, layer.kernel])

    graph = grads.get_concrete_function(tf.TensorSpec((1, 6, 6, 6, 2))).graph
    op_types = {op.type for op in graph.get_operations()}
    assert ("DepthwiseConv2dNativeBackpropInput" not in op_types) == ordered


def test_without_bias_has_only_a_kernel():
    layer = DepthwiseConv3D(3, use_bias=False, implementation="decomposed")
    layer.build((1, 4, 4, 4, 5))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 3, 3, 5, 1)]


def test_auto_resolves_to_decomposed_without_gpu():
    assert not tf.config.list_physical_devices("GPU")
    assert resolve_implementation("auto") == "decomposed"
    assert resolve_implementation("grouped") == "grouped"


@pytest.mark.parametrize(
    "length,kernel,stride,padding,expected",
    [(7, 3, 2, "same", 4), (8, 3, 2, "same", 4), (8, 3, 2, "valid", 3), (5, 3, 1, "valid", 3)],
)
def test_output_length(length, kernel, stride, padding, expected):
    assert conv_output_length(length, kernel, stride, padding) == expected


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"implementation": "cudnn"}, "implementation='cudnn'"),
        ({"strides": 3}, "strides=3"),
        ({"padding": "causal"}, "padding='causal'"),
        ({"kernel_size": 0}, "kernel_size=0"),
    ],
)
def test_bad_arguments_say_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match="Received") as error:
        DepthwiseConv3D(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize("stride,padding", [(1, "same"), (2, "same"), (2, "valid")])
def test_decomposed_handles_dynamic_spatial_sizes(stride, padding):
    layer = _layer("decomposed", (None, None, None, None, 3), 3, stride, padding)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, None, 3))])
    kernel, bias = (w.numpy() for w in layer.weights)
    for shape in [(2, 7, 9, 6, 3), (1, 8, 5, 5, 3)]:
        x = np.random.default_rng(2).normal(size=shape).astype("float32")
        want = depthwise_conv3d(x.astype("float64"), kernel, bias, stride, padding)
        np.testing.assert_allclose(traced(x).numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride,padding", [(1, "same"), (2, "same"), (2, "valid")])
def test_decomposed_gradients_with_dynamic_spatial_sizes(stride, padding):
    shape = (2, 7, 9, 6, 3)
    decomposed = _layer("decomposed", (None, None, None, None, 3), 3, stride, padding)
    grouped = _layer("grouped", shape, 3, stride, padding, decomposed.get_weights())
    x = tf.random.stateless_normal(shape, seed=(7, 8))

    def gradients(layer, inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.sin(layer(inputs)))
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    traced = tf.function(
        lambda inputs: gradients(decomposed, inputs),
        input_signature=[tf.TensorSpec((None, None, None, None, 3))],
    )
    for got, want in zip(traced(x), gradients(grouped, x), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
