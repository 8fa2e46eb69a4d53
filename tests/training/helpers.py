"""Helpers of the training tests: run the trainer in fresh processes, read checkpoints."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def launch(module, args, env=None):
    """Popen of `python -m module args` from the repository root (stdout+stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    """(exit code, output) of a launched process."""
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def model_weights(path):
    """{variable name: array} of every variable (model, optimizer, counters) in checkpoint
    `path` (a prefix, or a folder: its newest checkpoint)."""
    path = str(path)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(path) if os.path.isdir(path)
                                      else path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def max_difference(first, second):
    """Largest absolute difference between two `model_weights` dicts (same names)."""
    assert first.keys() == second.keys() and first
    return max(float(np.max(np.abs(first[name] - second[name]))) for name in first)
