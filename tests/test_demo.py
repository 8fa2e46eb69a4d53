"""`python -m brats_rev.demo --size=quick` end to end on CPU: every artefact exists and loads,
and the model learned: on the held-out realistic cases it beats predicting background and the
threshold baseline fitted on the same training cases, and its training loss falls."""

import csv
import json
import os
import re
import subprocess
import sys

import keras
import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf

import brats_rev.models  # noqa: F401  (registers the layers for model.keras)
from brats_rev.data import manifest, records
from brats_rev.data.cases import find_cases
from brats_rev.demo import report, workflow
from tests.training import helpers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_records(layout, size):
    document = manifest.load_manifest(layout.records)
    expected = [f"BraTS2021_{k:05d}" for k in range(size.train_cases)]
    assert sorted(document["cases"]) == expected
    shards = manifest.verified_shards(layout.records)  # sha256 of every shard
    assert sum(count for _, count, _ in shards) == size.train_cases
    decoded = list(records.read_cases(layout.records))
    assert sorted(case["case_id"] for case in decoded) == expected
    assert all(case["image"].shape[-1] == 4 for case in decoded)


def _check_run(layout):
    assert tf.train.latest_checkpoint(os.path.join(layout.run, "checkpoints")) is not None
    config = json.load(open(os.path.join(layout.run, "config.json"), encoding="utf-8"))
    assert config["data"]["data_dir"] == layout.records
    model = keras.saving.load_model(os.path.join(layout.run, "model.keras"))
    patch = config["data"]["patch_size"]
    logits = model(np.zeros((1, *patch, 4), np.float32))["logits"]
    assert logits.shape == (1, *patch, 3)


def _check_predictions(layout, size):
    cases, problems = find_cases(layout.heldout_nifti)
    assert not problems
    expected = [f"BraTS2021_{k:05d}" for k in range(size.train_cases,
                                                    size.train_cases + size.heldout_cases)]
    assert sorted(case.case_id for case in cases) == expected
    for case in cases:
        flair = nib.load(case.images[0])
        predicted = nib.load(os.path.join(layout.predictions, f"{case.case_id}.nii.gz"))
        assert predicted.shape == flair.shape == size.shape
        np.testing.assert_array_equal(predicted.affine, flair.affine)
        values = set(np.unique(np.asarray(predicted.dataobj)).tolist())
        assert values <= {0, 1, 2, 4}  # BraTS 2021 labels, as the input case
    return expected


def _check_export(layout):
    """The SavedModel loads, has both signatures, and `segment` labels a held-out case exactly
    as `brats_rev.predict` did."""
    version = report.export_version(layout.export)
    assert os.path.basename(version) == "1"
    loaded = tf.saved_model.load(version)
    assert {"serving_default", "segment"} <= set(loaded.signatures)
    case = sorted(find_cases(layout.heldout_nifti)[0], key=lambda c: c.case_id)[0]
    image = np.stack([np.asarray(nib.load(path).dataobj) for path in case.images], axis=-1)
    served = loaded.signatures["segment"](
        image=tf.constant(image.astype(np.float32)), label_convention=tf.constant("brats2021"),
        tta=tf.constant("none"), return_probabilities=tf.constant(False))["labels"].numpy()
    predicted = np.asarray(nib.load(
        os.path.join(layout.predictions, f"{case.case_id}.nii.gz")).dataobj)
    np.testing.assert_array_equal(served, predicted)


def _check_metrics(layout, case_ids):
    with open(os.path.join(layout.evaluation, "metrics.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["case_id"] for row in rows] == case_ids
    for row in rows:
        for region in ("WT", "TC", "ET"):
            assert 0.0 <= float(row[f"dice_{region}"]) <= 1.0
    summary = json.load(open(os.path.join(layout.evaluation, "summary.json"), encoding="utf-8"))
    assert summary["cases"] == len(case_ids) and not summary["missing"]
    return summary["summary"]["mean"]


def _check_learning(layout, mean):
    """The held-out Dice beats the baselines scored on the same cases, and the loss falls
    (`helpers.assert_learned`)."""
    scored = json.load(open(os.path.join(layout.baselines, "baselines.json"), encoding="utf-8"))
    by_baseline = {name: [entry["mean"][f"dice_{r}"] for r in ("WT", "TC", "ET")]
                   for name, entry in scored["baselines"].items()}
    _, losses = report.read_scalars(os.path.join(layout.run, "logs", "train"))["loss"]
    helpers.assert_learned([mean[f"dice_{r}"] for r in ("WT", "TC", "ET")], by_baseline, losses)


def _check_report(layout):
    text = open(layout.report, encoding="utf-8").read()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(os.path.basename(path) for path in images) == [
        "case_overlay.png", "memory_vs_depth.png", "memory_vs_patch.png",
        "training_curves.png"]
    for relative in images:
        path = os.path.join(layout.root, relative)
        with open(path, "rb") as handle:
            assert handle.read(8) == PNG_SIGNATURE, path
        decoded = tf.io.decode_png(tf.io.read_file(path))  # the whole file decodes
        assert decoded.shape[0] > 100 and decoded.shape[1] > 100
    return text


@pytest.mark.slow
def test_quick_demo_writes_every_artefact_and_learns(tmp_path):
    layout = workflow.DemoLayout(str(tmp_path / "demo"))
    size = workflow.SIZES["quick"]
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.demo", f"--output_dir={layout.root}", "--size=quick"],
        capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    _check_records(layout, size)
    _check_run(layout)
    case_ids = _check_predictions(layout, size)
    mean = _check_metrics(layout, case_ids)
    _check_learning(layout, mean)
    _check_export(layout)
    text = _check_report(layout)

    stages = json.load(open(layout.timings, encoding="utf-8"))
    names = [stage["name"] for stage in stages]
    assert names == [stage.name for stage in workflow.stages(layout, size)]
    for stage in stages:
        assert f"$ {stage['command']}" in done.stdout  # each command printed before it ran
        assert f"`{stage['command']}`" in text
    bench = json.load(open(layout.bench_json, encoding="utf-8"))
    modes = {point["spec"]["changes"]["block_mode"] for point in bench["points"]}
    assert modes == {"reversible", "plain"}
    for region in ("WT", "TC", "ET"):  # the printed summary holds the evaluated means
        line = f"| Dice {region}, mean of {len(case_ids)} held-out cases | "
        assert f"{line}{mean[f'dice_{region}']:.4f} |" in done.stdout
    assert "| threshold baseline: Dice WT / TC / ET | " in done.stdout
    assert "| threshold baseline |" in text  # the model-vs-baselines table
