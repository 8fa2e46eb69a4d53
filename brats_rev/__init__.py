"""brats_rev: memory-efficient 3D U-Net with reversible mobile inverted bottlenecks.

Importing the package imports nothing heavy; import the subpackages you need
(`brats_rev.layers`, `brats_rev.models`, `brats_rev.data`, ...). When the process is one of
our programs, TensorFlow's start-up notices are filtered (`brats_rev.startup`).
"""

import sys as _sys

from brats_rev import startup as _startup

__version__ = "0.1.0"

if _startup.is_program(_sys.argv):  # `python -m brats_rev.<program>` or a brats-rev-* script
    _startup.install()
