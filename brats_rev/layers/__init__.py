"""Keras 3 layers: depthwise 3D convolution, MBConv, additive coupling, reversible stage."""

from brats_rev.layers.coupling import AdditiveCoupling
from brats_rev.layers.depthwise import DepthwiseConv3D
from brats_rev.layers.mbconv import MBConv3D
from brats_rev.layers.reversible import ReversibleStage

__all__ = ["AdditiveCoupling", "DepthwiseConv3D", "MBConv3D", "ReversibleStage"]
