"""`brats_rev.bench.gpu`: it refuses a machine without a GPU, and its report, built on CPU at
tiny sizes, holds every table."""

import pathlib
import subprocess
import sys

import pytest

from brats_rev.bench import gpu
from tests.bench.memory_models import analytic_runner

ROOT = pathlib.Path(__file__).resolve().parents[2]

TINY = {"preset": "tiny", "volume_shape": [16, 16, 32], "fractions": [0.5, 1.0],
        "dtypes": ["float32"], "max_gb": 1.0, "budget_mb": 16,
        "limits": {"sweep_patch": 16, "max_edge": 48, "edge_step": 16, "max_blocks": 2,
                   "width_step": 8, "max_width": 16},
        "time_shape": [8, 8, 8], "depthwise_shape": [8, 8, 8], "depthwise_channels": 4,
        "warmup": 1, "repeats": 2}


@pytest.mark.slow
def test_without_a_gpu_it_says_so_in_one_line_and_writes_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.gpu", f"--markdown_out={tmp_path / 'g.md'}",
         f"--json_out={tmp_path / 'g.json'}"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert done.returncode == gpu.NO_GPU_EXIT_CODE == 3
    assert done.stderr.splitlines() == [
        "error: no GPU visible to TensorFlow (looked for GPU:0); nothing measured"]
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_report_on_cpu_has_every_table_and_json_key(capsys):
    """Memory from a made-up model (the points' logic is tested with the benchmarks that own
    it); timings run for real on CPU."""
    text, payload = gpu.build_report(TINY, device="CPU:0", runner=analytic_runner)
    assert set(payload) == {
        "machine", "device", "device_details", "commands", "settings", "volume", "budget",
        "budget_points", "unet_step_seconds", "unet_median_seconds", "depthwise_seconds",
        "depthwise_median_seconds"}
    assert payload["device"] == "CPU:0" and payload["settings"] == TINY
    assert [[p["shape"] for p in payload["volume"][key]]
            for key in ("reversible/float32", "plain/float32")] == [[[8, 8, 16], [16, 16, 32]]] * 2
    volume_rows = [line for line in text.splitlines() if line.startswith("| reversible | float32")
                   or line.startswith("| plain | float32")]
    assert len(volume_rows) == 4
    found = payload["budget"]["found"]
    assert (found["reversible"]["patch_edge"], found["plain"]["patch_edge"]) == (32, 16)
    assert payload["budget"]["ratios"]["voxels"] == 8.0
    assert "| voxels | 8.00x | 3.0x |" in text
    for key in ("unet_step_seconds", "depthwise_seconds"):
        assert [len(seconds) for seconds in payload[key].values()] == [2, 2, 2]
    assert set(payload["unet_median_seconds"]) == {"plain", "reversible", "recompute"}
    assert set(payload["depthwise_median_seconds"]) == {"decomposed", "grouped",
                                                         "decomposed+xla"}
    for row in ("| plain |", "| reversible |", "| grouped |", "| decomposed |"):
        assert row in text.split("## Training step time")[1]
    for section in ("## Whole-volume training step", "## Fixed budget",
                    "## Training step time", "## DepthwiseConv3D: grouped vs decomposed"):
        assert section in text
    assert "python -m brats_rev.bench.speed --what=depthwise --shape=8,8,8 --channels=4" in text
    assert "Device CPU:0" in capsys.readouterr().out
