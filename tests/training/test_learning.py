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
    threshold, nothing = (np.array([scored["baselines"][name]["mean"][f"dice_{r}"]
                                    for r in labels.REGIONS])
                          for name in ("threshold", "background"))
    print(f"held-out Dice WT/TC/ET: model {model.round(3)}, threshold {threshold.round(3)}, "
          f"nothing {nothing.round(3)}")
    # Measured (2-core Xeon, commit of this test): model 0.698 / 0.637 / 0.489, threshold
    # 0.566 / 0.482 / 0.540, nothing 0 / 0 / 0.333. 400 steps do not yet find ET better than
    # the threshold does; WT, TC and the mean must be clearly better.
    assert np.all(model[:2] > nothing[:2] + 0.3), (model, nothing)
    assert np.all(model[:2] > threshold[:2] + 0.05), (model, threshold)
    assert model.mean() > threshold.mean() + 0.03, (model, threshold)

    steps, losses = report.read_scalars(str(run / "logs" / "train"))["loss"]
    assert len(losses) >= 6
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
