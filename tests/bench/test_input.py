"""The input benchmark measures positive rates on the sample records and prints its table."""

import json
import pathlib
import subprocess
import sys

import pytest

from brats_rev.bench import input as input_bench
from brats_rev.config import DataConfig

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "tfrecords" / "sample"


@pytest.mark.slow
def test_measure_counts_the_first_epoch_and_the_timed_batches():
    config = DataConfig(data_dir=str(SAMPLE), patch_size=16, batch_size=4)
    result = input_bench.measure(config, fold=0, warmup=1, batches=3)
    assert result["first_epoch_patches"] == 8  # 6 training cases in batches of 4
    assert result["timed_patches"] == 12
    assert result["patches_per_s"] > 0 and result["first_epoch_patches_per_s"] > 0
    assert 0 < result["cpu_seconds_per_patch"] < 10


def test_each_transform_setting_turns_off_exactly_that_transform():
    augmented = DataConfig(data_dir=str(SAMPLE))
    chosen = input_bench.settings(augmented, each_transform=True)
    assert set(input_bench.settings(augmented, each_transform=False)) == {
        "default augmentation", "no augmentation"}
    gamma_off = chosen[input_bench.WITHOUT + "gamma"]
    assert gamma_off.gamma_probability == 0 and gamma_off.noise_probability == 0.1
    flips_off = chosen[input_bench.WITHOUT + "flips and rotation"]
    assert flips_off.flip_probability == 0 and flips_off.rotate90_probability == 0
    assert flips_off.scale_probability == augmented.scale_probability
    # Every augmentation probability belongs to exactly one transform.
    fields = [f for fields in input_bench.TRANSFORMS.values() for f in fields]
    assert sorted(fields) == sorted(
        name for name, value in vars(augmented.without_augmentation()).items()
        if name.endswith("_probability") and name != "foreground_probability")


def test_transform_costs_are_differences_of_cpu_time():
    results = {"default augmentation": {"cpu_seconds_per_patch": 0.060},
               "no augmentation": {"cpu_seconds_per_patch": 0.020},
               input_bench.WITHOUT + "gamma": {"cpu_seconds_per_patch": 0.051},
               input_bench.WITHOUT + "noise": {"cpu_seconds_per_patch": 0.0535}}
    costs = input_bench.transform_costs(results)
    assert costs.keys() == {"gamma", "noise"}
    assert costs["gamma"] == pytest.approx(9.0) and costs["noise"] == pytest.approx(6.5)


@pytest.mark.slow
def test_command_line(tmp_path):
    json_out = tmp_path / "input.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.input", f"--data_dir={SAMPLE}",
         "--patch_size=16", "--warmup=1", "--batches=2", "--each_transform",
         f"--json_out={json_out}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(json_out.read_text())
    assert set(payload["results"]) == {"default augmentation", "no augmentation"} | {
        input_bench.WITHOUT + name for name in input_bench.TRANSFORMS}
    assert set(payload["transform_cpu_ms_per_patch"]) == set(input_bench.TRANSFORMS)
    assert payload["patch_size"] == 16 and payload["results"]["no augmentation"][
        "timed_patches"] == 4
    for name in payload["results"]:
        assert f"| {name} |" in done.stdout
