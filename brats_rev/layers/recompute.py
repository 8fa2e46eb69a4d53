"""Recomputation checkpoint: a function whose backward pass recomputes its activations.

`recompute(function, inputs)` returns `function(inputs)` but keeps only `inputs` for
backprop; the gradient recomputes `function` under a tape when the incoming gradient
arrives. Unlike `tf.recompute_grad`, it adds no copy of the inputs (`tf.recompute_grad`
adds a data-dependent zero to every input to order the recomputation, one full-size copy
per input), and the recomputation waits for the incoming gradient through
`tf.control_dependencies`, like the reversible stage's walk (docs/ARCHITECTURE.md, "Facts",
2): without the wait the graph executor may recompute right after the forward pass and hold
the result.

`RecomputedLayer` is the base of the U-Net's non-reversible parts (`transitions.py`): in
"plain" mode it is ordinary autodiff, in "recompute" and "reversible" modes its `compute`
runs under `recompute`. The weights do not depend on the mode.
"""

import keras
import tensorflow as tf

from brats_rev.checks import check_choice

# Block modes of the reversible stages (`reversible.py`) and of the layers between them.
MODES = ("reversible", "plain", "recompute")


def recompute(function, inputs):
    """`function(inputs)` storing only `inputs` for backprop.

    Args:
        function: maps `inputs` (a tensor or a list of tensors) to one tensor; every variable
            it reads gets a gradient (None if it does not affect the output).
        inputs: a float tensor or a list of float tensors (the only tensors kept for the
            backward pass besides the variables).

    Returns:
        The output tensor; its gradient recomputes `function`.
    """
    single = not isinstance(inputs, (list, tuple))
    flat = [inputs] if single else list(inputs)

    def call(tensors):
        return function(tensors[0] if single else list(tensors))

    @tf.custom_gradient
    def forward(*tensors):
        def backward(output_grad, variables=()):
            variables = list(variables)
            with tf.control_dependencies([output_grad]):
                replay = [tf.identity(t) for t in tensors]
            with tf.GradientTape() as tape:
                tape.watch(replay)
                output = call(replay)
            grads = tape.gradient(output, [*replay, *variables], output_gradients=output_grad)
            return grads[: len(replay)], grads[len(replay) :]

        return call(tensors), backward

    return forward(*flat)


class RecomputedLayer(keras.layers.Layer):
    """A layer whose `compute(inputs)` is recomputed in backprop unless `mode` is "plain".

    Subclasses implement `compute` (and `build`, `compute_output_shape`). Inputs are not
    autocast to a mixed compute dtype at the layer boundary: a float32 tensor that the
    network keeps anyway (a stage output) is then the stored input, not a new float16 copy;
    `compute` casts what it needs.

    Args:
        mode: "plain" (autodiff stores every activation), "recompute" or "reversible"
            (only the inputs are stored; the same function and weights in every mode).
    """

    def __init__(self, mode="plain", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.mode = check_choice("mode", mode, MODES)

    def compute(self, inputs):
        """The layer's function; see the subclass."""
        raise NotImplementedError

    def call(self, inputs):
        if self.mode == "plain":
            return self.compute(inputs)
        return recompute(self.compute, inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
