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
from tests.inference import bad_models

SHAPE = (36, 40, 32)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "brats_rev.predict", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _box_labels(case, margin, value):
    """uint8 labels of `case` (a Case) that are `value` inside its brain crop box widened by
    `margin`, 0 elsewhere: what near-0 thresholds make the untrained model write."""
    image = np.stack([np.asarray(nib.load(path).dataobj) for path in case.images], -1)
    expected = np.zeros(image.shape[:3], np.uint8)
    expected[tuple(slice(a, b) for a, b in prepare_case(image, margin=margin).box)] = value
    return expected


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
        expected = _box_labels(found[case_id], 4, et)
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
def test_crop_margin_et_min_voxels_and_label_convention_reach_the_labels(tmp_path, model_path):
    """One run, three flags. Thresholds near 0 make every voxel of the crop box ET. With
    --crop_margin=0 the boxes of the two 2021 cases hold 21840 and 19251 voxels (40960 and
    42315 with the default margin 4); --et_min_voxels=20000 lies between them, so the smaller
    case's ET (the whole box, one count per case) becomes NCR (1) and the larger's stays ET,
    written 3 as --label_convention=brats2023 asks (4 in the cases' own 2021 convention)."""
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2021", SHAPE)
    found = {case.case_id: case for case in find_cases(str(tmp_path / "in"))[0]}
    volumes = {case_id: int(np.count_nonzero(_box_labels(found[case_id], 0, 1)))
               for case_id in ids}
    assert volumes == {ids[0]: 21840, ids[1]: 19251}
    output_dir = tmp_path / "out"
    result = _run(f"--model={model_path}", f"--input={tmp_path / 'in'}",
                  f"--output_dir={output_dir}", "--window_size=16,16,16",
                  "--thresholds=1e-6,1e-6,1e-6", "--crop_margin=0", "--et_min_voxels=20000",
                  "--label_convention=brats2023")
    assert result.returncode == 0, result.stderr
    for case_id, value in [(ids[0], 3), (ids[1], labels.NCR)]:
        written = nib.load(str(output_dir / f"{case_id}.nii.gz"))
        np.testing.assert_array_equal(np.asarray(written.dataobj),
                                      _box_labels(found[case_id], 0, value))
    config = json.loads((output_dir / "prediction_report.json").read_text())["config"]
    assert config["crop_margin"] == 0 and config["et_min_voxels"] == 20000
    assert config["label_convention"] == "brats2023"


@pytest.mark.slow
def test_refuses_to_write_into_the_input(tmp_path, model_path):
    phantoms.write_dataset(str(tmp_path), 1, "2021", SHAPE)
    result = _run(f"--model={model_path}", f"--input={tmp_path}",
                  f"--output_dir={tmp_path / 'predictions'}", "--window_size=16,16,16")
    assert result.returncode != 0
    assert "is inside --input" in result.stderr
    assert not (tmp_path / "predictions").exists()


@pytest.mark.slow
@pytest.mark.parametrize("output", ["file", "file/predictions"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_the_model(tmp_path, output):
    """--output_dir is a file, or lies under one: one line naming it, exit status 1, checked
    before the model is loaded (the --model given does not exist) and before any case."""
    phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    (tmp_path / "file").write_text("not a folder")
    result = _run(f"--model={tmp_path / 'missing.keras'}", f"--input={tmp_path / 'in'}",
                  f"--output_dir={tmp_path / output}")
    assert result.returncode == 1, result.stderr
    assert f"--output_dir '{tmp_path / output}' cannot be written: " in result.stderr
    assert "missing.keras" not in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "file").read_text() == "not a folder"


def test_an_input_without_cases_is_a_usage_error_before_the_model_loads(tmp_path):
    """The --model does not exist: the input is refused before the model would be read."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("the cases are elsewhere")
    result = _run(f"--model={tmp_path / 'missing.keras'}", f"--input={tmp_path / 'in'}",
                  f"--output_dir={tmp_path / 'out'}", "--window_size=16,16,16")
    assert result.returncode == 1, result.stderr
    assert f"--input: no BraTS case folder under '{tmp_path / 'in'}'" in result.stderr
    assert "missing.keras" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "prediction_report.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("program", ["brats_rev.predict", "brats_rev.export"])
@pytest.mark.parametrize("broken", ["keras archive", "run config"])
def test_an_unloadable_model_is_a_usage_error_naming_it(tmp_path, model_path, program, broken):
    """A `.keras` file that is a zip archive without the model's config.json (the loading
    errors of every broken model are tests/inference/test_loading.py's), and a run folder
    whose config.json lacks its data and train sections: one line naming --model and the file,
    exit status 1, nothing written."""
    if broken == "keras archive":
        model = bad_models.write(".keras without config.json", str(tmp_path), model_path)
        expected = f"Model file {model!r} is not a .keras model: the archive holds no config.json"
    else:
        model = str(tmp_path / "run")
        os.mkdir(model)
        with open(os.path.join(model, "config.json"), "w") as handle:
            handle.write('{"model": {}}')
        os.link(model_path, os.path.join(model, "model.keras"))
        expected = f"{os.path.join(model, 'config.json')} is not a run configuration"
    phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    destination = ([f"--input={tmp_path / 'in'}", f"--output_dir={tmp_path / 'out'}"]
                   if program == "brats_rev.predict" else [f"--export_base={tmp_path / 'out'}"])
    result = subprocess.run([sys.executable, "-m", program, f"--model={model}", *destination],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"--model {model!r}: {expected}" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out").exists()
