"""Exact resume: a run killed with SIGKILL during its last validation and restarted redoes
that epoch and its validation, ends with the same weights, `model.keras` and `best/` as an
uninterrupted run and keeps its completed checkpoints; raising --epochs extends a
finished run. The same runs validate every epoch: `model.keras` holds the best epoch's weights,
and the best validation Dice is checkpointed, so it survives a restart. A run with the step
compiled by XLA trains as the uninterrupted one does, up to float rounding."""

import json
import math
import os
import re
import signal

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.demo.report import read_scalars
from tests.training import helpers

pytestmark = pytest.mark.slow
# The tiny run, validated on fold 0 after every epoch (no window overlap: 48 windows per case).
# Ten times the tiny preset's learning rate makes the validation Dice of these few steps move
# by a lot from epoch to epoch, so that the best epoch is not the last one.
FLAGS = [*helpers.TINY_RUN, "--override=train.fold=0", "--val_every=1",
         "--override=train.val_overlap=0", "--override=train.learning_rate=0.03"]


def validation_scores(run):
    """{step: validation mean Dice} that run folder `run` logged (float32 summaries)."""
    steps, values = read_scalars(run / "logs" / "validation")["mean_dice"]
    return dict(zip(steps, values, strict=True))


def stored_best(checkpoint):
    """The best validation mean Dice held by checkpoint prefix `checkpoint`."""
    return float(tf.train.load_checkpoint(str(checkpoint)).get_tensor(
        "best_mean_dice/.ATTRIBUTES/VARIABLE_VALUE"))


def best_summary(run):
    return json.loads((run / "best" / "best.json").read_text())


def assert_best_is_the_running_maximum(run, scores):
    """Each checkpoint of `run` (still kept) holds the best score of the epochs up to and
    including its own: a run resumed from it compares later epochs with that value."""
    for step, _ in sorted(scores.items()):
        if os.path.exists(run / "checkpoints" / f"ckpt-{step}.index"):
            best_so_far = max(value for at, value in scores.items() if at <= step)
            assert stored_best(run / "checkpoints" / f"ckpt-{step}") == pytest.approx(
                best_so_far, abs=1e-7), (step, scores)


