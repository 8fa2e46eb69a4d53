"""The conversion program: exit code on rejects, --allow_rejects, report printed."""

import os
import subprocess
import sys

import pytest

from brats_rev import phantoms
from brats_rev.data import manifest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.convert_brats", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.mark.slow
def test_exit_code_reflects_rejects(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path / "in"), 3, "2021", (24, 28, 20), extension=".nii")
    os.remove(tmp_path / "in" / ids[1] / f"{ids[1]}_flair.nii")
    common = [f"--input_dir={tmp_path / 'in'}", f"--output_dir={tmp_path / 'out'}",
              "--num_shards=2"]
    failed = _run(*common)
    assert failed.returncode == 1, failed.stderr
    assert f"REJECTED {ids[1]}: " in failed.stdout and "missing modality flair" in failed.stdout
    assert "converted 2 cases into 2 shards" in failed.stdout
    assert "2/3 cases" not in failed.stdout and "3/3 cases" not in failed.stdout  # bar on stderr
    assert "2/2 cases, 0 rejected" in failed.stderr
    allowed = _run(*common, "--allow_rejects")
    assert allowed.returncode == 0, allowed.stderr
    assert manifest.load_manifest(str(tmp_path / "out"))["num_cases"] == 2
    unknown = _run(*common, "--no_such_flag=1")
    assert unknown.returncode != 0 and "unknown arguments ['--no_such_flag=1']" in unknown.stderr
