"""Group normalisation over channels-last volumes, with per-channel partial sums.

Keras 3's `GroupNormalization` reduces over the spatial axes and the channels of a group at
once, through a (..., groups, channels per group) view, and takes the variance as
E[x²] - E[x]² in the compute dtype. On a CPU that reduction is slow, and over millions of
voxels with a large mean, float32 cancellation makes it inexact. The two are compared by
`python -m brats_rev.bench.speed --what=groupnorm` (results: docs/BENCHMARKS.md).

Here each channel's mean is a plain reduction over the voxels (B, N, C) -> (B, C); the group
mean averages its channels' means; the variance is the mean squared distance from the group
mean, reduced the same way (two passes, no cancellation); then one fused multiply-add applies
normalisation, gamma and beta per channel. Statistics are computed in float32 whatever the
dtype policy. Weights, arguments and configuration are those of the Keras layer, so the two
are interchangeable for checkpoints.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="brats_rev")
class GroupNormalization(keras.layers.GroupNormalization):
    """`keras.layers.GroupNormalization` over the last axis, computed as described above.

    Input/output shape: (batch, ..., channels), any rank >= 3; channels known when built.
    Masks are not supported. Takes the Keras layer's arguments; `axis` must be -1.
    """

    def __init__(self, groups=32, axis=-1, **kwargs):
        if axis != -1:
            raise ValueError(f"`axis` must be -1 (channels last). Received: axis={axis!r}")
        super().__init__(groups=groups, axis=axis, **kwargs)
        self.supports_masking = False

    def call(self, inputs):
        channels = inputs.shape[-1]
        groups, per_group = self.groups, channels // self.groups
        shape = tf.shape(inputs)
        flat = tf.reshape(tf.cast(inputs, tf.float32), tf.stack([shape[0], -1, channels]))

        def per_channel_to_groups(values):
            """(B, C) -> (B, 1, C): the mean over each group's channels, repeated per channel."""
            grouped = tf.reduce_mean(tf.reshape(values, [-1, groups, per_group]), axis=2,
                                     keepdims=True)
            return tf.reshape(tf.repeat(grouped, per_group, axis=2), [-1, 1, channels])

        mean = per_channel_to_groups(tf.reduce_mean(flat, axis=1))
        variance = per_channel_to_groups(tf.reduce_mean(tf.square(flat - mean), axis=1))
        scale = tf.math.rsqrt(variance + self.epsilon)
        if self.scale:
            scale = scale * tf.cast(self.gamma, tf.float32)
        shift = -mean * scale
        if self.center:
            shift = shift + tf.cast(self.beta, tf.float32)
        return tf.cast(tf.reshape(flat * scale + shift, shape), self.compute_dtype)