def test_sigkill_and_restart_match_an_uninterrupted_run(tmp_path):
    whole, killed, compiled = tmp_path / "whole", tmp_path / "killed", tmp_path / "xla"
    uninterrupted = helpers.launch("brats_rev.train", [f"--model_dir={whole}", *FLAGS])
    log = tmp_path / "killed.log"
    victim = helpers.launch("brats_rev.train", [f"--model_dir={killed}", *FLAGS], log=log)
    xla = helpers.launch("brats_rev.train", [f"--model_dir={compiled}", *FLAGS,
                                             "--jit_compile"])
    # Killed during the last validation: the second epoch's steps are done (its progress bar
    # reached 4/4) and its validation has begun, which lasts a few tenths of a second.
    helpers.wait_for(killed / "checkpoints" / "checkpoint", "ckpt-4", victim)
    helpers.wait_for(log, r"Epoch 2/2.*4/4", victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert os.path.exists(killed / "checkpoints" / "ckpt-4.index")  # survived the kill
    # The epoch's checkpoint comes after its validation, so it is missing, as is the model.
    assert not os.path.exists(killed / "checkpoints" / "ckpt-8.index"), (
        "the kill came after the validation: " + log.read_text())
    assert "epoch 2 step 8: validation" not in log.read_text()
    assert tf.train.latest_checkpoint(killed / "checkpoints").endswith("ckpt-4")
    assert not os.path.exists(killed / "model.keras")
    code, output = helpers.finish(helpers.launch("brats_rev.train",
                                                 [f"--model_dir={killed}", *FLAGS]))
    assert code == 0, output
    # The restart redid the second epoch and its validation.
    assert "ckpt-4 (step 4)" in output and "Done: 8 steps" in output
    assert "epoch 2 step 8: validation" in output
    # A checkpoint was written, but TensorFlow's INFO line for it is not shown (startup).
    assert "Sharding callback" not in output and "functional_saver" not in output
    restarted_best = best_summary(killed)
    delivered = helpers.keras_weights(killed / "model.keras")
    delivered_best = helpers.trainable_weights(killed / "best" / restarted_best["checkpoint"])
    # The restarted run, extended by two epochs, continues from step 8 (started now, beside
    # the other two runs).
    extension = helpers.launch("brats_rev.train", [f"--model_dir={killed}", *FLAGS,
                                                   "--epochs=4"])
    code, output = helpers.finish(uninterrupted)
    assert code == 0, output
    # Every variable, the best Dice so far included.
    assert helpers.max_difference(helpers.model_weights(whole / "checkpoints"),
                                  helpers.model_weights(killed / "checkpoints" / "ckpt-8")) == 0.0
    # The delivered model and best/ are the uninterrupted run's, bit for bit.
    assert restarted_best == best_summary(whole)
    assert helpers.same_arrays(delivered, helpers.keras_weights(whole / "model.keras"))
    assert helpers.same_arrays(delivered_best, helpers.trainable_weights(
        whole / "best" / restarted_best["checkpoint"]))
    assert restarted_best["checkpoint"] == "ckpt-8"  # the epoch whose validation was killed

    # The best Dice so far is in each epoch's checkpoint, the epoch's own validation included.
    scores = validation_scores(whole)
    assert sorted(scores) == [4, 8], scores
    assert_best_is_the_running_maximum(whole, scores)

    # XLA reorders and fuses float32 operations, so its weights are not bit-identical (0.0
    # would mean the flag changed nothing), but after 8 steps they are within 1e-4 of the
    # uninterrupted run's (2.5e-6 measured): one Adam step alone moves a weight by up to the
    # learning rate, 0.03, so a missed, repeated or different step would show far above that.
    code, output = helpers.finish(xla)
    assert code == 0, output  # exit code 1 would mean a non-finite loss
    assert "Done: 8 steps" in output
    difference = helpers.max_difference(helpers.model_weights(whole / "checkpoints"),
                                        helpers.model_weights(compiled / "checkpoints"))
    assert 0.0 < difference <= 1e-4, difference
    losses = read_scalars(compiled / "logs" / "train")["loss"]
    assert losses[0] == [2, 4, 6, 8] and all(math.isfinite(value) for value in losses[1])
    np.testing.assert_allclose(losses[1], read_scalars(whole / "logs" / "train")["loss"][1],
                               rtol=1e-4)

    code, output = helpers.finish(extension)
    assert code == 0, output
    assert "ckpt-8 (step 8)" in output and "Done: 16 steps" in output
    assert tf.train.latest_checkpoint(killed / "checkpoints").endswith("ckpt-16")

    # The resumed run starts from the best Dice of the first two epochs and replaces the best
    # model only with an epoch that scores higher (a tie keeps the earlier one).
    scores = validation_scores(killed)
    assert sorted(scores) == [4, 8, 12, 16], scores
    assert_best_is_the_running_maximum(killed, scores)
    best_step = min(step for step, value in scores.items() if value == max(scores.values()))
    best = best_summary(killed)
    assert (best["step"], best["epoch"], best["checkpoint"]) == (
        best_step, best_step // 4, f"ckpt-{best_step}"), (best, scores)
    assert best["mean_dice"] == pytest.approx(scores[best_step], abs=1e-7)
    assert stored_best(killed / "checkpoints" / "ckpt-16") == best["mean_dice"]
    shown = float(re.search(r"best validation mean Dice ([0-9.]+)", output).group(1))
    assert shown == round(best["mean_dice"], 4), output
    # With these settings the Dice per epoch is about 0.10, 0.33, 0.33, 0.16: the third epoch
    # beats the second by a little, the fourth falls back. A best epoch that is the last would
    # make the next check prove nothing.
    assert best_step != 16, scores

    # model.keras holds the weights of the best epoch (those of its checkpoint), not the last.
    final = helpers.keras_weights(killed / "model.keras")
    assert helpers.same_arrays(final, helpers.trainable_weights(killed / "best" /
                                                                best["checkpoint"]))
    assert helpers.same_arrays(final, helpers.trainable_weights(
        killed / "checkpoints" / best["checkpoint"]))
    assert helpers.same_arrays(final, helpers.keras_weights(killed / "best" / "model.keras"))
    assert not helpers.same_arrays(final, helpers.trainable_weights(
        killed / "checkpoints" / "ckpt-16"))
