"""Predicting a folder of cases: outputs, skipping and --overwrite, failures that do not stop."""

import io
import os

import nibabel as nib
import numpy as np
import pytest

from brats_rev import labels, phantoms
from brats_rev.data import layouts
from brats_rev.data.cases import find_cases
from brats_rev.inference import batch
from brats_rev.inference.predictor import CaseError
from brats_rev.progress import Progress
from tests.inference.fakes import SHAPE, encoding_phantom, region_reading_predictor


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two good 2021 cases and one whose t1 has another shape; returns (root, phantoms)."""
    root = tmp_path_factory.mktemp("input")
    written = {}
    for index in range(3):
        case_id = layouts.case_id_for("2021", index)
        written[case_id] = encoding_phantom(seed=20 + index)
        phantoms.write_phantom(written[case_id], str(root), "2021", case_id)
    broken = layouts.case_id_for("2021", 1)
    smaller = phantoms.make_phantom((SHAPE[0] - 2,) + SHAPE[1:], 0)
    nib.save(nib.Nifti1Image(smaller.images["t1"], smaller.affine),
             str(root / broken / f"{broken}_t1.nii.gz"))
    return str(root), written


@pytest.mark.slow
def test_outputs_failures_skip_and_overwrite(tmp_path, dataset):
    root, written = dataset
    cases, problems = find_cases(root)
    assert problems == []
    output_dir = str(tmp_path / "out")
    options = batch.OutputOptions(save_probabilities=True)
    stream = io.StringIO()
    predictor = region_reading_predictor()
    report = batch.predict_cases(predictor, cases, output_dir, options,
                                 Progress(len(cases), stream=stream, failure="failed"))
    ids = sorted(written)
    assert report["written"] == [ids[0], ids[2]] and report["skipped"] == []
    [failure] = report["failed"]
    assert failure["case_id"] == ids[1]
    assert f"{ids[1]}_t1.nii.gz: t1 shape (38, 44, 36) differs from flair shape (40, 44, 36)" \
        in failure["problem"]
    assert "3/3 cases, 1 failed" in stream.getvalue()
    for case_id in (ids[0], ids[2]):
        image = nib.load(os.path.join(output_dir, f"{case_id}.nii.gz"))
        assert image.get_data_dtype() == np.uint8
        np.testing.assert_array_equal(image.affine, phantoms.phantom_affine(SHAPE))
        np.testing.assert_array_equal(np.asarray(image.dataobj),
                                      labels.from_canonical(written[case_id].canonical,
                                                            "brats2021"))
        probabilities = nib.load(os.path.join(output_dir, f"{case_id}_probabilities.nii.gz"))
        np.testing.assert_allclose(probabilities.get_fdata(), labels.regions_from_canonical(
            written[case_id].canonical), atol=1 / 255)
    assert sorted(os.listdir(output_dir)) == sorted(
        f"{c}{suffix}" for c in (ids[0], ids[2]) for suffix in (".nii.gz",
                                                                "_probabilities.nii.gz"))

    # A second run keeps existing outputs; with overwrite it replaces them.
    target = os.path.join(output_dir, f"{ids[0]}.nii.gz")
    with open(target, "wb") as handle:
        handle.write(b"stale")
    again = batch.predict_cases(predictor, cases[:1], output_dir, batch.OutputOptions())
    assert again == {"written": [], "skipped": [ids[0]], "failed": []}
    assert open(target, "rb").read() == b"stale"
    replaced = batch.predict_cases(predictor, cases[:1], output_dir,
                                   batch.OutputOptions(overwrite=True))
    assert replaced["written"] == [ids[0]]
    assert nib.load(target).get_data_dtype() == np.uint8


def test_channel_mismatch_fails_every_case_with_the_reason(tmp_path, dataset):
    root, _ = dataset
    cases, _ = find_cases(root)
    report = batch.predict_cases(region_reading_predictor(in_channels=3), cases[:1],
                                 str(tmp_path), batch.OutputOptions())
    [failure] = report["failed"]
    assert failure["case_id"] == cases[0].case_id
    assert "model expects 3 input channels (modalities); the image has 4" in failure["problem"]
    assert os.listdir(tmp_path) == []


def test_inside():
    assert batch.inside("/data/in/out", "/data/in")
    assert batch.inside("/data/in", "/data/in/")
    assert not batch.inside("/data/input2", "/data/in")


def test_output_options_validated():
    with pytest.raises(ValueError, match="Received: probability_dtype='float16'"):
        batch.OutputOptions(probability_dtype="float16")


def test_a_root_without_any_case_is_an_error_naming_the_patterns(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(batch.NoCasesFound, match="no BraTS case folder under .*BraTS2021_"):
        batch.input_cases(str(tmp_path))


def test_a_case_id_in_two_folders_is_a_failure_for_each_copy(tmp_path, capsys):
    ids = phantoms.write_dataset(str(tmp_path / "in" / "a"), 2, "2021", (16, 16, 12))
    phantoms.write_dataset(str(tmp_path / "in" / "b"), 1, "2021", (16, 16, 12))  # ids[0] again

    class RecordingPredictor:
        """Fails every case it is given, after noting its id."""

        def __init__(self):
            self.seen = []

        def predict_case(self, case):
            self.seen.append(case.case_id)
            raise CaseError(f"{case.case_id}: not predicted here")

    predictor, output_dir = RecordingPredictor(), str(tmp_path / "out")
    report, problems = batch.predict_folder(predictor, batch.input_cases(str(tmp_path / "in")),
                                            output_dir, batch.OutputOptions())
    assert predictor.seen == [ids[1]]  # neither copy of ids[0] is predicted
    assert batch.write_report(output_dir, {}, report, problems) == 1
    printed = capsys.readouterr().out
    for copy, other in (("a", "b"), ("b", "a")):
        assert (f"failed: {ids[0]}: {tmp_path / 'in' / copy / ids[0]}: duplicate case id: "
                f"also in {tmp_path / 'in' / other / ids[0]}") in printed
