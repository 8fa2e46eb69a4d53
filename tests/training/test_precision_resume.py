"""Exact resume under mixed precision: a mixed_float16 and a mixed_bfloat16 run killed with
SIGKILL mid-run and restarted end with the same state as uninterrupted runs, the loss scale of
mixed_float16 included."""

import os
import signal
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.training import helpers

pytestmark = pytest.mark.slow
POLICIES = ("mixed_float16", "mixed_bfloat16")
SCALE = "optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE"
COUNTER = "optimizer/step_counter/.ATTRIBUTES/VARIABLE_VALUE"


def kill_in_second_epoch(victims, timeout=240):
    """SIGKILLs each of {run folder: process} shortly after its first epoch's checkpoint."""
    deadline = time.monotonic() + timeout
    pending = dict(victims)
    while pending:
        for run, process in list(pending.items()):
            state = run / "checkpoints" / "checkpoint"
            if os.path.exists(state) and "ckpt-4" in state.read_text():
                time.sleep(0.1)  # into the second epoch
                process.send_signal(signal.SIGKILL)
                process.wait()
                del pending[run]
            else:
                assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"no first checkpoint in {list(pending)}"
        time.sleep(0.05)


def test_mixed_precision_sigkill_and_restart_match_uninterrupted_runs(tmp_path):
    flags = {policy: [*helpers.TINY_RUN, f"--precision={policy}"] for policy in POLICIES}
    whole = {policy: tmp_path / policy / "whole" for policy in POLICIES}
    killed = {policy: tmp_path / policy / "killed" for policy in POLICIES}
    uninterrupted = {policy: helpers.launch("brats_rev.train", [
        f"--model_dir={whole[policy]}", *flags[policy]]) for policy in POLICIES}
    kill_in_second_epoch({killed[policy]: helpers.launch("brats_rev.train", [
        f"--model_dir={killed[policy]}", *flags[policy]]) for policy in POLICIES})
    for policy in POLICIES:
        # The kill landed within the second epoch.
        assert tf.train.latest_checkpoint(killed[policy] / "checkpoints").endswith("ckpt-4")
        assert not os.path.exists(killed[policy] / "model.keras")
    restarted = {policy: helpers.launch("brats_rev.train", [
        f"--model_dir={killed[policy]}", *flags[policy]]) for policy in POLICIES}
    for policy in POLICIES:
        code, output = helpers.finish(restarted[policy])
        assert code == 0, output
        assert "ckpt-4 (step 4)" in output and "Done: 8 steps" in output
        code, output = helpers.finish(uninterrupted[policy])
        assert code == 0, output
        assert f'"dtype_policy": "{policy}"' in (whole[policy] / "config.json").read_text()

    for policy in POLICIES:
        first = helpers.model_weights(killed[policy] / "checkpoints" / "ckpt-4")
        final = helpers.model_weights(whole[policy] / "checkpoints")
        # Every variable: weights (float32 under a mixed policy), optimizer slots, counters
        # and, for mixed_float16, the loss scale.
        assert helpers.max_difference(final, helpers.model_weights(
            killed[policy] / "checkpoints")) == 0.0, policy
        assert all(final[name].dtype == np.float32 for name in final
                   if name.startswith("optimizer/_trainable_variables/")), policy
        if policy == "mixed_float16":
            # The dynamic loss scale starts at 2 ** 15, halves on a step with non-finite
            # gradients (which resets the counter of good steps) and doubles after 2000 good
            # steps. None of these 8 steps overflowed: the scale is unchanged and the counter
            # counts every step, 4 at the kill and 8 at the end, so a restart that lost the
            # counter would end with 4.
            assert (first[SCALE], first[COUNTER]) == (2.0 ** 15, 4)
            assert (final[SCALE], final[COUNTER]) == (2.0 ** 15, 8)
        else:
            # bfloat16 has float32's exponent range: no loss scaling.
            assert SCALE not in final and COUNTER not in final
