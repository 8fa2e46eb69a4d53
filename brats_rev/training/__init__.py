"""The training library: strategies, optimizers, the training step and loop, checkpoints,
summaries and validation. `python -m brats_rev.train` is its entry point.

Import the modules you need; importing the package itself imports nothing heavy
(`brats_rev.training.run_config` is pure Python).
"""
