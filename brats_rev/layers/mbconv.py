"""The 3D mobile inverted bottleneck (MBConv) used as F and G of the reversible couplings."""

import math

import keras
from keras import ops

from brats_rev.checks import (
    check_choice,
    check_fraction,
    check_number_at_least,
    check_positive_int,
)
from brats_rev.layers.depthwise import IMPLEMENTATIONS, DepthwiseConv3D
from brats_rev.layers.group_norm import GroupNormalization
from brats_rev.layers.pointwise import Pointwise
from brats_rev.layers.recompute import recompute


def group_count(norm_groups, channels):
    """GroupNorm groups for `channels`: gcd(norm_groups, channels), i.e. at most `norm_groups`
    and always a divisor of `channels`, so narrow layers still normalise."""
    return math.gcd(norm_groups, channels)


@keras.saving.register_keras_serializable(package="brats_rev")
class MBConv3D(keras.layers.Layer):
    """Pre-normalised 3D inverted bottleneck without a residual of its own.

    GroupNorm -> 1x1x1 expand to `in_channels * expand_ratio` -> activation ->
    DepthwiseConv3D -> activation -> squeeze-excite (if `se_ratio` > 0) -> 1x1x1 project to
    `filters`. No BatchNorm and no dropout, so recomputing the block replays it exactly
    (docs/ARCHITECTURE.md, "Facts", 5). The skip connection is the caller's (the additive coupling).

    Args:
        filters: output channels.
        expand_ratio: >= 1; width of the hidden layer relative to the input channels
            (1 skips the expand convolution).
        kernel_size: depthwise kernel edge (voxels).
        se_ratio: squeeze-excite bottleneck width relative to the input channels, in [0, 1);
            0 disables squeeze-excite.
        activation: any Keras activation name or callable.
        norm_groups: maximum GroupNorm groups (see `group_count`).
        depthwise_implementation: see `DepthwiseConv3D`.
        kernel_initializer: initializer of the pointwise and squeeze-excite kernels.

    Input shape: (batch, depth, height, width, in_channels).
    Output shape: (batch, depth, height, width, filters).
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
        kernel_initializer="he_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.expand_ratio = check_number_at_least("expand_ratio", expand_ratio, 1)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.se_ratio = check_fraction("se_ratio", se_ratio)
        self.activation = keras.activations.get(activation)
        self.norm_groups = check_positive_int("norm_groups", norm_groups)
        self.depthwise_implementation = check_choice(
            "depthwise_implementation", depthwise_implementation, IMPLEMENTATIONS
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _pointwise(self, units, name, activation=None):
        return Pointwise(
            units,
            activation=activation,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(
                f"MBConv3D needs a known number of input channels. Received: {input_shape}"
            )
        hidden = max(1, round(in_channels * self.expand_ratio))
        self.norm = GroupNormalization(
            groups=group_count(self.norm_groups, in_channels),
            epsilon=1e-5,
            dtype=self.dtype_policy,
            name="norm",
        )
        self.norm.build(input_shape)
        self.expand = None
        if self.expand_ratio != 1:
            self.expand = self._pointwise(hidden, "expand")
            self.expand.build(input_shape)
        hidden_shape = (*input_shape[:-1], hidden)
        self.depthwise = DepthwiseConv3D(
            self.kernel_size,
            implementation=self.depthwise_implementation,
            dtype=self.dtype_policy,
            name="depthwise",
        )
        self.depthwise.build(hidden_shape)
        self.squeeze = self.excite = None
        if self.se_ratio > 0:
            squeezed = max(1, int(in_channels * self.se_ratio))
            self.squeeze = self._pointwise(squeezed, "se_squeeze", self.activation)
            self.squeeze.build((input_shape[0], hidden))
            self.excite = self._pointwise(hidden, "se_excite", "sigmoid")
            self.excite.build((input_shape[0], squeezed))
        self.project = self._pointwise(self.filters, "project")
        self.project.build(hidden_shape)

    def _expansion(self, inputs):
        """GroupNorm -> expand -> activation: (..., in_channels) -> (..., hidden)."""
        x = self.norm(inputs)
        if self.expand is not None:
            x = self.activation(self.expand(x))
        return x

    def call(self, inputs, checkpoint=False):
        """The block's output; with `checkpoint`, the normalisation and expansion are
        recomputed in backprop (`recompute.recompute`), so a tape keeps the input and the
        expanded activations but not the normalisation's float32 statistics and the
        pre-activation expansion. The reversible stage's backward pass, which records one
        block at a time, uses it: the depthwise and projection gradients then run without
        the expansion's activations alive, at the cost of computing the expansion once
        more."""
        x = recompute(self._expansion, inputs) if checkpoint else self._expansion(inputs)
        x = self.activation(self.depthwise(x))
        if self.squeeze is not None:
            gate = self.excite(self.squeeze(ops.mean(x, axis=(1, 2, 3))))
            x = x * gate[:, None, None, None, :]
        return self.project(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "expand_ratio": self.expand_ratio,
                "kernel_size": self.kernel_size,
                "se_ratio": self.se_ratio,
                "activation": keras.activations.serialize(self.activation),
                "norm_groups": self.norm_groups,
                "depthwise_implementation": self.depthwise_implementation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
