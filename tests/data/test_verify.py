"""The QA report: per-case status, shapes, region volumes and problems, from NIfTI or records."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from brats_rev import config, labels, phantoms, tasks
from brats_rev.data import case_tasks, layouts, manifest, verify
from brats_rev.phantoms.task_labels import task_labels
from pipelines import conversion, convert_brats
from tests.data import bad_cases

SHAPE = (24, 28, 20)


def _dataset(root):
    ids = phantoms.write_dataset(str(root), 3, "2020", SHAPE, seed=4)
    layout = layouts.LAYOUTS["2020"]
    bad_cases.zero(str(root / ids[1] / layout.file_name(ids[1], "t1ce")))
    bad_cases.shift_affine(str(root / ids[2] / layout.file_name(ids[2], "t2")), 5e-4)
    return ids


def test_nifti_report(tmp_path):
    ids = _dataset(tmp_path)
    report = verify.report_nifti(str(tmp_path))
    assert report["summary"] == {"ok": 1, "warning": 1, "rejected": 1}
    rows = {row["case_id"]: row for row in report["cases"]}
    assert [rows[i]["status"] for i in ids] == ["ok", "rejected", "warning"]
    expected = labels.region_voxel_counts(phantoms.make_phantom(SHAPE, [4, 0]).canonical)
    assert rows[ids[0]]["region_voxels"] == expected
    assert rows[ids[0]]["region_ml"] == {r: n / 1000 for r, n in expected.items()}
    assert rows[ids[0]]["shape"] == list(SHAPE) and rows[ids[0]]["spacing"] == [1.0, 1.0, 1.0]
    assert "all-zero modality t1ce" in rows[ids[1]]["problems"][0]["problem"]
    text = verify.format_report(report)
    assert f"      ok  {ids[0]}  24x28x20  WT={expected['WT'] / 1000:.1f}ml" in text
    assert text.endswith("3 cases: 1 ok, 1 with warnings, 1 rejected")


def test_nifti_report_of_gli2024_cases_reads_the_resection_cavity_with_the_task(tmp_path):
    """As conversion: label 4 is refused as gli2023 (the BraTS-GLI default), read as gli2024,
    whose RC region the report counts."""
    gli2024 = tasks.TASKS["gli2024"]
    [case_id] = phantoms.write_dataset(str(tmp_path), 1, "2023", SHAPE, seed=4, task=gli2024)
    assert verify.report_nifti(str(tmp_path))["summary"]["rejected"] == 1
    report = verify.report_nifti(str(tmp_path), task="gli2024")
    [row] = report["cases"]
    assert report["task"] == "gli2024" and row["status"] == "ok"
    expected = labels.region_voxel_counts(task_labels(
        phantoms.make_phantom(SHAPE, [4, 0]).canonical, gli2024), gli2024)
    assert row["region_voxels"] == expected and expected["RC"] > 0
    with pytest.raises(case_tasks.TaskError, match=f"ped2024 does not apply to case {case_id}"):
        verify.report_nifti(str(tmp_path), task="ped2024")


@pytest.mark.slow
def test_tfrecords_report_and_cli(tmp_path):
    ids = _dataset(tmp_path / "in")
    convert_brats.convert(str(tmp_path / "in"), str(tmp_path / "out"),
                          conversion.ConversionOptions(), progress_stream=open(os.devnull, "w"))
    report = verify.report_tfrecords(str(tmp_path / "out"))
    assert [row["case_id"] for row in report["cases"]] == [ids[0], ids[2]]
    expected = labels.region_voxel_counts(phantoms.make_phantom(SHAPE, [4, 0]).canonical)
    assert report["cases"][0]["region_voxels"] == expected
    shard = tmp_path / "out" / manifest.load_manifest(str(tmp_path / "out"))["shards"][0]["file"]
    shard.write_bytes(shard.read_bytes()[:-50])
    broken = verify.report_tfrecords(str(tmp_path / "out"))
    assert broken["summary"]["rejected"] == 1
    assert "corrupt or truncated" in broken["cases"][-1]["problems"][0]["problem"]

    json_out = tmp_path / "qa.json"
    result = subprocess.run(
        [sys.executable, "-m", "brats_rev.data.verify", f"--input_dir={tmp_path / 'in'}",
         f"--json_out={json_out}"], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, check=False)
    assert result.returncode == 1, result.stderr
    assert "1 ok, 1 with warnings, 1 rejected" in result.stdout
    written = json.loads(json_out.read_text())
    assert written["summary"] == {"ok": 1, "warning": 1, "rejected": 1}
    assert np.isclose(written["cases"][0]["region_ml"]["WT"], expected["WT"] / 1000)


def test_shards_without_a_manifest_are_an_incomplete_dataset(tmp_path):
    """A folder of shards and no manifest.json (an unfinished conversion, or shards copied
    out of a dataset) is rejected; a shard given on its own is still read."""
    shards = [path for path, _, _ in manifest.verified_shards(config.SAMPLE_DATA_DIR)]
    for path in shards:
        shutil.copy(path, tmp_path)
    report = verify.report_tfrecords(str(tmp_path))
    assert report["summary"] == {"ok": 0, "warning": 0, "rejected": 1}
    [problem] = report["cases"][0]["problems"]
    assert f"{tmp_path} holds no {manifest.MANIFEST_NAME}" in problem["problem"]
    assert "the conversion did not finish" in problem["problem"]
    alone = verify.report_tfrecords(str(tmp_path / os.path.basename(shards[0])))
    assert alone["summary"]["ok"] == len(manifest.verified_shards(config.SAMPLE_DATA_DIR)[0][2])
