"""Keras 3 layers: depthwise 3D convolution, group normalisation, MBConv, additive coupling,
reversible stage, and the U-Net input size check. Importing this package registers them for
`.keras` loading."""

from brats_rev.layers.coupling import AdditiveCoupling
from brats_rev.layers.depthwise import DepthwiseConv3D
from brats_rev.layers.group_norm import GroupNormalization
from brats_rev.layers.mbconv import MBConv3D
from brats_rev.layers.reversible import ReversibleStage
from brats_rev.layers.size_check import SpatialMultipleCheck

__all__ = [
    "AdditiveCoupling",
    "DepthwiseConv3D",
    "GroupNormalization",
    "MBConv3D",
    "ReversibleStage",
    "SpatialMultipleCheck",
]
