"""Reversible stage: a chain of additive couplings whose backward pass recomputes activations.

Three modes compute the same function with the same weights:

* "plain": ordinary autodiff; every block's activations are stored for backprop.
* "recompute": `tf.recompute_grad` per block; stores each block's input, recomputes inside.
* "reversible": one `tf.custom_gradient` over the whole stage. Only the stage output is
  kept; the backward pass walks the blocks from last to first, reconstructing each block's
  input from its output (the coupling inverse) while it recomputes F and G for their vector-
  Jacobian products, so F and G each run once in the forward and once in the backward pass.

Two facts decide whether "reversible" saves memory (docs/ARCHITECTURE.md, "Facts", 2 and 4):

1. In a graph, the reconstructions of all block inputs only depend on the stage output, so
   the executor is free to run them all before any gradient and keep every block's
   recomputed activations alive at once. Each block's backward step is therefore made to
   depend on the previous (later) block's gradients with `tf.control_dependencies` (the
   last block on the incoming gradient), and within a block F's recomputation waits for G's
   gradients; then one MBConv's recomputation is alive at a time and the peak grows neither
   with the block count nor with the number of stages in a network.
2. The `variables` that `tf.custom_gradient` hands to the gradient function are the inner
   `tf.Variable`s of the Keras variables. Weight gradients are taken directly with respect to
   that list, so no mapping between Keras and TensorFlow variables is needed.

The layers are Keras 3 layers that also call TensorFlow directly where Keras has no
equivalent: here `tf.custom_gradient`, elsewhere `tf.recompute_grad` (recompute), grouped
convolution (depthwise), fused reductions (group_norm, pointwise) and a run-time shape
assertion (size_check).
"""

import keras
import tensorflow as tf

from brats_rev.checks import check_bool, check_choice, check_positive_int
from brats_rev.layers.coupling import (
    RESIDUAL_DTYPE,
    AdditiveCoupling,
    ResidualStreamLayer,
    merge_halves,
    split_halves,
)
from brats_rev.layers.recompute import MODES


def _accumulate(totals, grads):
    """Adds `grads` into `totals` position by position; None means no contribution."""
    return [
        t if g is None else (g if t is None else t + g) for t, g in zip(totals, grads, strict=True)
    ]


def _coupling_backward(coupling, outputs, output_grads, variables, checkpoint_expansion):
    """One block of the reversible backward pass, on channel halves.

    Args:
        coupling: the AdditiveCoupling whose output is `outputs`.
        outputs: (y1, y2), the halves of the block output (float32).
        output_grads: (dL/dy1, dL/dy2).
        variables: the `tf.Variable`s of the whole stage (from `tf.custom_gradient`).
        checkpoint_expansion: recompute F's and G's normalisation and expansion once more
            for their gradients (`MBConv3D.call`'s `checkpoint`).

    Returns:
        (inputs, input_grads, variable_grads): the reconstructed input halves (x1, x2), their
        gradients (dL/dx1, dL/dx2), and a list aligned with `variables` (None for variables of
        other blocks).
    """
    y1, y2 = outputs
    dy1, dy2 = output_grads
    with tf.GradientTape() as tape:
        tape.watch(y1)
        g_y1 = coupling.residual_g(y1, checkpoint=checkpoint_expansion)
    grads = tape.gradient(g_y1, [y1, *variables], output_gradients=dy2)
    dx1 = dy1 + grads[0]  # dL/dy1 through y1 itself and through G(y1); x1 enters only y1.
    variable_grads = grads[1:]
    # F's recomputation starts after G's gradients exist (see `reversible_sequence`).
    with tf.control_dependencies([dx1, *[g for g in variable_grads if g is not None]]):
        x2 = y2 - g_y1
    with tf.GradientTape() as tape:
        tape.watch(x2)
        f_x2 = coupling.residual_f(x2, checkpoint=checkpoint_expansion)
    grads = tape.gradient(f_x2, [x2, *variables], output_gradients=dx1)
    dx2 = dy2 + grads[0]
    variable_grads = _accumulate(variable_grads, grads[1:])
    x1 = y1 - f_x2
    return (x1, x2), (dx1, dx2), variable_grads


