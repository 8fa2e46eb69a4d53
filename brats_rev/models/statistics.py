"""Parameter and FLOP counts of a built model."""

import math

import tensorflow as tf

# Transposed convolutions, for which TensorFlow's profiler has no FLOP statistics.
_TRANSPOSED_CONVOLUTIONS = ("Conv2DBackpropInput", "Conv3DBackpropInputV2")


def flops_by_op(model):
    """Floating-point operations of one forward pass, per op of the traced graph.

    Counted by TensorFlow's graph profiler (2 per multiply-add for convolutions and matrix
    products, plus the elementwise ops it has statistics for); transposed convolutions,
    which it does not count, are counted from their shapes: 2 x input voxels x kernel
    volume x input channels x output channels.

    Args:
        model: a functional keras.Model with one input of static shape (None, D, H, W, C).

    Returns:
        {op name in the graph of `model` traced on one input (batch 1): FLOPs (int)}, ops
        with a nonzero count only; names carry the layer names as scopes
        ("<model>/<layer>/<sublayer>/.../<op>", each part possibly with a "_<n>" suffix).
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
    counts = {}
    pending = [tf.compat.v1.profiler.profile(graph, options=options)]
    while pending:  # the tree of name scopes; each node's own count is its op's
        node = pending.pop()
        pending.extend(node.children)
        if node.float_ops:
            counts[node.name] = node.float_ops
    for op in graph.get_operations():
        if op.type in _TRANSPOSED_CONVOLUTIONS:
            kernel, inputs = op.inputs[1].shape, op.inputs[2].shape
            counts[op.name] = 2 * math.prod(inputs[:-1]) * math.prod(kernel)
    return counts


def forward_flops(model):
    """FLOPs of one forward pass on one input of the model's static shape: the sum of
    `flops_by_op` (int)."""
    return sum(flops_by_op(model).values())


def parameter_counts(model):
    """{top-level layer name: parameters} for layers that have weights, in model order."""
    return {layer.name: layer.count_params() for layer in model.layers if layer.weights}
