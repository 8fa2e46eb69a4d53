"""Parameter and FLOP counts of a built model."""

import math

import keras
import tensorflow as tf


def forward_flops(model):
    """Floating-point operations of one forward pass on one input of the model's static shape.

    Counted by TensorFlow's graph profiler (2 per multiply-add for convolutions and matrix
    products, plus the elementwise ops it has statistics for), with transposed convolutions
    added from their kernels because the profiler has no statistics for them.

    Args:
        model: a functional keras.Model with one input of static shape (None, D, H, W, C).

    Returns:
        int, FLOPs of the forward pass for batch 1.
    """
    shape = tuple(model.inputs[0].shape)
    if None in shape[1:]:
        raise ValueError(
            f"forward_flops needs a model built with a static input shape. Received: {shape}"
        )
    spec = tf.TensorSpec((1, *shape[1:]), tf.float32)
    graph = tf.function(lambda x: model(x)).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    counted = tf.compat.v1.profiler.profile(graph, options=options).total_float_ops
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv3DTranspose):
            # Each input voxel scatters kernel volume x out channels products per in channel.
            input_voxels = math.prod(layer.input.shape[1:4])
            counted += 2 * input_voxels * math.prod(layer.kernel.shape)
    return counted


def parameter_counts(model):
    """{top-level layer name: parameters} for layers that have weights, in model order."""
    return {layer.name: layer.count_params() for layer in model.layers if layer.weights}
