"""RevNet additive coupling: the exact, invertible math (no memory tricks here).

    y1 = x1 + F(x2)          x2 = y2 - G(y1)
    y2 = x2 + G(y1)          x1 = y1 - F(x2)

x = concat(x1, x2) along channels. The residual stream (x, y) is kept in float32 whatever the
dtype policy, so that the inverse is exact to float32 rounding even when F and G compute in
float16 or bfloat16. `brats_rev.layers.reversible` adds the memory-saving gradient.
"""

import keras
from keras import ops

from brats_rev.checks import check_choice, check_positive_int
from brats_rev.layers.depthwise import IMPLEMENTATIONS
from brats_rev.layers.mbconv import MBConv3D

RESIDUAL_DTYPE = "float32"


def split_halves(x):
    """(..., C) -> two tensors of (..., C // 2)."""
    return ops.split(x, 2, axis=-1)


def merge_halves(first, second):
    """Inverse of `split_halves`."""
    return ops.concatenate([first, second], axis=-1)


class ResidualStreamLayer(keras.layers.Layer):
    """Base of layers that map the residual stream to itself: output shaped like the input,
    always in the residual dtype, and inputs not autocast to a mixed compute dtype."""

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=RESIDUAL_DTYPE)


@keras.saving.register_keras_serializable(package="brats_rev")
class AdditiveCoupling(ResidualStreamLayer):
    """Additive coupling with MBConv3D residual functions F and G.

    Args:
        filters: channels of the coupling input and output; must be even (each of F and G
            maps `filters // 2` channels to `filters // 2`).
        expand_ratio, kernel_size, se_ratio, activation, norm_groups,
        depthwise_implementation: passed to both MBConv3D blocks.

    Input/output shape: (batch, depth, height, width, filters), float32.
    """

    def __init__(
        self,
        filters,
        expand_ratio=4,
        kernel_size=3,
        se_ratio=0.0,
        activation="swish",
        norm_groups=8,
        depthwise_implementation="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        if filters % 2:
            raise ValueError(
                f"A coupling splits its channels in two halves, so `filters` must be even. "
                f"Received: filters={filters}"
            )
        self.block_kwargs = {
            "expand_ratio": expand_ratio,
            "kernel_size": kernel_size,
            "se_ratio": se_ratio,
            "activation": activation,
            "norm_groups": norm_groups,
            "depthwise_implementation": check_choice(
                "depthwise_implementation", depthwise_implementation, IMPLEMENTATIONS
            ),
        }
        half = filters // 2
        self.f = MBConv3D(half, dtype=self.dtype_policy, name="f", **self.block_kwargs)
        self.g = MBConv3D(half, dtype=self.dtype_policy, name="g", **self.block_kwargs)

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            raise ValueError(
                f"AdditiveCoupling(filters={self.filters}) needs inputs with {self.filters} "
                f"channels. Received: input_shape={input_shape}"
            )
        half_shape = (*input_shape[:-1], self.filters // 2)
        self.f.build(half_shape)
        self.g.build(half_shape)

    def residual_f(self, x2, checkpoint=False):
        """F(x2) in the residual dtype (`checkpoint`: see `MBConv3D.call`)."""
        return ops.cast(self.f(x2, checkpoint=checkpoint), RESIDUAL_DTYPE)

    def residual_g(self, y1, checkpoint=False):
        """G(y1) in the residual dtype (`checkpoint`: see `MBConv3D.call`)."""
        return ops.cast(self.g(y1, checkpoint=checkpoint), RESIDUAL_DTYPE)

    def call(self, inputs):
        x1, x2 = split_halves(ops.cast(inputs, RESIDUAL_DTYPE))
        y1 = x1 + self.residual_f(x2)
        y2 = x2 + self.residual_g(y1)
        return merge_halves(y1, y2)

    def inverse(self, outputs):
        """Reconstructs the coupling input from its output: x2 = y2 - G(y1), x1 = y1 - F(x2)."""
        y1, y2 = split_halves(ops.cast(outputs, RESIDUAL_DTYPE))
        x2 = y2 - self.residual_g(y1)
        x1 = y1 - self.residual_f(x2)
        return merge_halves(x1, x2)

    def block_config(self):
        """The F and G blocks' arguments, JSON-ready (the activation serialised as in
        `MBConv3D.get_config`)."""
        return {**self.block_kwargs,
                "activation": keras.activations.serialize(self.f.activation)}

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, **self.block_config()})
        return config
