"""brats_rev: memory-efficient 3D U-Net with reversible mobile inverted bottlenecks.

Importing the package imports nothing heavy; import the subpackages you need
(`brats_rev.layers`, `brats_rev.models`, `brats_rev.data`, ...).
"""

__version__ = "0.1.0"
