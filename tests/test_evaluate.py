"""Scoring folders: matching by id, CSV values, summary statistics, missing / extra / failed."""

import csv
import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from brats_rev import phantoms
from brats_rev.evaluation_files import evaluate_folders, write_results
from tests.data import bad_cases

SHAPE = (28, 32, 24)


@pytest.fixture()
def folders(tmp_path):
    """A 2021 reference dataset of 4 cases and predictions: exact, ET missing, none, bad shape,
    plus one prediction without reference."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = phantoms.write_dataset(str(gt_dir), 4, "2021", SHAPE)
    pred_dir.mkdir()
    seg = {case_id: nib.load(str(gt_dir / case_id / f"{case_id}_seg.nii.gz")) for case_id in ids}
    shutil.copy(seg[ids[0]].get_filename(), pred_dir / f"{ids[0]}.nii.gz")
    no_et = np.asarray(seg[ids[1]].dataobj).copy()
    assert np.any(no_et == 4)
    no_et[no_et == 4] = 1
    nib.save(nib.Nifti1Image(no_et, seg[ids[1]].affine), str(pred_dir / f"{ids[1]}.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), seg[ids[3]].affine),
             str(pred_dir / f"{ids[3]}.nii.gz"))
    shutil.copy(seg[ids[0]].get_filename(), pred_dir / "BraTS2021_00099.nii.gz")
    shutil.copy(seg[ids[0]].get_filename(), pred_dir / f"{ids[0]}_probabilities.nii.gz")
    return str(pred_dir), str(gt_dir), ids


def test_values_summary_and_case_lists(tmp_path, folders):
    pred_dir, gt_dir, ids = folders
    result = evaluate_folders(pred_dir, gt_dir)
    assert result["missing"] == [ids[2]] and result["extra"] == ["BraTS2021_00099"]
    [failure] = result["failed"]
    assert failure["case_id"] == ids[3] and "shape (2, 2, 2) differs" in failure["problem"]
    summary = write_results(str(tmp_path / "scores"), result)

    with open(tmp_path / "scores" / "metrics.csv") as handle:
        rows = {row["case_id"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == ids[:2]
    exact, no_et = rows[ids[0]], rows[ids[1]]
    for region in ("WT", "TC", "ET"):
        assert float(exact[f"dice_{region}"]) == 1.0 and float(exact[f"hd95_{region}"]) == 0.0
        assert float(exact[f"sensitivity_{region}"]) == 1.0
    assert float(no_et["dice_WT"]) == 1.0 and float(no_et["dice_TC"]) == 1.0
    assert float(no_et["dice_ET"]) == 0.0 and float(no_et["hd95_ET"]) == 373.13
    assert float(no_et["sensitivity_ET"]) == 0.0 and float(no_et["specificity_ET"]) == 1.0

    assert summary["mean"]["dice_ET"] == pytest.approx(0.5)
    assert summary["std"]["dice_ET"] == pytest.approx(0.5)
    assert summary["25quantile"]["hd95_ET"] == pytest.approx(373.13 / 4)
    assert summary["75quantile"]["hd95_ET"] == pytest.approx(3 * 373.13 / 4)
    assert summary["median"]["dice_WT"] == 1.0
    with open(tmp_path / "scores" / "summary.csv") as handle:
        table = {(row["cases"], row["statistic"]): row for row in csv.DictReader(handle)}
    assert list(table) == [(cases, statistic) for cases in ("scored", "all") for statistic in
                           ("mean", "std", "median", "25quantile", "75quantile")]
    assert float(table["scored", "mean"]["hd95_ET"]) == pytest.approx(373.13 / 2)
    # All 4 cases: the missing one and the one of another shape score as empty predictions.
    assert float(table["all", "mean"]["hd95_ET"]) == pytest.approx(3 * 373.13 / 4)
    document = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert document["cases"] == 2 and document["missing"] == [ids[2]]
    with open(tmp_path / "scores" / "boxplot.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path / "scores")) == [
        "boxplot.png", "metrics.csv", "summary.csv", "summary.json"]


@pytest.mark.slow
def test_flat_reference_folder_and_the_program(tmp_path, folders):
    pred_dir, gt_dir, ids = folders
    flat = tmp_path / "flat"
    flat.mkdir()
    for case_id in ids[:2]:
        shutil.copy(os.path.join(gt_dir, case_id, f"{case_id}_seg.nii.gz"),
                    flat / f"{case_id}.nii.gz")
    result = subprocess.run(
        [sys.executable, "-m", "brats_rev.evaluate", f"--pred_dir={pred_dir}",
         f"--gt_dir={flat}", f"--output_dir={tmp_path / 'scores'}"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "2 cases scored" in result.stdout
    assert "extra prediction (no reference): BraTS2021_00099" in result.stdout
    assert f"extra prediction (no reference): {ids[3]}" in result.stdout
    document = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert document["summary"]["mean"]["dice_ET"] == pytest.approx(0.5)

    failing = subprocess.run(
        [sys.executable, "-m", "brats_rev.evaluate", f"--pred_dir={pred_dir}",
         f"--gt_dir={gt_dir}", f"--output_dir={tmp_path / 'scores2'}"],
        capture_output=True, text=True, check=False)
    assert failing.returncode == 1
    assert ("all 4 reference cases, 2 of them (missing or failed) scored as an empty "
            "prediction:") in failing.stdout
    assert f"missing prediction: {ids[2]}" in failing.stdout
    assert f"failed: {ids[3]}: " in failing.stdout


def _save_labels(path, label_array, affine):
    nib.save(nib.Nifti1Image(np.asarray(label_array, np.uint8), affine), str(path))


def test_the_program_takes_the_convention_given_hd95_in_mm_and_refuses_a_moved_grid(tmp_path):
    """Voxels of 1 x 1 x 3 mm (the header's zooms). Case 0: reference ET on z = 2, 3,
    prediction ET on z = 3, 4 (one slice further). Each mask's voxels are all surface; the
    pooled distances are 0, 0 (z = 3 to itself) and 3, 3 mm (one slice of 3 mm), so HD95 is
    3 mm (1 with the voxel size ignored) and Dice 2 * 1 / 4 in every region. ET is 3: the case
    ids name 2021, whose convention has no 3, so they only read as --label_convention=brats2023.
    Case 1's prediction lies 0.5 mm off its reference's grid: refused, not scored."""
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    moved = affine.copy()
    moved[0, 3] = 0.5
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    reference, prediction = np.zeros((2, 6, 6, 7), np.uint8)
    reference[2, 2, 2:4] = 3
    prediction[2, 2, 3:5] = 3
    for case_id, prediction_affine in [("BraTS2021_00000", affine), ("BraTS2021_00001", moved)]:
        _save_labels(gt_dir / f"{case_id}.nii.gz", reference, affine)
        _save_labels(pred_dir / f"{case_id}.nii.gz", prediction, prediction_affine)
    result = subprocess.run(
        [sys.executable, "-m", "brats_rev.evaluate", f"--pred_dir={pred_dir}",
         f"--gt_dir={gt_dir}", f"--output_dir={tmp_path / 'scores'}",
         "--label_convention=brats2023"], capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr  # a failed case
    assert "1 cases scored" in result.stdout
    assert (f"failed: BraTS2021_00001: {pred_dir / 'BraTS2021_00001.nii.gz'}: affine differs "
            "from the reference's by up to 0.5 mm") in result.stdout
    with open(tmp_path / "scores" / "metrics.csv") as handle:
        [row] = csv.DictReader(handle)
    assert row["case_id"] == "BraTS2021_00000"
    for region in ("WT", "TC", "ET"):
        assert float(row[f"hd95_{region}"]) == pytest.approx(3.0)
        assert float(row[f"dice_{region}"]) == pytest.approx(0.5)


def _case_file(root, case_id, role):
    return str(root / case_id / f"{case_id}_{role}.nii.gz")


def _copy_references(gt_dir, pred_dir, ids):
    """Each reference segmentation as the prediction of its case (a perfect prediction)."""
    pred_dir.mkdir()
    for case_id in ids:
        shutil.copy(_case_file(gt_dir, case_id, "seg"), pred_dir / f"{case_id}.nii.gz")


def test_reference_cases_that_cannot_be_read_are_failed_never_dropped(tmp_path):
    """Case 1 has no seg file, case 2 no t1 (its seg is fine), case 3 a seg that is no NIfTI,
    case 4 a second folder `site_b/<id>`; a folder `extras` holds a NIfTI file but is no case
    folder. Each is failed, naming the file; none of their predictions is "extra"; only case 0
    is scored."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = phantoms.write_dataset(str(gt_dir), 5, "2021", SHAPE)
    _copy_references(gt_dir, pred_dir, ids)
    shutil.copytree(gt_dir / ids[4], gt_dir / "site_b" / ids[4])
    os.remove(_case_file(gt_dir, ids[1], "seg"))
    os.remove(_case_file(gt_dir, ids[2], "t1"))
    bad_cases.garble(_case_file(gt_dir, ids[3], "seg"))
    (gt_dir / "extras").mkdir()
    shutil.copy(_case_file(gt_dir, ids[0], "flair"), gt_dir / "extras" / "atlas.nii.gz")

    result = evaluate_folders(str(pred_dir), str(gt_dir))
    assert [row["case_id"] for row in result["rows"]] == [ids[0]]
    assert result["extra"] == [] and result["missing"] == []
    failed = {failure["case_id"]: failure for failure in result["failed"]}
    assert sorted(failed) == sorted([*ids[1:], "extras"])
    assert failed[ids[1]]["file"] == _case_file(gt_dir, ids[1], "seg")
    assert failed[ids[1]]["problem"].startswith("missing segmentation")
    assert failed[ids[2]]["file"] == _case_file(gt_dir, ids[2], "t1")
    assert failed[ids[2]]["problem"].startswith("missing modality t1")
    assert failed[ids[3]]["file"] == _case_file(gt_dir, ids[3], "seg")
    assert failed[ids[3]]["problem"].startswith("unreadable segmentation (ImageFileError: ")
    copies = [gt_dir / ids[4], gt_dir / "site_b" / ids[4]]
    assert sorted(f["problem"] for f in result["failed"] if f["case_id"] == ids[4]) == [
        f"duplicate case id: also in {other}; neither copy is used" for other in copies]
    assert failed["extras"]["file"] == str(gt_dir / "extras")
    assert failed["extras"]["problem"].startswith("unknown layout")


@pytest.mark.parametrize("broken", ["unlabelled", "every case rejected"])
def test_a_dataset_root_without_usable_references_is_not_read_as_a_flat_folder(tmp_path, broken):
    """An unlabelled dataset (no case has a seg) and one whose only case lacks its t1: the
    case is failed, not taken for a flat folder that holds no reference."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    [case_id] = phantoms.write_dataset(str(gt_dir), 1, "2021", SHAPE,
                                       with_seg=broken != "unlabelled")
    pred_dir.mkdir()
    shutil.copy(_case_file(gt_dir, case_id, "flair"), pred_dir / f"{case_id}.nii.gz")
    if broken == "every case rejected":
        os.remove(_case_file(gt_dir, case_id, "t1"))
    result = evaluate_folders(str(pred_dir), str(gt_dir))
    assert result["rows"] == [] and result["extra"] == [] and result["missing"] == []
    [failure] = result["failed"]
    assert failure["case_id"] == case_id
    assert failure["problem"] == {"unlabelled": "no segmentation file in the case folder",
                                  "every case rejected": "missing modality t1: neither "
                                  f"{case_id}_t1.nii.gz nor {case_id}_t1.nii exists"}[broken]


def test_a_prediction_that_is_not_nifti_fails_its_case_only(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = phantoms.write_dataset(str(gt_dir), 2, "2021", SHAPE)
    _copy_references(gt_dir, pred_dir, ids)
    with open(pred_dir / f"{ids[1]}.nii.gz", "wb") as handle:
        handle.write(np.random.default_rng(0).bytes(4000))
    result = evaluate_folders(str(pred_dir), str(gt_dir))
    assert [row["case_id"] for row in result["rows"]] == [ids[0]]
    [failure] = result["failed"]
    assert failure["case_id"] == ids[1] and failure["file"] == str(pred_dir / f"{ids[1]}.nii.gz")
    assert failure["problem"].startswith("unreadable segmentation (ImageFileError: ")


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_no_case_scored_exits_1_and_leaves_no_earlier_output(tmp_path):
    """The program on a dataset whose one labelled case has a prediction that is no NIfTI and
    whose other case lacks its seg: nothing is scored. The outputs of an earlier run (a box
    plot, a summary) must not survive; summary.json is strict JSON (null, not NaN means)."""
    gt_dir, pred_dir, output_dir = tmp_path / "gt", tmp_path / "pred", tmp_path / "scores"
    ids = phantoms.write_dataset(str(gt_dir), 2, "2021", SHAPE)
    _copy_references(gt_dir, pred_dir, ids)
    bad_cases.garble(str(pred_dir / f"{ids[0]}.nii.gz"))
    os.remove(_case_file(gt_dir, ids[1], "seg"))
    output_dir.mkdir()
    for name in ("boxplot.png", "summary.json", "metrics.csv", "notes.txt"):
        (output_dir / name).write_text("from an earlier run")
    result = subprocess.run(
        [sys.executable, "-m", "brats_rev.evaluate", f"--pred_dir={pred_dir}",
         f"--gt_dir={gt_dir}", f"--output_dir={output_dir}"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"no case scored: no prediction in --pred_dir '{pred_dir}'" in result.stderr
    assert (f"failed: {ids[0]}: {pred_dir / f'{ids[0]}.nii.gz'}: unreadable segmentation "
            "(ImageFileError: ") in result.stdout
    assert (f"failed: {ids[1]}: {_case_file(gt_dir, ids[1], 'seg')}: missing segmentation"
            in result.stdout)
    assert "extra prediction" not in result.stdout
    assert sorted(os.listdir(output_dir)) == ["metrics.csv", "notes.txt", "summary.csv",
                                              "summary.json"]
    assert (output_dir / "notes.txt").read_text() == "from an earlier run"
    document = _strict_json((output_dir / "summary.json").read_text())
    assert document["cases"] == 0 and document["extra"] == []
    assert sorted(failure["case_id"] for failure in document["failed"]) == ids
    assert set(document["summary"]["mean"].values()) == {None}
    with open(output_dir / "metrics.csv") as handle:
        assert list(csv.DictReader(handle)) == []


def _lesion_folders(tmp_path):
    """Flat folders of 2 cases, 1 mm voxels, brats2023 labels. Both references: an ET cube A
    (4x4x4) and, 9 voxels away, an oedema cube B (4x4x4). Case 0 predicts A alone, case 1
    predicts exactly."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    reference = np.zeros((24, 6, 6), np.uint8)
    reference[1:5, 1:5, 1:5] = 3
    reference[14:18, 1:5, 1:5] = 2
    only_a = np.where(reference == 3, 3, 0)
    for case_id, prediction in [("BraTS2021_00000", only_a), ("BraTS2021_00001", reference)]:
        _save_labels(gt_dir / f"{case_id}.nii.gz", reference, np.eye(4))
        _save_labels(pred_dir / f"{case_id}.nii.gz", prediction, np.eye(4))
    return str(pred_dir), str(gt_dir)


def test_lesion_wise_columns_their_summary_and_the_task(tmp_path):
    """Case 0, WT: A found (Dice 1, HD95 0), B missed (0, 374): lesion Dice 0.5, HD95 187,
    TP 1, FN 1; NSD: the prediction's 56 surface voxels lie on the reference's surface, and
    half of the reference's 112: (1 + 0.5) / 2. TC and ET hold A only: 1, 0, TP 1, NSD 1.
    Case 1 is exact: WT TP 2. GLI 2024 scores a miss 337 instead of 374."""
    pred_dir, gt_dir = _lesion_folders(tmp_path)
    result = evaluate_folders(pred_dir, gt_dir, "brats2023")
    summary = write_results(str(tmp_path / "scores"), result)
    with open(tmp_path / "scores" / "metrics.csv") as handle:
        reader = csv.DictReader(handle)
        rows = {row["case_id"]: row for row in reader}
    classic = [f"{metric}_{region}" for region in ("WT", "TC", "ET")
               for metric in ("dice", "hd95", "sensitivity", "specificity")]
    added = [f"{metric}_{region}" for region in ("WT", "TC", "ET") for metric in (
        "lesion_dice", "lesion_hd95", "lesion_tp", "lesion_fp", "lesion_fn", "nsd")]
    assert reader.fieldnames == ["case_id", *classic, *added]
    partial = rows["BraTS2021_00000"]
    assert {column: float(partial[column]) for column in added[:6]} == pytest.approx({
        "lesion_dice_WT": 0.5, "lesion_hd95_WT": 187, "lesion_tp_WT": 1, "lesion_fp_WT": 0,
        "lesion_fn_WT": 1, "nsd_WT": 0.75})
    assert float(partial["dice_WT"]) == pytest.approx(2 * 64 / (64 + 128))  # classic, kept
    for region in ("TC", "ET"):
        assert float(partial[f"lesion_dice_{region}"]) == 1.0
        assert float(partial[f"nsd_{region}"]) == 1.0
    assert rows["BraTS2021_00001"]["lesion_tp_WT"] == "2"

    assert summary["mean"]["lesion_dice_WT"] == pytest.approx(0.75)
    assert summary["std"]["lesion_dice_WT"] == pytest.approx(0.25)
    assert summary["mean"]["lesion_hd95_WT"] == pytest.approx(93.5)
    assert summary["mean"]["lesion_fn_WT"] == pytest.approx(0.5)
    assert summary["median"]["nsd_WT"] == pytest.approx(0.875)
    with open(tmp_path / "scores" / "summary.csv") as handle:
        table = {row["statistic"]: row for row in csv.DictReader(handle)}
    assert float(table["mean"]["lesion_tp_WT"]) == pytest.approx(1.5)
    document = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert document["summary"]["mean"]["lesion_hd95_WT"] == pytest.approx(93.5)
    assert document["task"]["name"] == "gli2023"
    assert document["task"]["lesion"] == {
        region: {"dilation": 3, "threshold_mm3": 50} for region in ("WT", "TC", "ET")}

    with pytest.raises(ValueError, match="'brats2023' is not one of task gli2024's"):
        evaluate_folders(pred_dir, gt_dir, "brats2023", task="gli2024")
    gli2024 = evaluate_folders(pred_dir, gt_dir, "brats2024-gli", task="gli2024")
    assert gli2024["rows"][0]["lesion_hd95_WT"] == pytest.approx(337 / 2)
    assert gli2024["task"] == "gli2024"


def test_the_program_prints_the_lesion_wise_summary_and_refuses_an_unknown_task(tmp_path):
    pred_dir, gt_dir = _lesion_folders(tmp_path)
    common = [sys.executable, "-m", "brats_rev.evaluate", f"--pred_dir={pred_dir}",
              f"--gt_dir={gt_dir}", f"--output_dir={tmp_path / 'scores'}",
              "--label_convention=brats2024-gli"]
    done = subprocess.run([*common, "--task=gli2024"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert ("lesion-wise, task gli2024: dilation 3 / 3 / 3 / 5 / 3 / 5 voxels, lesions over "
            "20 / 20 / 10 / 20 / 20 / 20 mm³ (WT / TC / ET / NETC / SNFH / RC); NSD at 1 mm"
            ) in lines
    [lesion_hd95] = [line for line in lines if line.startswith("lesion_hd95 ")]
    assert lesion_hd95.split()[:3] == ["lesion_hd95", "84.2500", "±"]  # (168.5 + 0) / 2
    refused = subprocess.run([*common, "--task=gli2025"], capture_output=True, text=True,
                             check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: flag --task=gli2025: value should be one of <gli2023|gli2024|men2023|met2023|"
        "met2024|ped2023|ped2024|ssa2023|ssa2024> (--helpshort lists the flags)"]


def test_case_folders_holding_only_their_seg_are_references(tmp_path):
    """Case 0's folder holds only its seg (labels kept apart from the images): its seg is the
    reference. Case 1 is a full case folder. Case 2 keeps its seg and flair only: some images
    but not all, still a rejected case."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = phantoms.write_dataset(str(gt_dir), 3, "2021", SHAPE)
    _copy_references(gt_dir, pred_dir, ids)
    for modality in ("flair", "t1", "t1ce", "t2"):
        os.remove(_case_file(gt_dir, ids[0], modality))
    for modality in ("t1", "t1ce", "t2"):
        os.remove(_case_file(gt_dir, ids[2], modality))
    result = evaluate_folders(str(pred_dir), str(gt_dir))
    assert [row["case_id"] for row in result["rows"]] == ids[:2]
    assert result["rows"][0]["dice_WT"] == 1.0
    assert sorted({failure["case_id"] for failure in result["failed"]}) == [ids[2]]
    assert result["failed"][0]["problem"].startswith("missing modality t1")


def test_a_flat_folder_of_seg_files_names_cases_without_the_seg_suffix(tmp_path):
    """`<id>_seg.nii.gz` (and the 2023 `<id>-seg.nii.gz`) name case `<id>`; a case id with two
    reference files is failed, naming both, and neither is used."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = phantoms.write_dataset(str(gt_dir), 3, "2021", SHAPE)
    _copy_references(gt_dir, pred_dir, ids)
    flat = tmp_path / "flat"
    flat.mkdir()
    for case_id, names in [(ids[0], ["_seg.nii.gz"]), (ids[1], [".nii.gz"]),
                           (ids[2], [".nii.gz", "_seg.nii.gz"])]:
        for name in names:
            shutil.copy(_case_file(gt_dir, case_id, "seg"), flat / f"{case_id}{name}")
    seg_2023 = np.zeros(SHAPE, np.uint8)
    _save_labels(flat / "BraTS-GLI-00000-000-seg.nii.gz", seg_2023, np.eye(4))
    _save_labels(pred_dir / "BraTS-GLI-00000-000.nii.gz", seg_2023, np.eye(4))
    result = evaluate_folders(str(pred_dir), str(flat))
    assert [row["case_id"] for row in result["rows"]] == ["BraTS-GLI-00000-000", *ids[:2]]
    assert result["extra"] == [] and result["missing"] == []
    [failure] = result["failed"]
    assert failure["case_id"] == ids[2] and failure["file"] == str(flat / f"{ids[2]}.nii.gz")
    assert failure["problem"] == (f"several reference files for this case: {ids[2]}.nii.gz, "
                                  f"{ids[2]}_seg.nii.gz; none is used")



def test_the_all_cases_summary_scores_a_missing_or_failed_case_as_an_empty_prediction(
        tmp_path):
    """The two lesion cases (every region non-empty) plus case 2 (case 1's reference, a
    prediction of another shape: failed) and case 3 (a reference that is no NIfTI: failed).
    Case 0's prediction is removed (missing). An empty prediction scores Dice 0, HD95 373.13,
    sensitivity 0, specificity 1, lesion Dice 0, lesion HD95 374 (a miss, gli2023), NSD 0 and
    misses every lesion (WT: 2). Scored: case 1 (exact); all cases: 0, 1, 2 (0 and 2 as an
    empty prediction); case 3's reference cannot be read: left out."""
    pred_dir, gt_dir = (tmp_path / name for name in _lesion_folders(tmp_path))
    os.remove(pred_dir / "BraTS2021_00000.nii.gz")
    shutil.copy(gt_dir / "BraTS2021_00001.nii.gz", gt_dir / "BraTS2021_00002.nii.gz")
    _save_labels(pred_dir / "BraTS2021_00002.nii.gz", np.zeros((2, 2, 2)), np.eye(4))
    shutil.copy(gt_dir / "BraTS2021_00001.nii.gz", gt_dir / "BraTS2021_00003.nii.gz")
    shutil.copy(gt_dir / "BraTS2021_00001.nii.gz", pred_dir / "BraTS2021_00003.nii.gz")
    bad_cases.garble(str(gt_dir / "BraTS2021_00003.nii.gz"))
    result = evaluate_folders(str(pred_dir), str(gt_dir), "brats2023")
    assert [row["case_id"] for row in result["rows"]] == ["BraTS2021_00001"]
    assert [row["case_id"] for row in result["empty_rows"]] == ["BraTS2021_00000",
                                                                 "BraTS2021_00002"]
    assert result["left_out"] == ["BraTS2021_00003"]
    summary = write_results(str(tmp_path / "scores"), result)
    assert summary["mean"]["dice_WT"] == 1.0

    document = _strict_json((tmp_path / "scores" / "summary.json").read_text())
    assert document["cases"] == 1 and document["summary"]["mean"]["dice_WT"] == 1.0
    assert document["all_cases"] == {"cases": 3, "empty_prediction": [
        "BraTS2021_00000", "BraTS2021_00002"], "left_out": ["BraTS2021_00003"]}
    every = document["summary_all_cases"]["mean"]
    assert every == pytest.approx({**{f"{metric}_{region}": value for region in (
        "WT", "TC", "ET") for metric, value in [
        ("dice", 1 / 3), ("hd95", 2 * 373.13 / 3), ("sensitivity", 1 / 3), ("specificity", 1),
        ("lesion_dice", 1 / 3), ("lesion_hd95", 2 * 374 / 3), ("lesion_fp", 0), ("nsd", 1 / 3)]},
        "lesion_tp_WT": 2 / 3, "lesion_fn_WT": 4 / 3, "lesion_tp_TC": 1 / 3,
        "lesion_fn_TC": 2 / 3, "lesion_tp_ET": 1 / 3, "lesion_fn_ET": 2 / 3})
    assert document["summary_all_cases"]["median"]["dice_ET"] == 0.0
    with open(tmp_path / "scores" / "summary.csv") as handle:
        table = {(row["cases"], row["statistic"]): row for row in csv.DictReader(handle)}
    assert list(table)[:6] == [("scored", "mean"), ("scored", "std"), ("scored", "median"),
                               ("scored", "25quantile"), ("scored", "75quantile"),
                               ("all", "mean")]
    assert float(table["scored", "mean"]["dice_WT"]) == 1.0
    assert float(table["all", "mean"]["dice_WT"]) == pytest.approx(1 / 3)
