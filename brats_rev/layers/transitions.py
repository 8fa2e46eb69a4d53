"""The U-Net's parts between reversible stages, recomputed in backprop outside "plain" mode.

At full resolution these parts, not the reversible stages, hold most of a reversible U-Net's
stored activations: a float16 copy of the skip for the downsampling convolution, the
concatenated skip merge (twice the level's channels), the head's normalised and activated
inputs. As `RecomputedLayer`s they store only their inputs, which are stage outputs the
network keeps anyway (float32 residual streams), and recompute the rest when their gradient
arrives (effect: docs/BENCHMARKS.md, "U-Net: one training step on the whole volume").
In "plain" mode they are ordinary autodiff, the baseline the reversible model is compared with;
the U-Net uses that mode for them below full resolution too (`models/unet.py`).
"""

import keras
from keras import ops

from brats_rev.checks import check_positive_int
from brats_rev.layers.group_norm import GroupNormalization
from brats_rev.layers.mbconv import group_count
from brats_rev.layers.pointwise import Pointwise
from brats_rev.layers.recompute import RecomputedLayer


def _spec(shape, dtype):
    return keras.KerasTensor(tuple(shape), dtype=dtype)


@keras.saving.register_keras_serializable(package="brats_rev")
class Downsample(RecomputedLayer):
    """2x2x2 stride-2 convolution to `filters` channels.

    Input shape: (batch, depth, height, width, channels), any float dtype (cast to the compute
    dtype inside, so outside "plain" mode only the input itself is stored).
    Output shape: (batch, depth // 2, height // 2, width // 2, filters), compute dtype.
    """

    def __init__(self, filters, mode="plain", **kwargs):
        super().__init__(mode=mode, **kwargs)
        self.filters = check_positive_int("filters", filters)
        self.conv = keras.layers.Conv3D(filters, 2, strides=2, dtype=self.dtype_policy,
                                        name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def compute(self, inputs):
        return self.conv(inputs)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs):
        return _spec(self.compute_output_shape(inputs.shape), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters})
        return config


@keras.saving.register_keras_serializable(package="brats_rev")
class SkipMerge(RecomputedLayer):
    """Decoder entry: 2x2x2 stride-2 transposed convolution of the coarser features to
    `filters` channels, concatenation with the skip, 1x1x1 projection to `filters` channels.

    Inputs: [coarse (B, D/2, H/2, W/2, C_coarse), skip (B, D, H, W, C_skip)], any float
    dtypes. Outside "plain" mode only these two are stored (the upsampled features, the
    compute-dtype copy of the skip and their concatenation are recomputed).
    Output shape: (B, D, H, W, filters), compute dtype.
    """

    def __init__(self, filters, mode="plain", **kwargs):
        super().__init__(mode=mode, **kwargs)
        self.filters = check_positive_int("filters", filters)
        self.up = keras.layers.Conv3DTranspose(filters, 2, strides=2, dtype=self.dtype_policy,
                                               name="up")
        self.project = Pointwise(filters, dtype=self.dtype_policy, name="project")

    def build(self, input_shape):
        coarse_shape, skip_shape = input_shape
        self.up.build(coarse_shape)
        self.project.build((*skip_shape[:-1], self.filters + skip_shape[-1]))

    def compute(self, inputs):
        coarse, skip = inputs
        up = self.up(coarse)
        return self.project(ops.concatenate([up, ops.cast(skip, up.dtype)], axis=-1))

    def compute_output_shape(self, input_shape):
        return (*input_shape[1][:-1], self.filters)

    def compute_output_spec(self, inputs):
        return _spec(self.compute_output_shape([t.shape for t in inputs]), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters})
        return config


@keras.saving.register_keras_serializable(package="brats_rev")
class SegmentationHead(RecomputedLayer):
    """GroupNorm -> activation -> 1x1x1 convolution to `num_outputs` float32 logits.

    Args:
        num_outputs: logits per voxel.
        norm_groups: maximum GroupNorm groups (`mbconv.group_count` of the input channels).
        activation: any Keras activation name or callable.

    Input shape: (batch, depth, height, width, channels), any float dtype; outside "plain"
    mode it is the only stored activation.
    Output shape: (batch, depth, height, width, num_outputs), float32.
    """

    def __init__(self, num_outputs, norm_groups=8, activation="swish", mode="plain",
                 **kwargs):
        super().__init__(mode=mode, **kwargs)
        self.num_outputs = check_positive_int("num_outputs", num_outputs)
        self.norm_groups = check_positive_int("norm_groups", norm_groups)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.norm = GroupNormalization(
            groups=group_count(self.norm_groups, input_shape[-1]), epsilon=1e-5,
            dtype=self.dtype_policy, name="norm",
        )
        self.norm.build(input_shape)
        self.logits = Pointwise(self.num_outputs, dtype="float32", name="logits")
        self.logits.build(input_shape)

    def compute(self, inputs):
        return self.logits(self.activation(self.norm(inputs)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_outputs)

    def compute_output_spec(self, inputs):
        return _spec(self.compute_output_shape(inputs.shape), "float32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_outputs": self.num_outputs,
            "norm_groups": self.norm_groups,
            "activation": keras.activations.serialize(self.activation),
        })
        return config
