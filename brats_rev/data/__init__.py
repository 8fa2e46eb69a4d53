"""BraTS data: case discovery and validation, numpy preprocessing, the TFRecord schema, QA.

Import the modules you need (`brats_rev.data.cases`, `brats_rev.data.records`, ...); importing
the package itself imports nothing heavy.
"""
