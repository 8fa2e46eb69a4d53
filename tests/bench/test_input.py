"""The input benchmark measures positive rates on the sample records and prints its table."""

import json
import pathlib
import subprocess
import sys

import pytest

from brats_rev.bench import input as input_bench
from brats_rev.config import DataConfig

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "tfrecords" / "sample"


def test_measure_counts_the_first_epoch_and_the_timed_batches():
    config = DataConfig(data_dir=str(SAMPLE), patch_size=16, batch_size=4)
    result = input_bench.measure(config, fold=0, warmup=1, batches=3)
    assert result["first_epoch_patches"] == 8  # 6 training cases in batches of 4
    assert result["timed_patches"] == 12
    assert result["patches_per_s"] > 0 and result["first_epoch_patches_per_s"] > 0
    assert 0 < result["cpu_seconds_per_patch"] < 10


@pytest.mark.slow
def test_command_line(tmp_path):
    json_out = tmp_path / "input.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.input", f"--data_dir={SAMPLE}",
         "--patch_size=16", "--warmup=1", "--batches=2", f"--json_out={json_out}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(json_out.read_text())
    assert set(payload["results"]) == {"default augmentation", "no augmentation"}
    assert payload["patch_size"] == 16 and payload["results"]["no augmentation"][
        "timed_patches"] == 4
    for name in payload["results"]:
        assert f"| {name} |" in done.stdout
