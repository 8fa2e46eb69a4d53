"""The training-loop overhead benchmark reports the ratio its own timings imply."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_command_line(tmp_path):
    json_out = tmp_path / "loop.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.train_loop", "--patch_size=16",
         "--steps_per_epoch=3", "--epochs=2", "--repeats=1", "--override=model.filters=[8,16]",
         "--override=model.norm_groups=2", f"--json_out={json_out}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(json_out.read_text())
    assert payload["timed_steps"] == 5
    bare, loop = payload["bare_seconds_per_step"], payload["loop_seconds_per_step"]
    inside = payload["loop_step_call_seconds_per_step"]
    assert len(bare) == len(loop) == len(inside) == 1 and bare[0] > 0
    assert 0 < inside[0] < loop[0]  # the step calls are part of the loop's time
    assert payload["ab_ratio"] == pytest.approx(loop[0] / bare[0])
    assert payload["in_loop_ratio"] == pytest.approx(loop[0] / inside[0])
    assert f"A/B loop / bare = {loop[0] / bare[0]:.4f}" in done.stdout
    assert f"in-loop loop / step calls = {loop[0] / inside[0]:.4f}" in done.stdout
