"""The baselines command: fitted on one dataset, scored on another exactly as evaluate scores."""

import json
import subprocess
import sys

import numpy as np
import pytest

from brats_rev import evaluation_files, phantoms

SHAPE = (48, 48, 31)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    phantoms.write_dataset(str(root / "train"), 3, "2021", SHAPE, kind="realistic")
    phantoms.write_dataset(str(root / "test"), 2, "2023", SHAPE, kind="realistic",
                           first_case=3)
    return root


def run(*flags):
    return subprocess.run([sys.executable, "-m", "brats_rev.bench.baselines", *flags],
                          capture_output=True, text=True)


def test_scores_match_evaluate_on_the_written_predictions(datasets, tmp_path):
    out = tmp_path / "out"
    result = run(f"--train_dir={datasets / 'train'}", f"--test_dir={datasets / 'test'}",
                 f"--output_dir={out}")
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in ("background", "threshold", "gaussian"))
    report = json.loads((out / "baselines.json").read_text())
    assert report["problems"] == []
    assert report["baselines"]["background"]["mean"]["dice_WT"] == 0.0  # every case has one
    for name in ("threshold", "gaussian"):
        predictions = out / name / "predictions"
        assert sorted(p.name for p in predictions.iterdir()) == [
            "BraTS-GLI-00003-000.nii.gz", "BraTS-GLI-00004-000.nii.gz"]
        again = evaluation_files.evaluate_folders(str(predictions), str(datasets / "test"))
        assert again["missing"] == [] and again["failed"] == []
        mean = evaluation_files.summary_table(again["rows"])["mean"]
        for key in ("dice_WT", "dice_TC", "dice_ET", "hd95_WT"):
            assert report["baselines"][name]["mean"][key] == pytest.approx(mean[key])
        assert (out / name / "scores" / "metrics.csv").is_file()
        assert report["baselines"][name]["cases"] == 2
        assert 0.0 < mean["dice_WT"] < 0.9
    assert any(line.startswith("WT: ") for line in report["baselines"]["threshold"]["fitted"])


def test_a_broken_case_is_named_and_the_rest_is_scored(datasets, tmp_path):
    broken = tmp_path / "test"
    phantoms.write_dataset(str(broken), 2, "2021", SHAPE, kind="realistic", first_case=3)
    flair = broken / "BraTS2021_00004" / "BraTS2021_00004_flair.nii.gz"
    flair.write_bytes(b"not a nifti file")
    result = run(f"--train_dir={datasets / 'train'}", f"--test_dir={broken}",
                 f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 1
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and "BraTS2021_00004" in skipped[0] and str(flair) in skipped[0]
    report = json.loads((tmp_path / "out" / "baselines.json").read_text())
    assert report["baselines"]["gaussian"]["cases"] == 1
    assert np.isfinite(report["baselines"]["gaussian"]["mean"]["dice_WT"])


def test_missing_folder_is_a_usage_error(tmp_path):
    result = run(f"--train_dir={tmp_path / 'nope'}", f"--test_dir={tmp_path}",
                 f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 1 and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
