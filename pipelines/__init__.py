"""Conversion jobs: BraTS NIfTI cases -> validated, preprocessed, sharded TFRecords.

`python -m pipelines.convert_brats` runs them locally (multiprocessing) or on Apache Beam.
"""

import sys as _sys

from brats_rev import startup as _startup

if _startup.is_program(_sys.argv):  # `python -m pipelines.<program>`
    _startup.install()