def reversible_sequence(couplings, inputs, checkpoint_expansion=False):
    """Applies `couplings` in order, storing only the final output for backprop.

    Args:
        couplings: built AdditiveCoupling layers.
        inputs: float32 tensor (batch, depth, height, width, channels).
        checkpoint_expansion: see `ReversibleStage`.

    Returns:
        The output of the last coupling; its gradient is computed by reconstruction.
    """

    @tf.custom_gradient
    def forward(x):
        y = x
        for coupling in couplings:
            y = coupling(y)

        def backward(dy, variables=()):
            variables = list(variables)
            variable_grads = [None] * len(variables)
            # The walk stays on channel halves: a concat followed by a split would let graph
            # rewriting bypass the ordering identities below.
            outputs, output_grads = split_halves(y), split_halves(dy)
            # The last block's recomputation needs only the stage output, so without this
            # wait every stage of a network may recompute it right after the forward pass
            # and hold it until its gradient arrives.
            with tf.control_dependencies(output_grads):
                outputs = [tf.identity(t) for t in outputs]
            for coupling in reversed(couplings):
                outputs, output_grads, block_grads = _coupling_backward(
                    coupling, outputs, output_grads, variables, checkpoint_expansion
                )
                variable_grads = _accumulate(variable_grads, block_grads)
                # Ordering: the next (earlier) block starts only after this one's gradients
                # exist, so that at most one block's recomputed activations are alive.
                done = [*output_grads, *[g for g in block_grads if g is not None]]
                with tf.control_dependencies(done):
                    outputs = [tf.identity(t) for t in outputs]
                    output_grads = [tf.identity(t) for t in output_grads]
            return merge_halves(*output_grads), variable_grads

        return y, backward

    return forward(inputs)


@keras.saving.register_keras_serializable(package="brats_rev")
class ReversibleStage(ResidualStreamLayer):
    """`num_blocks` additive couplings with MBConv3D F and G on `filters // 2` channels.

    Args:
        filters: input and output channels (even).
        num_blocks: number of couplings (each has two MBConv3D blocks, F and G).
        expand_ratio, kernel_size, se_ratio, activation, norm_groups,
        depthwise_implementation: passed to every MBConv3D.
        mode: "reversible", "plain" or "recompute" (see module docstring). All modes have
            the same weights, in the same order, and compute the same function.
        checkpoint_expansion: in "reversible" mode, the backward walk recomputes each
            MBConv's normalisation and expansion once more for its gradient
            (`MBConv3D.call`'s `checkpoint`): the walk's peak then holds the block input and
            the expanded activations but not the pre-activation expansion, for one more
            expansion per MBConv. Worth it where the walk runs while much else is alive (the
            U-Net's full-resolution decoder stage); no effect in the other modes.

    Input shape: (batch, depth, height, width, filters), any float dtype.
    Output shape: the same, float32 (the residual stream is float32 under any policy).
    """

    def __init__(
        self,
        filters,
        num_blocks,
        expand_ratio=4,
        kernel_size=3,
        se_ratio=0.0,
        activation="swish",
        norm_groups=8,
        mode="reversible",
        depthwise_implementation="auto",
        checkpoint_expansion=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_blocks = check_positive_int("num_blocks", num_blocks)
        self.mode = check_choice("mode", mode, MODES)
        self.checkpoint_expansion = check_bool("checkpoint_expansion", checkpoint_expansion)
        # One attribute per coupling (not a list): TensorFlow checkpoints track a Keras
        # layer's attributes but not the contents of its lists.
        for i in range(num_blocks):
            setattr(self, f"coupling_{i}", AdditiveCoupling(
                filters,
                expand_ratio=expand_ratio,
                kernel_size=kernel_size,
                se_ratio=se_ratio,
                activation=activation,
                norm_groups=norm_groups,
                depthwise_implementation=depthwise_implementation,
                dtype=self.dtype_policy,
                name=f"coupling_{i}",
            ))
        self.filters = filters

    @property
    def couplings(self):
        """The AdditiveCoupling layers, first to last."""
        return [getattr(self, f"coupling_{i}") for i in range(self.num_blocks)]

    def build(self, input_shape):
        for coupling in self.couplings:
            coupling.build(input_shape)

    def call(self, inputs):
        x = tf.cast(inputs, RESIDUAL_DTYPE)
        if self.mode == "reversible":
            return reversible_sequence(self.couplings, x, self.checkpoint_expansion)
        for coupling in self.couplings:
            x = tf.recompute_grad(coupling)(x) if self.mode == "recompute" else coupling(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "num_blocks": self.num_blocks,
                "mode": self.mode,
                "checkpoint_expansion": self.checkpoint_expansion,
                **self.couplings[0].block_config(),
            }
        )
        return config
