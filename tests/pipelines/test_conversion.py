"""Conversion end to end on tiny phantoms: layouts, exact labels, rejects, determinism, Beam,
and publishing: a conversion replaces the dataset in its output folder whole or not at all."""

import dataclasses
import os
import re
import shutil

import nibabel as nib
import numpy as np
import pytest

from brats_rev import labels, phantoms, tasks
from brats_rev.data import case_tasks, layouts, manifest, prepare, preprocess, records
from pipelines import conversion, convert_brats, publish
from tests.data import bad_cases
from tests.pipelines.folders import file_bytes

SHAPE = (24, 28, 20)
OPTIONS = conversion.ConversionOptions(margin=2, max_foreground_per_class=16, num_folds=2)


def _convert(input_dir, output_dir, **kwargs):
    return convert_brats.convert(str(input_dir), str(output_dir), OPTIONS,
                                 progress_stream=open(os.devnull, "w"), **kwargs)


@pytest.mark.parametrize("release", ["2020", "2021", "2023"])
@pytest.mark.parametrize("extension", [".nii.gz", ".nii"])
def test_each_layout_converts_and_labels_round_trip_exactly(tmp_path, release, extension):
    ids = phantoms.write_dataset(str(tmp_path / "in"), 3, release, SHAPE, seed=5,
                                 extension=extension)
    document = _convert(tmp_path / "in", tmp_path / "out", num_shards=2)
    assert document["num_cases"] == 3 and document["rejected"] == []
    assert [s["case_ids"] for s in document["shards"]] == [ids[:1], ids[1:]]
    layout = layouts.LAYOUTS[release]
    decoded = {c["case_id"]: c for c in records.read_cases(str(tmp_path / "out"))}
    assert sorted(decoded) == ids
    for case_id in ids:
        case = decoded[case_id]
        seg_path = tmp_path / "in" / case_id / layout.file_name(case_id, "seg", extension)
        source = np.asarray(nib.load(str(seg_path)).dataobj)
        full = preprocess.uncrop(case["label"], case["crop_box"], case["original_shape"])
        np.testing.assert_array_equal(labels.from_canonical(full, layout.convention), source)
        metadata = document["cases"][case_id]
        et_value = 3 if release == "2023" else 4
        assert metadata["region_voxels"]["ET"] == int(np.sum(source == et_value))
        assert metadata["region_voxels"]["WT"] == int(np.count_nonzero(source))
        assert metadata["convention"] == case["convention"] == layout.convention
        np.testing.assert_array_equal(case["affine"], phantoms.phantom_affine(SHAPE))
        assert case["image_encoding"] == records.INT16_SOURCE  # phantoms are int16
        image = _source_image(tmp_path / "in", metadata)
        prepared = prepare.prepare_case(image, source, layout.convention, OPTIONS.margin)
        np.testing.assert_array_equal(case["image"], prepared.image)


def _source_image(root, metadata):
    """float32 (X, Y, Z, 4) of a converted case's four modality files."""
    return np.stack([np.asarray(nib.load(str(root / path)).dataobj, np.float32)
                     for path in metadata["source_files"][:4]], axis=-1)


