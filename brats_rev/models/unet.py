"""The reversible MBConv 3D U-Net, assembled from plain keyword arguments.

    image (B, D, H, W, in_channels)
      -> size check -> stem 3x3x3 conv to filters[0]
      encoder level i: ReversibleStage(filters[i], encoder_blocks[i]) -> skip_i
                       -> 2x2x2 stride-2 conv to filters[i + 1]        (not at the bottleneck)
      decoder level i (coarse to fine): 2x2x2 stride-2 transposed conv to filters[i]
                       -> concat with skip_i -> 1x1x1 projection to filters[i]
                       -> ReversibleStage(filters[i], decoder_blocks[i])
      head: GroupNorm -> activation -> 1x1x1 conv to num_outputs region logits (float32)

With deep supervision, decoder levels 1 .. levels - 2 get heads too ("logits_level_<i>", at
1 / 2**i resolution). The outputs are a dict: {"logits": (B, D, H, W, num_outputs), ...}.
Models that differ only in `block_mode` have identical weight lists.
"""

import keras

from brats_rev.layers import GroupNormalization, ReversibleStage
from brats_rev.layers.mbconv import group_count
from brats_rev.layers.size_check import SpatialMultipleCheck


def _head(x, num_outputs, norm_groups, activation, dtype, name):
    """GroupNorm -> activation -> 1x1x1 conv to float32 logits."""
    x = GroupNormalization(
        groups=group_count(norm_groups, x.shape[-1]), epsilon=1e-5, dtype=dtype,
        name=f"{name}_norm",
    )(x)
    x = keras.layers.Activation(activation, dtype=dtype, name=f"{name}_activation")(x)
    return keras.layers.Dense(num_outputs, dtype="float32", name=name)(x)


def reversible_unet(
    *,
    in_channels,
    num_outputs,
    filters,
    encoder_blocks,
    decoder_blocks,
    expand_ratio,
    kernel_size,
    se_ratio,
    norm_groups,
    activation,
    block_mode,
    deep_supervision,
    dtype_policy,
    depthwise_implementation,
    spatial_shape=(None, None, None),
    name="reversible_unet",
):
    """Builds the U-Net as a functional `keras.Model` (arguments as in `ModelConfig`).

    Args:
        spatial_shape: (depth, height, width) of the input, None for any size; every size
            must be a multiple of 2 ** (len(filters) - 1).

    Returns:
        keras.Model mapping "image" (B, D, H, W, in_channels) to a dict of logits.
    """
    levels = len(filters)
    stage_kwargs = {
        "expand_ratio": expand_ratio,
        "kernel_size": kernel_size,
        "se_ratio": se_ratio,
        "activation": activation,
        "norm_groups": norm_groups,
        "mode": block_mode,
        "depthwise_implementation": depthwise_implementation,
        "dtype": dtype_policy,
    }
    image = keras.Input((*spatial_shape, in_channels), name="image")
    x = SpatialMultipleCheck(2 ** (levels - 1), name="size_check")(image)
    x = keras.layers.Conv3D(filters[0], 3, padding="same", dtype=dtype_policy, name="stem")(x)

    skips = []
    for level in range(levels):
        x = ReversibleStage(
            filters[level], encoder_blocks[level], name=f"encoder_{level}", **stage_kwargs
        )(x)
        skips.append(x)
        if level < levels - 1:
            x = keras.layers.Conv3D(
                filters[level + 1], 2, strides=2, dtype=dtype_policy, name=f"down_{level}"
            )(x)

    outputs = {}
    for level in reversed(range(levels - 1)):
        x = keras.layers.Conv3DTranspose(
            filters[level], 2, strides=2, dtype=dtype_policy, name=f"up_{level}"
        )(x)
        x = keras.layers.Concatenate(dtype=dtype_policy, name=f"skip_{level}")([x, skips[level]])
        x = keras.layers.Dense(filters[level], dtype=dtype_policy, name=f"project_{level}")(x)
        x = ReversibleStage(
            filters[level], decoder_blocks[level], name=f"decoder_{level}", **stage_kwargs
        )(x)
        if deep_supervision and level > 0:
            outputs[f"logits_level_{level}"] = _head(
                x, num_outputs, norm_groups, activation, dtype_policy, f"head_level_{level}"
            )
    outputs["logits"] = _head(x, num_outputs, norm_groups, activation, dtype_policy, "head")
    return keras.Model(image, outputs, name=name)
