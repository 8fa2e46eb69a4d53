"""The reversible MBConv 3D U-Net and its config-driven factory."""

from brats_rev.models.factory import build_model

__all__ = ["build_model"]