def test_float_source_is_stored_as_float16_zscores(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2023", SHAPE, seed=3)
    document = _convert(tmp_path / "in", tmp_path / "int16")
    flair_path = tmp_path / "in" / document["cases"][ids[1]]["source_files"][0]
    flair = nib.load(str(flair_path))
    values = np.asarray(flair.dataobj).astype(np.float32)
    values[values != 0] += 0.25  # a float volume, as some BraTS 2023 files are
    nib.save(nib.Nifti1Image(values, flair.affine), str(flair_path))
    document = _convert(tmp_path / "in", tmp_path / "out")
    decoded = {c["case_id"]: c for c in records.read_cases(str(tmp_path / "out"))}
    assert [decoded[i]["image_encoding"] for i in ids] == [records.INT16_SOURCE,
                                                           records.FLOAT16_ZSCORE]
    metadata = document["cases"][ids[1]]
    seg = np.asarray(nib.load(str(tmp_path / "in" / metadata["source_files"][4])).dataobj)
    prepared = prepare.prepare_case(_source_image(tmp_path / "in", metadata), seg, "brats2023",
                                    OPTIONS.margin)
    np.testing.assert_array_equal(decoded[ids[1]]["image"],
                                  prepared.image.astype(np.float16).astype(np.float32))
    int16_shards = [(tmp_path / "int16" / s["file"]).stat().st_size
                    for s in manifest.load_manifest(str(tmp_path / "int16"))["shards"]]
    assert sum(int16_shards) < sum(s["bytes"] for s in document["shards"])


BREAKERS = {
    "truncated": (0, bad_cases.truncate, "unreadable flair file"),
    "corrupt": (1, bad_cases.garble, "unreadable t1 file"),
    "4d": (2, bad_cases.make_4d, "t1ce is a 4D volume"),
    "shape": (3, bad_cases.crop_shape, "t2 shape (23, 28, 20) differs"),
    "affine": (4, lambda p: bad_cases.shift_affine(p, 3.0), "seg affine differs from flair"),
    "nan": (0, bad_cases.put_nan, "flair has 1 NaN/Inf voxels"),
    "zero": (1, bad_cases.zero, "all-zero modality t1"),
    "labels": (4, lambda p: bad_cases.set_label(p, 3), "label values [3] are not allowed"),
}


@pytest.fixture(scope="module")
def mixed_dataset(tmp_path_factory):
    """A 2021 dataset: 2 good cases, one case per bad kind, a missing modality, an odd folder."""
    root = tmp_path_factory.mktemp("mixed") / "in"
    ids = phantoms.write_dataset(str(root), len(BREAKERS) + 3, "2021", SHAPE, seed=9)
    layout = layouts.LAYOUTS["2021"]
    expected = {}
    for case_id, (role, breaker, message) in zip(ids, BREAKERS.values(), strict=False):
        roles = ("flair", "t1", "t1ce", "t2", "seg")
        breaker(str(root / case_id / layout.file_name(case_id, roles[role])))
        expected[case_id] = message
    missing = ids[len(BREAKERS)]
    os.remove(root / missing / layout.file_name(missing, "t2"))
    expected[missing] = "missing modality t2"
    shutil.copytree(root / ids[-1], root / "extra_scan")
    expected["extra_scan"] = "unknown layout"
    return root, ids[-2:], expected


@pytest.mark.parametrize("runner", ["local", "beam"])
def test_bad_cases_are_rejected_with_reasons_and_good_ones_converted(tmp_path, mixed_dataset,
                                                                     runner):
    if runner == "beam":
        pytest.importorskip("apache_beam")
    root, good, expected = mixed_dataset
    document = _convert(root, tmp_path / "out", num_shards=3, runner=runner)
    assert document["num_cases"] == 2
    assert [c["case_id"] for c in records.read_cases(str(tmp_path / "out"))] == good
    rejected = {p["case_id"]: p for p in document["rejected"]}
    assert sorted(rejected) == sorted(expected)
    for case_id, message in expected.items():
        assert message in rejected[case_id]["problem"], (case_id, rejected[case_id])
        assert rejected[case_id]["file"].startswith(str(root))
    assert manifest.load_manifest(str(tmp_path / "out"))["rejected"] == document["rejected"]
    with open(tmp_path / "out" / _set_folder(document) / manifest.REJECTED_NAME) as report:
        assert report.read() == manifest.to_json(document["rejected"])
    assert sum(s["num_records"] for s in document["shards"]) == 2
    assert sorted(c for fold in document["folds"] for c in fold) == good


def _set_folder(document):
    """The folder (relative to the output folder) holding the shards of a published manifest."""
    [folder] = {os.path.dirname(shard["file"]) for shard in document["shards"]}
    return folder


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "in"
    phantoms.write_dataset(str(root), 5, "2023", SHAPE, seed=2)
    return root


@pytest.mark.slow
def test_reruns_and_worker_counts_give_identical_bytes(tmp_path, small_dataset):
    document = _convert(small_dataset, tmp_path / "a", num_shards=2)
    first = file_bytes(tmp_path / "a")
    folder = _set_folder(document)
    assert folder.startswith("records-") and len(folder) == len("records-") + 12
    assert list(first) == ["manifest.json"] + [
        os.path.join(folder, name) for name in ("brats-00000-of-00002.tfrecord.gz",
                                                "brats-00001-of-00002.tfrecord.gz",
                                                "rejected.json")]
    _convert(small_dataset, tmp_path / "a", num_shards=2)  # rerun into the same folder
    assert file_bytes(tmp_path / "a") == first
    _convert(small_dataset, tmp_path / "b", num_shards=2, workers=2)
    assert file_bytes(tmp_path / "b") == first


def test_rerun_with_other_options_replaces_the_set(tmp_path, small_dataset):
    old = _set_folder(_convert(small_dataset, tmp_path, num_shards=3))
    document = _convert(small_dataset, tmp_path, num_shards=1)
    new = _set_folder(document)
    assert new != old
    shard = f"{new}/brats-00000-of-00001.tfrecord.gz"
    assert list(file_bytes(tmp_path)) == ["manifest.json", shard, f"{new}/rejected.json"]
    assert {metadata["shard"] for metadata in document["cases"].values()} == {shard}
    assert len(list(records.read_cases(str(tmp_path)))) == 5


def test_a_rerun_repairs_a_damaged_set(tmp_path, small_dataset):
    document = _convert(small_dataset, tmp_path, num_shards=2)
    good = file_bytes(tmp_path)
    shard = tmp_path / document["shards"][1]["file"]
    shard.write_bytes(shard.read_bytes()[:-20])
    _convert(small_dataset, tmp_path, num_shards=2)
    assert file_bytes(tmp_path) == good


def test_beam_runner_matches_local_runner(tmp_path, small_dataset):
    pytest.importorskip("apache_beam")
    _convert(small_dataset, tmp_path / "local", num_shards=2)
    _convert(small_dataset, tmp_path / "beam", num_shards=2, runner="beam")
    assert file_bytes(tmp_path / "beam") == file_bytes(tmp_path / "local")


def test_a_conversion_that_stops_midway_leaves_the_published_dataset(tmp_path, small_dataset,
                                                                     monkeypatch):
    """Stopping while the second of three shards is written (as a kill would, without any
    clean-up) leaves the previous dataset byte for byte; the next run removes what it left."""
    _convert(small_dataset, tmp_path, num_shards=3)
    published = file_bytes(tmp_path)
    write_shard, calls = records.write_shard, []

    def stop_at_the_second_shard(path, serialized_records):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stops the run here, leaving what a kill would leave
        return write_shard(path, serialized_records)

    monkeypatch.setattr(records, "write_shard", stop_at_the_second_shard)
    other = dataclasses.replace(OPTIONS, margin=1)  # other options: other shard bytes
    with pytest.raises(KeyboardInterrupt):
        convert_brats.convert(str(small_dataset), str(tmp_path), other, num_shards=3,
                              progress_stream=open(os.devnull, "w"))
    left = file_bytes(tmp_path)
    assert {path: left[path] for path in published} == published
    [unfinished] = {path.split(os.sep)[0] for path in left if path not in published}
    assert unfinished.startswith(".staging-") and len(calls) == 2
    assert os.path.dirname(calls[0]) == str(tmp_path / unfinished)
    assert [c["case_id"] for c in records.read_cases(str(tmp_path))] == sorted(
        os.listdir(small_dataset))
    monkeypatch.setattr(records, "write_shard", write_shard)
    _convert(small_dataset, tmp_path, num_shards=3)
    assert file_bytes(tmp_path) == published


def test_a_dataset_of_the_flat_layout_is_read_and_replaced(tmp_path, small_dataset):
    """Earlier versions wrote the shards and rejected.json next to manifest.json."""
    document = _convert(small_dataset, tmp_path, num_shards=2)
    folder = tmp_path / _set_folder(document)
    for name in os.listdir(folder):
        os.rename(folder / name, tmp_path / name)
    folder.rmdir()
    for shard in document["shards"]:
        shard["file"] = os.path.basename(shard["file"])
    manifest.write_manifest(str(tmp_path), document)
    assert len(list(records.read_cases(str(tmp_path)))) == 5
    _convert(small_dataset, tmp_path, num_shards=1)
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", _set_folder(
        manifest.load_manifest(str(tmp_path)))]


