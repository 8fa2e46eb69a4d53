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


def assert_learned(model, baselines, losses):
    """The learning criterion of the demo's short training run (tests/test_demo.py). The demo
    trains mirrored on two CPU replicas; test_distributed shows that equals one device.

    Args:
      model: mean held-out Dice per region (WT, TC, ET) of the trained model.
      baselines: {"background": (3,), "threshold": (3,), ...} mean Dice of the baselines on the
        same cases (`brats_rev.bench.baselines`).
      losses: the logged training losses, first to last.

    WT and TC must beat predicting background by 0.3 and the threshold baseline by 0.05, and
    the mean over regions the threshold's by 0.03 (a 400-step run may not yet beat a threshold
    on ET); the last three losses must average below 0.8x the first three.
    """
    model, nothing, threshold = (np.asarray(v) for v in (model, baselines["background"],
                                                          baselines["threshold"]))
    assert np.all(model[:2] > nothing[:2] + 0.3), (model, nothing)
    assert np.all(model[:2] > threshold[:2] + 0.05), (model, threshold)
    assert model.mean() > threshold.mean() + 0.03, (model, threshold)
    assert len(losses) >= 6 and np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
