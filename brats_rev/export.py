"""Exports a trained model for TF Serving: `<export_base>/<version>/` SavedModel + model.keras.

    python -m brats_rev.export --model=runs/fold0 --export_base=/models/brats_rev \
        [--version=N] [--model_name=brats_rev] [--max_voxels=16777216] [--et_min_voxels=...]

`--model` is a `.keras` file, a training run folder or a checkpoint folder. The version is the
next free integer unless --version names one; an existing version is never replaced. The
sliding-window and post-processing flags are baked into the `segment` signature, and so is
the model's task (its regions and label conventions); the label convention and test-time
augmentation are chosen per request. Prints the version folder.
See docs/SERVING.md.
"""

from absl import app, flags, logging

from brats_rev import program
from brats_rev.inference import flags as inference_flags
from brats_rev.serving import model_base


def main(argv):
    """Entry point: writes one version; returns the exit status."""
    del argv
    logging.set_verbosity(logging.WARNING)  # SavedModel writing logs every traced name
    options = flags.FLAGS
    try:  # an existing --version is refused before the model is loaded
        model_base.free_version(options.export_base, options.version)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    loaded = inference_flags.loaded_model(options)
    from brats_rev.serving import saved_model  # TensorFlow: after the flag checks

    try:
        path = saved_model.export_model(
            loaded.model, loaded.window_size, options.export_base, options.version,
            inference_flags.inference_config(options), options.max_voxels, options.model_name,
            source=loaded.source, task=loaded.task)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    print(f"exported {loaded.source} (window {'x'.join(map(str, loaded.window_size))}) -> "
          f"{path}")
    return 0


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    inference_flags.define_model_flags()
    flags.DEFINE_string("export_base", None, "TF Serving model base path; the version folder "
                        "is written inside it.", required=True)
    flags.DEFINE_integer("version", None, "Version number (default: the next free one).",
                         lower_bound=1)
    flags.DEFINE_string("model_name", model_base.DEFAULT_MODEL_NAME,
                        "Model name in model_config.pbtxt.")
    flags.DEFINE_integer("max_voxels", model_base.DEFAULT_MAX_VOXELS,
                         "Largest X*Y*Z the segment signature accepts.", lower_bound=1)
    inference_flags.define_inference_flags()


def run():
    """Runs the program: `python -m brats_rev.export` and the `brats-rev-export` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