def test_another_dataset_is_replaced_only_with_overwrite(tmp_path, small_dataset):
    _convert(small_dataset, tmp_path / "out", num_shards=2)
    published = file_bytes(tmp_path / "out")
    ids = phantoms.write_dataset(str(tmp_path / "other"), 2, "2023", SHAPE, first_case=7)
    with pytest.raises(publish.Refused) as refused:
        _convert(tmp_path / "other", tmp_path / "out")
    assert str(refused.value) == (
        f"--output_dir '{tmp_path / 'out'}' holds another dataset: 5 cases, 5 not in "
        f"--input_dir, e.g. BraTS-GLI-00000-000, and --input_dir has 2 it lacks, e.g. {ids[0]}; "
        "pass --overwrite to replace it")
    assert file_bytes(tmp_path / "out") == published
    document = _convert(tmp_path / "other", tmp_path / "out", overwrite=True)
    assert document["num_cases"] == 2
    assert [c["case_id"] for c in records.read_cases(str(tmp_path / "out"))] == ids
    assert sorted(os.listdir(tmp_path / "out")) == ["manifest.json", _set_folder(document)]


def test_plan_shards_is_contiguous_and_capped():
    cases = [type("C", (), {"case_id": f"c{i}"})() for i in (3, 1, 4, 0, 2)]
    plans = conversion.plan_shards(cases, 2)
    assert [p.file for p in plans] == ["brats-00000-of-00002.tfrecord.gz",
                                       "brats-00001-of-00002.tfrecord.gz"]
    assert [[c.case_id for c in p.cases] for p in plans] == [["c0", "c1"], ["c2", "c3", "c4"]]
    assert len(conversion.plan_shards(cases, 9)) == 5
    assert conversion.plan_shards([], 2) == []


