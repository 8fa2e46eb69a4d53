"""Conversion jobs: BraTS NIfTI cases -> validated, preprocessed, sharded TFRecords.

`python -m pipelines.convert_brats` runs them locally (multiprocessing) or on Apache Beam.
"""
