"""How hard a dataset is: two non-learned baselines, fitted on training cases, scored on others.

    python -m brats_rev.bench.baselines --train_dir=/data/realistic/train \
        --test_dir=/data/realistic/test --output_dir=runs/baselines

Fits `brats_rev.intensity_baselines` (global thresholds per region; a per-voxel Gaussian
classifier) on every case of `--train_dir`, segments every case of `--test_dir`, writes the
segmentations as `brats_rev.predict` does (`<output_dir>/<baseline>/predictions/<case_id>.nii.gz`,
labels in the case's convention, the FLAIR's geometry) and scores them exactly as
`python -m brats_rev.evaluate` would (`<output_dir>/<baseline>/scores/`). Prints the mean Dice
and HD95 per region and writes `<output_dir>/baselines.json` (fitted rules and summaries).
A case that cannot be read is reported and skipped; the exit status is then 1.
"""

import json
import os

import nibabel as nib
from absl import app, flags

from brats_rev import atomic, evaluation_files, intensity_baselines, labels, program
from brats_rev.data import case_reader
from brats_rev.data.cases import find_cases
from brats_rev.inference import outputs

FLAGS = flags.FLAGS


def _loaded_cases(root, problems):
    """Yields LoadedCase objects of the labelled cases under `root`; appends problems."""
    cases, found = find_cases(root)
    problems.extend(found)
    for case in cases:
        loaded, case_problems = case_reader.load_case(case)
        problems.extend(p for p in case_problems if loaded is None)
        if loaded is not None and loaded.seg is not None:
            yield loaded


def _training_pairs(root, problems):
    """Yields (image, canonical labels) of each training case (read again on each pass)."""
    for loaded in _loaded_cases(root, problems):
        yield loaded.image, labels.to_canonical(loaded.seg, loaded.case.convention)


def score_baselines(train_dir, test_dir, output_dir):
    """Fits, predicts and scores every baseline; returns {"baselines": {...}, "problems": [...]}."""
    problems = []
    report = {}
    for name, baseline_class in intensity_baselines.BASELINES.items():
        model = baseline_class.fit(_training_pairs(train_dir, problems))
        prediction_dir = os.path.join(output_dir, name, "predictions")
        os.makedirs(prediction_dir, exist_ok=True)
        for loaded in _loaded_cases(test_dir, problems):
            canonical = model.predict(loaded.image)
            stored = labels.from_canonical(canonical, loaded.case.convention)
            outputs.write_nifti(outputs.output_path(prediction_dir, loaded.case.case_id),
                                stored, nib.load(loaded.case.images[0]))
        result = evaluation_files.evaluate_folders(prediction_dir, test_dir)
        summary = evaluation_files.write_results(os.path.join(output_dir, name, "scores"),
                                                 result)
        report[name] = {"fitted": model.describe(), "cases": len(result["rows"]),
                        "mean": summary["mean"], "std": summary["std"]}
    # Test cases are read once per baseline: report each problem once.
    return {"baselines": report, "problems": list(dict.fromkeys(str(p) for p in problems))}


def _print(result):
    """Prints the fitted rules and the mean (std) Dice and HD95 per region of each baseline."""
    header = "".join(f"{f'Dice {r}':>16}" for r in labels.GLI.region_names) + "".join(
        f"{f'HD95 {r} (mm)':>18}" for r in labels.GLI.region_names)
    print(f"{'baseline':10}{'cases':>6}{header}")
    for name, entry in result["baselines"].items():
        mean, std = entry["mean"], entry["std"]
        cells = "".join(f"{mean[f'dice_{r}']:>9.3f} ±{std[f'dice_{r}']:.3f}"
                        for r in labels.GLI.region_names)
        cells += "".join(f"{mean[f'hd95_{r}']:>11.1f} ±{std[f'hd95_{r}']:5.1f}"
                         for r in labels.GLI.region_names)
        print(f"{name:10}{entry['cases']:>6}{cells}")
    for name, entry in result["baselines"].items():
        for line in entry["fitted"]:
            print(f"  {name}: {line}")
    for line in result["problems"]:
        print(f"skipped: {line}")


def main(argv):
    """Entry point: runs, prints, writes baselines.json; exit 1 if a case was skipped."""
    del argv
    for name in ("train_dir", "test_dir"):
        if not os.path.isdir(getattr(FLAGS, name)):
            raise app.UsageError(f"--{name} {getattr(FLAGS, name)!r} is not a folder.")
    result = score_baselines(FLAGS.train_dir, FLAGS.test_dir, FLAGS.output_dir)
    atomic.write_text(os.path.join(FLAGS.output_dir, "baselines.json"),
                      json.dumps(result, indent=2) + "\n")
    _print(result)
    print(f"-> {FLAGS.output_dir}")
    return 1 if result["problems"] else 0


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("train_dir", None, "BraTS dataset root the baselines are fitted on.",
                        required=True)
    flags.DEFINE_string("test_dir", None, "BraTS dataset root of the held-out cases.",
                        required=True)
    flags.DEFINE_string("output_dir", None, "Folder for predictions, scores and baselines.json.",
                        required=True)


def run():
    """Runs the program: `python -m brats_rev.bench.baselines` and `brats-rev-baselines`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
