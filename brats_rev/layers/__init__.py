"""Keras 3 layers: depthwise 3D convolution, group normalisation, MBConv, additive coupling,
reversible stage, the U-Net's recomputed transitions (downsampling, skip merge, head) and its
input size check. Importing this package registers them for
`.keras` loading."""

from brats_rev.layers.coupling import AdditiveCoupling
from brats_rev.layers.depthwise import DepthwiseConv3D
from brats_rev.layers.group_norm import GroupNormalization
from brats_rev.layers.mbconv import MBConv3D
from brats_rev.layers.reversible import ReversibleStage
from brats_rev.layers.size_check import SpatialMultipleCheck
from brats_rev.layers.transitions import Downsample, SegmentationHead, SkipMerge

__all__ = [
    "AdditiveCoupling",
    "DepthwiseConv3D",
    "Downsample",
    "GroupNormalization",
    "MBConv3D",
    "ReversibleStage",
    "SegmentationHead",
    "SkipMerge",
    "SpatialMultipleCheck",
]
