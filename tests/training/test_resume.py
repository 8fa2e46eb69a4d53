"""Exact resume: a run killed with SIGKILL mid-epoch and restarted ends with the same weights
as an uninterrupted run and keeps its completed checkpoints; raising --epochs extends a
finished run."""

import os
import signal
import time

import pytest
import tensorflow as tf

from tests.training import helpers

pytestmark = pytest.mark.slow
FLAGS = ["--override=model.filters=[8,16]", "--override=data.patch_size=16",
         "--override=train.steps_per_epoch=4", "--override=train.warmup_steps=2",
         "--override=train.fold=null", "--override=train.log_every=2", "--epochs=2"]


def wait_for(path, text, process, timeout=240):
    """Waits until file `path` contains `text` (while `process` runs)."""
    deadline = time.monotonic() + timeout
    while not (os.path.exists(path) and text in open(path).read()):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_sigkill_and_restart_match_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    uninterrupted = helpers.launch("brats_rev.train", [f"--model_dir={whole}", *FLAGS])
    victim = helpers.launch("brats_rev.train", [f"--model_dir={killed}", *FLAGS])
    # The first epoch's checkpoint is complete once the manager's state file names it.
    wait_for(killed / "checkpoints" / "checkpoint", "ckpt-4", victim)
    time.sleep(0.1)  # into the second epoch
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert os.path.exists(killed / "checkpoints" / "ckpt-4.index")  # survived the kill
    # The kill landed within the second epoch: its checkpoint and the final model are missing.
    assert tf.train.latest_checkpoint(killed / "checkpoints").endswith("ckpt-4")
    assert not os.path.exists(killed / "checkpoints" / "ckpt-8.index")
    assert not os.path.exists(killed / "model.keras")
    code, output = helpers.finish(helpers.launch("brats_rev.train",
                                                 [f"--model_dir={killed}", *FLAGS]))
    assert code == 0, output
    assert "ckpt-4 (step 4)" in output and "Done: 8 steps" in output
    # A checkpoint was written, but TensorFlow's INFO line for it is not shown (startup).
    assert "Sharding callback" not in output and "functional_saver" not in output
    code, output = helpers.finish(uninterrupted)
    assert code == 0, output
    assert helpers.max_difference(helpers.model_weights(whole / "checkpoints"),
                                  helpers.model_weights(killed / "checkpoints")) == 0.0

    # The finished run, extended by one epoch, continues from step 8.
    extended = [*FLAGS[:-1], "--epochs=3"]
    code, output = helpers.finish(helpers.launch("brats_rev.train",
                                                 [f"--model_dir={whole}", *extended]))
    assert code == 0, output
    assert "ckpt-8 (step 8)" in output and "Done: 12 steps" in output
    assert tf.train.latest_checkpoint(whole / "checkpoints").endswith("ckpt-12")
