"""Segments BraTS cases with a trained model: one `<case_id>.nii.gz` per case.

    python -m brats_rev.predict --model=runs/exp1 --input=/data/BraTS2021 \
        --output_dir=/data/predictions [--tta=flips8] [--save_probabilities] [--overwrite]

`--model` is a `.keras` file, a training run folder or a checkpoint folder; `--input` a case
folder or a dataset root (searched recursively). Writes `prediction_report.json` in
`--output_dir` and exits with status 1 if any case failed. See docs/INFERENCE.md.
"""

import os

from absl import app, flags

from brats_rev.data.cases import find_cases
from brats_rev.inference import batch
from brats_rev.inference import flags as inference_flags
from brats_rev.inference.predictor import Predictor
from brats_rev.progress import Progress


def main(argv):
    """Entry point: predicts every case found under --input; returns the exit status (absl's
    app.run exits with it)."""
    del argv
    options = flags.FLAGS
    if not os.path.isdir(options.input):
        raise app.UsageError(f"--input {options.input!r} is not a folder.")
    if batch.inside(options.output_dir, options.input):
        raise app.UsageError(f"--output_dir {options.output_dir!r} is inside --input "
                             f"{options.input!r}; predictions are never written into the input.")
    config = inference_flags.inference_config(options)
    output_options = batch.OutputOptions(options.save_probabilities, options.probability_dtype,
                                         options.overwrite)
    predictor = Predictor.from_path(options.model, config,
                                    inference_flags.window_size(options), options.preset)
    cases, problems = find_cases(options.input, require_seg=False)
    os.makedirs(options.output_dir, exist_ok=True)
    report = batch.predict_cases(predictor, cases, options.output_dir, output_options,
                                 Progress(len(cases), failure="failed"))
    header = {"model": options.model, "input": options.input,
              "window_size": list(predictor.window_size), "config": config.to_dict()}
    return batch.write_report(options.output_dir, header, report, problems)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    inference_flags.define_model_flags()
    flags.DEFINE_string("input", None, "A case folder or a dataset root.", required=True)
    flags.DEFINE_string("output_dir", None, "Folder for <case_id>.nii.gz and the report.",
                        required=True)
    inference_flags.define_inference_flags()
    flags.DEFINE_boolean("save_probabilities", False,
                         "Also write <case_id>_probabilities.nii.gz (X, Y, Z, 3) WT, TC, ET.")
    flags.DEFINE_enum("probability_dtype", "uint8", list(batch.PROBABILITY_DTYPES),
                      "uint8 (scl_slope 1/255) or float32 probability maps.")
    flags.DEFINE_boolean("overwrite", False, "Replace existing outputs (else skip those cases).")


if __name__ == "__main__":
    define_flags()
    app.run(main)
