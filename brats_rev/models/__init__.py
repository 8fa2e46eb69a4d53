"""The reversible MBConv 3D U-Net, its config-driven factory and its block-mode switch."""

from brats_rev.models.block_mode import with_block_mode
from brats_rev.models.factory import build_model

__all__ = ["build_model", "with_block_mode"]
