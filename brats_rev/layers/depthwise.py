"""Depthwise 3D convolution with a fast CPU path.

Keras 3 has no DepthwiseConv3D. A grouped `Conv3D(groups=C)` computes it, but on CPU it only
runs through XLA and is very slow (docs/ARCHITECTURE.md, "Facts", 1). The "decomposed"
implementation instead sums `kernel_size` 2D depthwise convolutions, one per kernel tap along
depth, each applied to the depth-shifted (and depth-strided) slice of the input with depth
folded into the batch.
"""

import keras
import tensorflow as tf
from keras import ops

from brats_rev.checks import check_choice, check_positive_int

IMPLEMENTATIONS = ("auto", "decomposed", "grouped")
PADDINGS = ("same", "valid")


def resolve_implementation(implementation):
    """Maps "auto" to "grouped" when a GPU is visible (cuDNN grouped convolution), else to
    "decomposed"; other values are returned unchanged."""
    if implementation != "auto":
        return implementation
    return "grouped" if tf.config.list_logical_devices("GPU") else "decomposed"


def conv_output_length(length, kernel_size, stride, padding):
    """Output length of one spatial axis (TensorFlow "SAME"/"VALID" rules)."""
    if padding == "same":
        return -(-length // stride)
    return (length - kernel_size) // stride + 1


def _same_padding(length, kernel_size, stride):
    """(before, after) zero padding that TensorFlow's "SAME" applies to an axis of `length`
    (a Python int, or a scalar tensor when the axis is dynamic)."""
    excess = (-(-length // stride) - 1) * stride + kernel_size - length
    total = max(excess, 0) if isinstance(excess, int) else ops.maximum(excess, 0)
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package="brats_rev")
class DepthwiseConv3D(keras.layers.Layer):
    """Channels-last depthwise 3D convolution (depth multiplier 1, dilation 1).

    Args:
        kernel_size: int, the cubic kernel edge (voxels).
        strides: 1 or 2, the same on every spatial axis.
        padding: "same" or "valid" (TensorFlow semantics, also for odd sizes with stride 2).
        use_bias: whether to add a per-channel bias.
        implementation: "decomposed" (2D depthwise convolutions over depth slices; fast on
            CPU), "grouped" (`Conv3D` with one group per channel; cuDNN on GPU, XLA on CPU) or
            "auto" (grouped when a GPU is visible, else decomposed). All give the same result.
        depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer:
            as in `keras.layers.DepthwiseConv2D`.

    Input shape: (batch, depth, height, width, channels).
    Output shape: (batch, depth', height', width', channels), each spatial axis as
        `conv_output_length` gives.
    Weights: `kernel` of shape (k, k, k, channels, 1), `bias` of shape (channels,).
    """

    def __init__(
        self,
        kernel_size=3,
        strides=1,
        padding="same",
        use_bias=True,
        implementation="auto",
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.strides = check_choice("strides", strides, (1, 2))
        self.padding = check_choice("padding", padding, PADDINGS)
        self.use_bias = bool(use_bias)
        self.implementation = check_choice("implementation", implementation, IMPLEMENTATIONS)
        self.depthwise_initializer = keras.initializers.get(depthwise_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.depthwise_regularizer = keras.regularizers.get(depthwise_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=5)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "DepthwiseConv3D needs a known number of input channels. "
                f"Received: input_shape={input_shape}"
            )
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, k, channels, 1),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(channels,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        self.input_spec = keras.layers.InputSpec(ndim=5, axes={-1: channels})
        self._resolved_implementation = resolve_implementation(self.implementation)

    def call(self, inputs):
        if self._resolved_implementation == "grouped":
            outputs = self._grouped(inputs)
        else:
            outputs = self._decomposed(inputs)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs

    def _grouped(self, inputs):
        """Grouped Conv3D: kernel (k, k, k, 1, C), one group per channel."""
        kernel = ops.transpose(self.kernel, (0, 1, 2, 4, 3))
        return ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)

    def _decomposed(self, inputs):
        """Sum over depth taps of 2D depthwise convolutions, depth folded into the batch.

        With stride 1, "same" padding and an odd kernel, the gradient is `_ordered_gradient`;
        otherwise autodiff differentiates the taps."""
        # A tensor, not the variable (eagerly, converting a variable may return it as is, and a
        # custom gradient would then have to handle the variable itself).
        kernel = tf.identity(ops.convert_to_tensor(self.kernel))
        if self.strides == 1 and self.padding == "same" and self.kernel_size % 2:
            return self._ordered_gradient(inputs, kernel)
        return self._decomposed_with(inputs, kernel)

    def _ordered_gradient(self, inputs, kernel):
        """The decomposed convolution with a gradient that keeps only `inputs` and the kernel.

        Autodiff of the taps pads every tap's output gradient to the whole folded stack and
        back-propagates each tap to a stack-sized input gradient before summing: in a
        recomputed MBConv at full resolution, several tensors of the expanded width at once.
        Here the input gradient is the same convolution of the output gradient with the kernel
        flipped on all three axes (exact for stride 1, "same" padding, odd kernel), summed tap
        by tap like the forward pass, and it starts only after the kernel gradient (one
        depthwise filter back-propagation per depth tap over first-axis slices) exists.
        """

        @tf.custom_gradient
        def convolve(x, w):
            def gradient(dy):
                dw = self._kernel_gradient(x, dy)
                with tf.control_dependencies([dw]):
                    dy = tf.identity(dy)
                return self._decomposed_with(dy, tf.reverse(w, axis=[0, 1, 2])), dw

            return self._decomposed_with(x, w), gradient

        return convolve(inputs, kernel)

    def _kernel_gradient(self, inputs, output_grads):
        """dL/dkernel (k, k, k, C, 1) for stride 1, "same" padding, odd k.

        Output plane d of case b is the sum over taps t of a 2D convolution of padded input
        plane d + t; in the folded stack of padded planes (B * D_padded) that is plane
        b * D_padded + d + t, so tap t's filter gradient pairs the stack shifted by t (a first-
        axis slice) with the output gradients laid out on the same stack (zeros where planes
        straddle two cases).
        """
        k = self.kernel_size
        half = k // 2
        padded = ops.pad(inputs, ((0, 0), (half, half), (0, 0), (0, 0), (0, 0)))
        shape = ops.shape(padded)
        planes = ops.reshape(padded, (-1, shape[2], shape[3], shape[4]))
        count = shape[0] * shape[1] - (k - 1)
        grads = ops.pad(output_grads, ((0, 0), (0, k - 1), (0, 0), (0, 0), (0, 0)))
        grads = ops.reshape(grads, (-1, shape[2], shape[3], shape[4]))[:count]
        filter_sizes = tf.stack([k, k, shape[4], 1])
        taps = [
            tf.compat.v1.nn.depthwise_conv2d_native_backprop_filter(
                planes[tap : tap + count], filter_sizes, grads, strides=[1, 1, 1, 1],
                padding="SAME")
            for tap in range(k)
        ]
        return ops.stack(taps)

    def _decomposed_with(self, inputs, kernel):
        """The decomposed convolution of `inputs` with `kernel` (k, k, k, C, 1)."""
        k, stride = self.kernel_size, self.strides
        depth = inputs.shape[1]
        if depth is None:
            depth = ops.shape(inputs)[1]
        if self.padding == "same":
            before, after = _same_padding(depth, k, stride)
            inputs = ops.pad(inputs, ((0, 0), (before, after), (0, 0), (0, 0), (0, 0)))
            depth = depth + before + after
        out_depth = (depth - k) // stride + 1
        batch, channels = ops.shape(inputs)[0], inputs.shape[-1]
        if stride == 1:
            outputs = self._unit_stride_taps(inputs, kernel, batch, depth, out_depth)
        else:
            outputs = self._strided_taps(inputs, kernel, out_depth)
        out_shape = ops.shape(outputs)
        return ops.reshape(outputs, (batch, out_depth, out_shape[1], out_shape[2], channels))

    def _ordered_sum(self, tap_output):
        """Sum over taps of `tap_output(tap)`, each tap started only once the running sum
        exists: otherwise a graph executor may materialise every tap's input and output (each
        the size of the layer's input) before the first sum (effect on a whole case:
        docs/BENCHMARKS.md, "Inference")."""
        total = None
        for tap in range(self.kernel_size):
            with tf.control_dependencies([] if total is None else [total]):
                output = tap_output(tap)
            total = output if total is None else total + output
        return total

    def _strided_taps(self, inputs, kernel, out_depth):
        """(B * out_depth, H', W', C): each tap convolves the depth planes it strides over,
        cut from `inputs` (B, D, H, W, C) (D already padded)."""
        shape = ops.shape(inputs)
        stride = self.strides

        def tap_output(tap):
            planes = inputs[:, tap : tap + (out_depth - 1) * stride + 1 : stride]
            planes = ops.reshape(planes, (-1, shape[2], shape[3], shape[4]))
            return ops.depthwise_conv(planes, kernel[tap], strides=stride,
                                      padding=self.padding)

        return self._ordered_sum(tap_output)

    def _unit_stride_taps(self, inputs, kernel, batch, depth, out_depth):
        """(B * out_depth, H', W', C) for stride 1.

        Each tap convolves every plane of the folded stack (B * D planes of `inputs`, D
        already padded) and is shifted by whole planes: a slice along the first axis, which
        TensorFlow takes without a copy (cutting each tap's planes out of `inputs`, as the
        strided path must, copies them; effect on a whole case: docs/BENCHMARKS.md,
        "Inference").
        Folded plane b * D + d of the sum is output (b, d) for d < out_depth; the k - 1 planes
        after each case's outputs mix two cases and are dropped (a batch of 1 has none).
        """
        shape = ops.shape(inputs)
        planes = ops.reshape(inputs, (-1, shape[2], shape[3], shape[4]))
        count = batch * depth - (self.kernel_size - 1)

        def tap_output(tap):
            output = ops.depthwise_conv(planes, kernel[tap], strides=1, padding=self.padding)
            return output[tap : tap + count]

        total = self._ordered_sum(tap_output)

        def drop_straddling_planes():
            padded = tf.pad(total, [[0, self.kernel_size - 1], [0, 0], [0, 0], [0, 0]])
            plane_shape = tf.shape(total)[1:]
            cases = tf.reshape(padded, tf.concat([[batch, depth], plane_shape], axis=0))
            return tf.reshape(cases[:, :out_depth], tf.concat([[-1], plane_shape], axis=0))

        if isinstance(batch, int):
            return total if batch == 1 else drop_straddling_planes()
        return tf.cond(tf.equal(batch, 1), lambda: total, drop_straddling_planes)

    def compute_output_shape(self, input_shape):
        k, stride, padding = self.kernel_size, self.strides, self.padding
        spatial = [
            None if n is None else conv_output_length(n, k, stride, padding)
            for n in input_shape[1:4]
        ]
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "use_bias": self.use_bias,
                "implementation": self.implementation,
                "depthwise_initializer": keras.initializers.serialize(self.depthwise_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": keras.regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
