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
Models that differ only in `block_mode` have identical weight lists. Outside "plain" mode, the
recomputation goes where the memory is, at full resolution (level 0):

* the parts between stages there (`Downsample` "down_0", `SkipMerge` "merge_0" = transposed
  conv, concat and projection, `SegmentationHead` "head") store only their inputs, which are
  stage outputs, and recompute the rest in backprop; at coarser levels (1/8 of the voxels or
  fewer) they are ordinary autodiff;
* the full-resolution decoder stage, whose backward walk runs while the network's stored
  activations are all alive, also recomputes each MBConv's expansion
  (`ReversibleStage(checkpoint_expansion=True)`).

Why recomputation stops at full resolution, with the measurements: docs/BENCHMARKS.md, "U-Net:
where the reversible model recomputes".
"""

import keras

from brats_rev.layers import Downsample, ReversibleStage, SegmentationHead, SkipMerge
from brats_rev.layers.size_check import SpatialMultipleCheck


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

    def transition_mode(level):
        return block_mode if level == 0 else "plain"

    def head(level, name):
        return SegmentationHead(num_outputs, norm_groups, activation,
                                mode=transition_mode(level), dtype=dtype_policy, name=name)

    image = keras.Input((*spatial_shape, in_channels), name="image")
    x = SpatialMultipleCheck(2 ** (levels - 1), dtype=dtype_policy, name="size_check")(image)
    x = keras.layers.Conv3D(filters[0], 3, padding="same", dtype=dtype_policy, name="stem")(x)

    skips = []
    for level in range(levels):
        x = ReversibleStage(
            filters[level], encoder_blocks[level], name=f"encoder_{level}", **stage_kwargs
        )(x)
        skips.append(x)
        if level < levels - 1:
            x = Downsample(filters[level + 1], mode=transition_mode(level), dtype=dtype_policy,
                           name=f"down_{level}")(x)

    outputs = {}
    for level in reversed(range(levels - 1)):
        x = SkipMerge(filters[level], mode=transition_mode(level), dtype=dtype_policy,
                      name=f"merge_{level}")([x, skips[level]])
        x = ReversibleStage(
            filters[level], decoder_blocks[level], checkpoint_expansion=level == 0,
            name=f"decoder_{level}", **stage_kwargs
        )(x)
        if deep_supervision and level > 0:
            outputs[f"logits_level_{level}"] = head(level, f"head_level_{level}")(x)
    outputs["logits"] = head(0, "head")(x)
    return keras.Model(image, outputs, name=name)
