"""Each task end to end on tiny phantoms: convert, train a few steps, predict, evaluate, with
the task carried from the manifest to the run, the model and the scores; each label set is
also exported (the SavedModel of tasks that share labels and regions differs only in the
task named in export.json)."""

import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import phantoms, run_folder, tasks
from brats_rev.config import InferenceConfig
from brats_rev.data import layouts
from brats_rev.evaluation_files import columns, evaluate_folders
from brats_rev.inference import batch
from brats_rev.inference.loading import load_model
from brats_rev.inference.predictor import Predictor
from brats_rev.serving import saved_model
from brats_rev.training import run_config, train_lib
from brats_rev.training import strategy as strategy_lib
from pipelines import conversion, convert_brats

SHAPE = (24, 24, 24)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Task, the release layout its phantoms are written in, and the --task conversion needs:
# first the tasks exported, one per label set, then the other tasks (2023 layout, named by
# their challenge; --task where the name does not decide).
EXPORTED = [("gli2023", "2021", None), ("gli2024", "2023", "gli2024"),
            ("ped2024", "2023", "ped2024")]
CASES = EXPORTED + [
    (name, "2023", None if tasks.CHALLENGE_DEFAULTS.get(task.challenge) == name else name)
    for name, task in tasks.TASKS.items() if name not in {row[0] for row in EXPORTED}]
# A tiny run: 2 levels of 8 and 16 channels, 16^3 patches, 1 epoch of 2 steps, validated.
OVERRIDES = ["model.filters=[8,16]", "data.patch_size=16", "train.steps_per_epoch=2",
             "train.epochs=1", "train.warmup_steps=1", "train.fold=0", "train.val_every=1",
             "train.log_every=1"]
# The briefly trained model's probabilities sit near 0.5: thresholds just below give every
# class somewhere.
THRESHOLD = 0.45


def _segment_in_a_fresh_process(version_dir, image_path, convention):
    """The label values the exported `segment` signature writes for the FLAIR-first image in
    `image_path` (.npy), loaded by a new Python process that imports nothing of ours."""
    code = ("import sys, numpy as np, tensorflow as tf\n"
            "segment = tf.saved_model.load(sys.argv[1]).signatures['segment']\n"
            "out = segment(image=tf.constant(np.load(sys.argv[2])), label_convention="
            "tf.constant(sys.argv[3]), tta=tf.constant('none'), return_probabilities="
            "tf.constant(True))\n"
            "print(sorted(np.unique(out['labels'].numpy()).tolist()), "
            "out['probabilities'].shape[-1])\n")
    done = subprocess.run([sys.executable, "-c", code, version_dir, image_path, convention],
                          capture_output=True, text=True, check=False, cwd="/",
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize("task_name, release, task_flag", CASES)
def test_a_dataset_of_each_task_converts_trains_predicts_evaluates_and_exports(
        tmp_path, task_name, release, task_flag):
    task = tasks.TASKS[task_name]
    source, records_dir = tmp_path / "source", tmp_path / "records"
    ids = phantoms.write_dataset(str(source), 4, release, SHAPE, seed=1, task=task)
    document = convert_brats.convert(str(source), str(records_dir), conversion.ConversionOptions(
        margin=2, num_folds=2), num_shards=1, progress_stream=open(os.devnull, "w"),
        task=task_flag)
    assert document["task"] == task_name and document["num_cases"] == 4

    run = run_config.resolve("tiny", overrides=[f"data.data_dir={records_dir}", *OVERRIDES])
    model_dir = str(tmp_path / "run")
    result = train_lib.train(run, model_dir, strategy_lib.create_strategy("default"))
    assert result.step == 2 and result.best_mean_dice is not None
    saved = run_folder.read_config(model_dir)
    assert saved.data.task == task_name and saved.model.num_outputs == len(task.regions)
    best = json.loads((tmp_path / "run" / run_folder.BEST_DIR / "best.json").read_text())
    assert sorted(best["dice"]) == sorted(task.regions)

    loaded = load_model(model_dir)
    assert loaded.task == task
    config = InferenceConfig(thresholds=(THRESHOLD,) * len(task.regions))
    predictor = Predictor(loaded.model, loaded.window_size, config, loaded.task)
    cases, _ = batch.find_cases(str(source), require_seg=False)
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    report = batch.predict_cases(predictor, cases, str(predictions), batch.OutputOptions())
    assert report["written"] == ids
    convention = task.conventions[0] if task_flag else layouts.LAYOUTS[release].convention
    allowed = set(tasks.CONVENTIONS[convention])
    for case_id in ids:
        values = set(np.unique(np.asarray(nib.load(predictions / f"{case_id}.nii.gz").dataobj)))
        assert values <= allowed, (case_id, values)

    scores = evaluate_folders(str(predictions), str(source), task=task_name)
    assert [row["case_id"] for row in scores["rows"]] == ids and not scores["failed"]
    assert set(scores["rows"][0]) == {"case_id", *columns(task_name)}
    assert scores["task"] == task_name
    references = tmp_path / "references"
    references.mkdir()
    for case in cases:
        shutil.copy(case.seg, references / f"{case.case_id}.nii.gz")
    perfect = evaluate_folders(str(references), str(source), task=task_name)
    for row in perfect["rows"]:
        assert all(row[f"dice_{region}"] == 1.0 for region in task.regions), row

    if (task_name, release, task_flag) not in EXPORTED:
        return
    version = saved_model.export_model(loaded.model, loaded.window_size, str(tmp_path / "export"),
                                       config=config, task=loaded.task)
    metadata = json.loads(open(os.path.join(version, saved_model.METADATA_NAME)).read())
    assert metadata["task"] == task_name and metadata["regions"] == list(task.region_names)
    assert metadata["label_conventions"] == list(task.conventions)
    image = np.stack([np.asarray(nib.load(path).dataobj, np.float32) for path in cases[0].images],
                     axis=-1)
    expected = predictor.predict_image(image, cases[0].convention)
    if task_name == "ped2024":
        np.save(tmp_path / "image.npy", image)
        assert _segment_in_a_fresh_process(version, str(tmp_path / "image.npy"), convention) == (
            f"{sorted(np.unique(expected.labels).tolist())} {len(task.regions)}")
    else:
        segment = tf.saved_model.load(version).signatures["segment"]
        served = segment(image=tf.constant(image), label_convention=tf.constant(convention),
                         tta=tf.constant("none"), return_probabilities=tf.constant(False))
        np.testing.assert_array_equal(served["labels"].numpy(), expected.labels)
