"""Learning happens on realistic cases, not only on cases a threshold solves.

A short CPU run of the tiny preset on realistic phantoms (real TFRecords, the train and predict
commands in fresh processes, evaluate's scoring) must beat, on held-out cases, both the
prediction of nothing and the per-region threshold baseline fitted on the same training cases,
and its loss must fall. A model that predicts background, or one no better than a threshold,
fails.
"""

import numpy as np
import pytest

from brats_rev import evaluation_files, labels, phantoms
from brats_rev.bench import baselines
from brats_rev.demo import report
from pipelines import conversion, convert_brats
from tests.training import helpers

pytestmark = pytest.mark.slow

SHAPE = (64, 64, 42)  # realistic cases at about 3.75 mm
TRAIN_CASES, HELDOUT_CASES = 8, 3


def _mean_dice(rows):
    return np.array([np.mean([row[f"dice_{r}"] for row in rows]) for r in labels.REGIONS])


def test_short_training_beats_nothing_and_the_threshold_baseline(tmp_path):
    train_nifti, heldout = tmp_path / "train", tmp_path / "heldout"
    phantoms.write_dataset(str(train_nifti), TRAIN_CASES, "2021", SHAPE, kind="realistic")
    phantoms.write_dataset(str(heldout), HELDOUT_CASES, "2021", SHAPE, kind="realistic",
                           first_case=TRAIN_CASES)
    records = tmp_path / "records"
    convert_brats.convert(str(train_nifti), str(records),
                          conversion.ConversionOptions(num_folds=4), num_shards=2)
    run = tmp_path / "run"
    code, output = helpers.finish(helpers.launch("brats_rev.train", [
        "--preset=tiny", f"--data_dir={records}", f"--model_dir={run}", "--epochs=16",
        "--val_every=16"]), timeout=900)
    assert code == 0, output[-3000:]
    code, output = helpers.finish(helpers.launch("brats_rev.predict", [
        f"--model={run}", f"--input={heldout}", f"--output_dir={tmp_path / 'pred'}"]))
    assert code == 0, output[-3000:]
    scored = evaluation_files.evaluate_folders(str(tmp_path / "pred"), str(heldout))
    assert len(scored["rows"]) == HELDOUT_CASES and not scored["failed"]
    model = _mean_dice(scored["rows"])

    scored = baselines.score_baselines(str(train_nifti), str(heldout), str(tmp_path / "baselines"))
    by_baseline = {name: [entry["mean"][f"dice_{r}"] for r in labels.REGIONS]
                   for name, entry in scored["baselines"].items()}
    print(f"held-out Dice WT/TC/ET: model {model.round(3)}, baselines {by_baseline}")
    _, losses = report.read_scalars(str(run / "logs" / "train"))["loss"]
    helpers.assert_learned(model, by_baseline, losses)
