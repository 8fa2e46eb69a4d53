"""Inference: sliding-window prediction, post-processing and the `Predictor` for whole cases.

Import the modules you need (`brats_rev.inference.sliding_window`, ...); importing the package
itself imports nothing heavy.
"""
