"""The inference benchmark: one small case in a fresh process, its table and JSON."""

import json
import subprocess
import sys

import pytest

from brats_rev.bench import layer_kinds
from brats_rev.config import preset
from brats_rev.models import build_model
from brats_rev.models.statistics import forward_flops


@pytest.mark.slow
def test_command_line(tmp_path):
    json_out = tmp_path / "inference.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.inference", "--preset=tiny", "--shape=40,44,36",
         "--window=16", "--overlap=0.5", "--batch_size=2", "--serving", "--matmul_size=256",
         "--matmul_repeats=2", f"--json_out={json_out}"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(json_out.read_text())
    # A phantom brain spans most of the grid: the crop is larger than one window per axis,
    # so each axis gets ceil((size - 16) / 8) + 1 windows.
    crop = result["crop_shape"]
    assert all(16 < size <= limit for size, limit in zip(crop, (40, 44, 36), strict=True))
    expected = 1
    for size in crop:
        expected *= -(-(size - 16) // 8) + 1
    assert result["windows"] == expected and result["model_calls"] == -(-expected // 2)
    assert result["overhead"] == pytest.approx(result["predict_seconds"] / result["model_seconds"])
    assert result["cpu_overhead"] == pytest.approx(
        result["predict_cpu_seconds"] / result["model_cpu_seconds"])
    assert result["case_seconds"] >= result["predict_seconds"] * 0.5
    assert 0 < result["peak_bytes"] < result["max_rss_bytes"]
    assert "| s / case (read, predict, write) |" in done.stdout
    assert f"{expected} windows, batch 2, no TTA" in done.stdout
    # The exported `segment` signature on the same raw case.
    assert result["labels_equal_predict"] is True
    voxels = 40 * 44 * 36
    assert voxels * 16 <= result["request_bytes"] < voxels * 16 + 1024  # float32 x 4 channels
    assert voxels <= result["response_bytes"] < voxels + 1024  # uint8 labels
    assert result["segment_over_predict"] == pytest.approx(
        result["segment_seconds"] / result["predict_seconds"])
    assert 0 < result["segment_peak_bytes"] and result["saved_model_bytes"] > 100_000
    assert "| SavedModel MiB |" in done.stdout
    # The limit: FLOPs of the window model times the windows, achieved and peak GFLOP/s.
    window_model = build_model(preset("tiny"), (16, 16, 16))
    assert result["forward_flops_per_window"] == forward_flops(window_model)
    assert result["flops_per_case"] == forward_flops(window_model) * expected
    assert result["predict_gflops_per_second"] == pytest.approx(
        result["flops_per_case"] / result["predict_seconds"] / 1e9)
    assert result["peak_matmul"]["size"] == 256 and result["peak_matmul"]["gflops_per_second"] > 0
    assert result["onednn"]["isa"] and result["onednn"]["implementations"]["convolution"]
    # Every layer kind is there; their FLOPs add up to the case's, their seconds and the rest
    # to the traced predict call.
    kinds = {kind["kind"]: kind for kind in result["kinds"]}
    assert list(kinds) == list(layer_kinds.KINDS)
    assert sum(kind["flops"] for kind in kinds.values()) == result["flops_per_case"]
    assert kinds["sliding window"]["flops"] == 0
    for name in layer_kinds.MODEL_KINDS:
        assert kinds[name]["flops"] > 0 and kinds[name]["seconds"] > 0, name
    assert kinds["sliding window"]["seconds"] > 0
    assert 0 <= result["unaccounted_seconds"] < result["profiled_predict_seconds"]
    assert sum(kind["seconds"] for kind in kinds.values()) + result["unaccounted_seconds"] \
        == pytest.approx(result["profiled_predict_seconds"])
    assert "| depthwise |" in done.stdout and "| rest (no TF op running) |" in done.stdout
