"""Helpers of the training tests: run the trainer in fresh processes, read checkpoints."""

import os
import re
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A tiny run of `python -m brats_rev.train` on the sample records: 2 levels of 8 and 16
# channels, 16^3 patches, 2 epochs of 4 steps, no validation.
TINY_RUN = ["--override=model.filters=[8,16]", "--override=data.patch_size=16",
            "--override=train.steps_per_epoch=4", "--override=train.warmup_steps=2",
            "--override=train.fold=null", "--override=train.log_every=2", "--epochs=2"]


def launch(module, args, env=None, log=None):
    """Popen of `python -m module args` from the repository root, stdout+stderr piped (or
    written to file `log`, to be watched while it runs)."""
    output = subprocess.PIPE if log is None else open(log, "w")  # noqa: SIM115 (child owns it)
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
                            stdout=output, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    """(exit code, output) of a launched process."""
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def wait_for(path, pattern, process, timeout=240):
    """Waits until the text of file `path` matches regular expression `pattern` (searched,
    `.` matching newlines too) while `process` runs; polls every 10 ms."""
    deadline = time.monotonic() + timeout
    while not (os.path.exists(path) and re.search(pattern, open(path).read(), re.DOTALL)):
        assert process.poll() is None, f"{process.args} ended before {path} matched {pattern!r}"
        assert time.monotonic() < deadline, f"{path} did not match {pattern!r}"
        time.sleep(0.01)


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


def trainable_weights(path):
    """The model's trainable weights in checkpoint `path` (as `model_weights`), in the order of
    `model.trainable_weights`: the run's checkpoint reaches them through the optimizer's list."""
    weights = model_weights(path)
    count = sum(name.startswith("optimizer/_trainable_variables/") for name in weights)
    assert count, sorted(weights)
    return [weights[f"optimizer/_trainable_variables/{index}/.ATTRIBUTES/VARIABLE_VALUE"]
            for index in range(count)]


def keras_weights(path):
    """The trainable weights of the .keras model file `path`, in model order."""
    import keras

    import brats_rev.models  # noqa: F401  (registers the layers)

    model = keras.saving.load_model(path, compile=False)
    return [weight.numpy() for weight in model.trainable_weights]


def same_arrays(first, second):
    """Whether two lists of arrays are equal element for element."""
    return len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second, strict=True))


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
