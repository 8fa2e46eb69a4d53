"""The prediction program end to end: a tiny .keras model on phantom cases of two releases."""

import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from brats_rev import labels, phantoms
from brats_rev.config import preset
from brats_rev.data.cases import find_cases
from brats_rev.data.prepare import prepare_case
from brats_rev.models import build_model

SHAPE = (36, 40, 32)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "brats_rev.predict", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    build_model(preset("tiny")).save(path)
    return path


@pytest.mark.slow
def test_predicts_every_readable_case_in_its_convention(tmp_path, model_path):
    root = tmp_path / "in"
    ids_2021 = phantoms.write_dataset(str(root / "a"), 2, "2021", SHAPE)
    [id_2023] = phantoms.write_dataset(str(root / "b"), 1, "2023", SHAPE, seed=1, with_seg=False)
    os.remove(root / "a" / ids_2021[1] / f"{ids_2021[1]}_t2.nii.gz")
    output_dir = tmp_path / "out"
    # Thresholds near 0: every voxel of the crop box is predicted ET, the rest background.
    result = _run(f"--model={model_path}", f"--input={root}", f"--output_dir={output_dir}",
                  "--window_size=16,16,16", "--thresholds=1e-6,1e-6,1e-6",
                  "--save_probabilities", "--probability_dtype=float32")
    assert result.returncode == 1, result.stderr
    assert "2 written, 0 skipped" in result.stdout and "1 failed" in result.stdout
    assert f"failed: {ids_2021[1]}: " in result.stdout and "missing modality t2" in result.stdout
    assert "3/3 cases" not in result.stderr and "2/2 cases, 0 failed" in result.stderr

    found = {case.case_id: case for case in find_cases(str(root), require_seg=False)[0]}
    for case_id, release, et in [(ids_2021[0], "2021", 4), (id_2023, "2023", 3)]:
        flair = nib.load(found[case_id].images[0])
        image = np.stack([np.asarray(nib.load(p).dataobj) for p in found[case_id].images], -1)
        box = prepare_case(image, margin=4).box
        expected = np.zeros(SHAPE, np.uint8)
        expected[tuple(slice(a, b) for a, b in box)] = et
        written = nib.load(str(output_dir / f"{case_id}.nii.gz"))
        assert written.get_data_dtype() == np.uint8
        np.testing.assert_array_equal(written.affine, flair.affine)
        np.testing.assert_array_equal(np.asarray(written.dataobj), expected)
        assert et in labels.allowed_values(f"brats{release}")
        probabilities = nib.load(str(output_dir / f"{case_id}_probabilities.nii.gz")).get_fdata()
        assert probabilities.shape == SHAPE + (3,)
        inside = expected > 0
        assert np.all(probabilities[inside] > 0) and np.all(probabilities[~inside] == 0)
        assert np.all(probabilities < 1)

    report = json.loads((output_dir / "prediction_report.json").read_text())
    assert report["written"] == sorted([ids_2021[0], id_2023])
    assert [f["case_id"] for f in report["failed"]] == [ids_2021[1]]
    assert report["failed"][0]["file"].endswith(f"{ids_2021[1]}_t2.nii.gz")
    assert report["window_size"] == [16, 16, 16] and report["config"]["thresholds"] == [1e-6] * 3


@pytest.mark.slow
def test_refuses_to_write_into_the_input(tmp_path, model_path):
    phantoms.write_dataset(str(tmp_path), 1, "2021", SHAPE)
    result = _run(f"--model={model_path}", f"--input={tmp_path}",
                  f"--output_dir={tmp_path / 'predictions'}", "--window_size=16,16,16")
    assert result.returncode != 0
    assert "is inside --input" in result.stderr
    assert not (tmp_path / "predictions").exists()


@pytest.mark.slow
@pytest.mark.parametrize("program", ["brats_rev.predict", "brats_rev.export"])
@pytest.mark.parametrize("broken", ["missing", "config"])
def test_an_unloadable_model_is_a_usage_error_naming_it(tmp_path, model_path, program, broken):
    run = tmp_path / "run"
    if broken == "config":  # a run folder whose config.json lacks its data and train sections
        run.mkdir()
        (run / "config.json").write_text('{"model": {}}')
        os.link(model_path, run / "model.keras")
    phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    destination = ([f"--input={tmp_path / 'in'}", f"--output_dir={tmp_path / 'out'}"]
                   if program == "brats_rev.predict" else [f"--export_base={tmp_path / 'out'}"])
    result = subprocess.run([sys.executable, "-m", program, f"--model={run}", *destination],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    expected = (f"{run / 'config.json'} is not a run configuration" if broken == "config"
                else f"Model '{run}' is neither a .keras file nor a folder")
    assert f"--model '{run}': {expected}" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out").exists()