def test_a_conversion_without_any_good_case_publishes_nothing(tmp_path, small_dataset):
    _convert(small_dataset, tmp_path / "out", num_shards=2)
    published = file_bytes(tmp_path / "out")
    shutil.copytree(small_dataset, tmp_path / "in")
    for case in sorted(os.listdir(tmp_path / "in")):  # the same cases, each without its t1
        os.remove(tmp_path / "in" / case / layouts.LAYOUTS["2023"].file_name(case, "t1"))
    with pytest.raises(publish.NothingConverted) as nothing:
        _convert(tmp_path / "in", tmp_path / "out")
    assert str(nothing.value) == (
        f"--output_dir '{tmp_path / 'out'}': no case converted (5 rejected), nothing published; "
        "any dataset there is unchanged")
    assert sorted({p["case_id"] for p in nothing.value.document["rejected"]}) == sorted(
        os.listdir(tmp_path / "in"))
    assert file_bytes(tmp_path / "out") == published
    with pytest.raises(publish.NothingConverted):  # into a new folder: it stays empty
        _convert(tmp_path / "in", tmp_path / "new")
    assert os.listdir(tmp_path / "new") == []


MISTAKES = {  # name: (input folder, output folder, start of the message), under tmp_path
    "missing input": ("absent", "out", "--input_dir '{tmp}/absent' is not a folder"),
    "empty input": ("empty", "out", "--input_dir '{tmp}/empty' holds no BraTS case folder"),
    "output is a file": ("in", "file", "--output_dir '{tmp}/file' is not a folder"),
    "output under a file": ("in", "file/out",
                            "--output_dir '{tmp}/file/out' cannot be written: Not a directory"),
    "read-only output": ("in", "locked",
                         "--output_dir '{tmp}/locked' cannot be written: Permission denied"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_unusable_folders_are_refused_before_anything_is_written(tmp_path, small_dataset,
                                                                  mistake):
    shutil.copytree(small_dataset, tmp_path / "in")
    (tmp_path / "empty").mkdir()
    (tmp_path / "locked").mkdir(mode=0o555)
    (tmp_path / "file").write_text("not a folder")
    before = file_bytes(tmp_path)
    input_dir, output_dir, expected = MISTAKES[mistake]
    output_dir, expected = tmp_path / output_dir, expected.format(tmp=tmp_path)
    if mistake == "read-only output" and os.geteuid() == 0:
        # Folder modes do not stop root; sysfs refuses new files to everyone.
        output_dir, expected = "/sys", "--output_dir '/sys' cannot be written: Operation not"
    with pytest.raises((convert_brats.NoInput, publish.Refused), match=re.escape(expected)):
        _convert(tmp_path / input_dir, output_dir)
    assert file_bytes(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["empty", "file", "in", "locked"]


def test_unlabelled_dataset_converts_without_labels(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2023", SHAPE, with_seg=False)
    document = _convert(tmp_path / "in", tmp_path / "out", num_shards=1)
    decoded = list(records.read_cases(str(tmp_path / "out")))
    assert [c["case_id"] for c in decoded] == ids
    assert all(c["label"] is None for c in decoded)
    assert all(len(c["foreground"]["ET"]) == 0 for c in decoded)
    assert document["cases"][ids[0]]["has_label"] is False
    assert document["cases"][ids[0]]["region_voxels"] is None


def test_gli2024_cases_with_a_resection_cavity_convert_with_their_task(tmp_path):
    """Label 4 (RC) is no 2023 label: read as gli2023 (the BraTS-GLI default) every case is
    rejected naming it; with task gli2024 the labels round trip and the task is recorded."""
    task = tasks.TASKS["gli2024"]
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2023", SHAPE, seed=5, task=task)
    with pytest.raises(publish.NothingConverted) as refused:
        _convert(tmp_path / "in", tmp_path / "refused")
    assert {p["case_id"] for p in refused.value.document["rejected"]} == set(ids)
    assert "label values [4] are not allowed" in refused.value.document["rejected"][0]["problem"]

    document = _convert(tmp_path / "in", tmp_path / "out", task="gli2024")
    assert document["task"] == "gli2024" and document["rejected"] == []
    for case in records.read_cases(str(tmp_path / "out")):
        layout = layouts.LAYOUTS["2023"]
        seg_path = tmp_path / "in" / case["case_id"] / layout.file_name(case["case_id"], "seg")
        source = np.asarray(nib.load(str(seg_path)).dataobj)
        assert 4 in source
        full = preprocess.uncrop(case["label"], case["crop_box"], case["original_shape"])
        np.testing.assert_array_equal(labels.from_canonical(full, "brats2024-gli"), source)
        assert case["task"] == "gli2024" and case["convention"] == "brats2024-gli"
        voxels = document["cases"][case["case_id"]]["region_voxels"]
        assert voxels["RC"] == int(np.sum(source == 4)) > 0
        assert voxels["WT"] == int(np.sum((source >= 1) & (source <= 3)))


def test_ped_cases_need_a_task_and_ped2024_reads_them_with_its_own_numbers(tmp_path):
    """BraTS-PED names do not tell 2023 from 2024 numbering: refused without a task, naming
    the cases, before anything is written. As ped2024, file value 1 is ET (not NCR)."""
    task = tasks.TASKS["ped2024"]
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2023", SHAPE, seed=5, task=task)
    with pytest.raises(case_tasks.TaskError, match=f"{ids[0]}, {ids[1]} do not tell their "
                                                    "task \\(ped2023 or ped2024"):
        _convert(tmp_path / "in", tmp_path / "refused")
    assert not os.path.exists(tmp_path / "refused")
    document = _convert(tmp_path / "in", tmp_path / "out", task="ped2024")
    for case in records.read_cases(str(tmp_path / "out")):
        seg_path = tmp_path / "in" / case["case_id"] / layouts.LAYOUTS["2023"].file_name(
            case["case_id"], "seg")
        source = np.asarray(nib.load(str(seg_path)).dataobj)
        voxels = document["cases"][case["case_id"]]["region_voxels"]
        assert voxels["ET"] == int(np.sum(source == 1)) > 0
        assert voxels["CC"] == int(np.sum(source == 3)) > 0
        assert voxels["ED"] == int(np.sum(source == 4)) > 0
        assert sorted(case["foreground"]) == ["CC", "ED", "ET", "NETC"]
        assert all(len(coordinates) for coordinates in case["foreground"].values())


def test_cases_of_several_tasks_or_of_another_task_are_refused_naming_them(tmp_path):
    gli = phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    men = phantoms.write_dataset(str(tmp_path / "in"), 1, "2023", SHAPE,
                                 task=tasks.TASKS["men2023"])
    with pytest.raises(case_tasks.TaskError, match=f"several tasks \\(gli2023: {gli[0]}; "
                                                    f"men2023: {men[0]}\\)"):
        _convert(tmp_path / "in", tmp_path / "out")
    with pytest.raises(case_tasks.TaskError, match=f"task men2023 does not apply to case "
                                                    f"{gli[0]} "):
        _convert(tmp_path / "in", tmp_path / "out", task="men2023")
    assert not os.path.exists(tmp_path / "out")
