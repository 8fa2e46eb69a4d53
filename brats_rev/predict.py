"""Segments BraTS cases with a trained model: one `<case_id>.nii.gz` per case.

    python -m brats_rev.predict --model=runs/exp1 --input=/data/BraTS2021 \
        --output_dir=/data/predictions [--tta=flips8] [--save_probabilities] [--overwrite]

`--model` is a `.keras` file, a training run folder or a checkpoint folder; `--input` a case
folder or a dataset root (searched recursively). The labels are those of the model's task
(`data.task` of its run's config.json). Writes `prediction_report.json` in
`--output_dir` and exits with status 1 if any case failed. See docs/INFERENCE.md.
"""

from absl import app, flags

from brats_rev import program
from brats_rev.inference import batch
from brats_rev.inference import flags as inference_flags


def main(argv):
    """Entry point: predicts every case found under --input; returns the exit status (absl's
    app.run exits with it)."""
    del argv
    options = flags.FLAGS
    output_options = inference_flags.output_options(options)
    config = inference_flags.inference_config(options)
    found = inference_flags.input_cases(options)
    loaded = inference_flags.loaded_model(options)
    from brats_rev.inference.predictor import Predictor  # TensorFlow: after the flag checks

    try:
        predictor = Predictor(loaded.model, loaded.window_size, config, loaded.task)
    except ValueError as error:  # a --label_convention or --thresholds the task does not take
        raise app.UsageError(str(error)) from None
    report, problems = batch.predict_folder(predictor, found, options.output_dir, output_options)
    header = {"model": options.model, "task": loaded.task.name, "input": options.input,
              "window_size": list(predictor.window_size), "config": config.to_dict()}
    return batch.write_report(options.output_dir, header, report, problems)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    inference_flags.define_model_flags()
    inference_flags.define_case_flags()
    inference_flags.define_inference_flags()


def run():
    """Runs the program: `python -m brats_rev.predict` and the `brats-rev-predict` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
