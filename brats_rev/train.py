"""Trains the reversible MBConv 3D U-Net.

    python -m brats_rev.train                      # tiny preset, sample data, CPU, runs/<time>/
    python -m brats_rev.train --preset=default --override=data.data_dir=/data/brats \\
        --strategy=mirrored --precision=mixed_float16 --model_dir=runs/brats_fold0
    python -m brats_rev.train --model_dir=runs/brats_fold0 ...   # same command: resumes
    python -m brats_rev.train --model_dir=runs/brats_fold0 --epochs=1200 ...  # extends

Configuration, later wins: the `--preset` (model preset plus its data / training settings),
`--config` (JSON with "model", "data", "train" sections, e.g. a run's config.json),
`--override=section.field=value` (repeatable), then the dedicated flags below when given. The
task is the dataset's (its manifest's): `data.task` is set to it and the model gets one head
per region of the task.
Exit codes: 0 done, 1 stopped on a non-finite loss, 2 bad flags or configuration.
"""

import datetime
import json
import os
import sys

from absl import app, flags, logging

from brats_rev import program, run_folder
from brats_rev.config import DTYPE_POLICIES
from brats_rev.data import manifest
from brats_rev.training import run_config, strategy_names

FLAGS = flags.FLAGS

SHORTHANDS = {"data_dir": "data.data_dir", "epochs": "train.epochs",
              "val_every": "train.val_every", "precision": "train.precision",
              "jit_compile": "train.jit_compile"}


def resolved_config():
    """The RunConfig of the flags; ValueError with a clear message on any bad value."""
    overrides = list(FLAGS.override) + [
        f"{key}={json.dumps(FLAGS[flag].value)}" for flag, key in SHORTHANDS.items()
        if FLAGS[flag].value is not None]
    config = run_folder.load_json(FLAGS.config) if FLAGS.config else None
    run = run_config.resolve(FLAGS.preset, config, overrides)
    if not os.path.isfile(os.path.join(run.data.data_dir or "", manifest.MANIFEST_NAME)):
        raise ValueError(f"data.data_dir must be a folder holding manifest.json. Received: "
                         f"data.data_dir={run.data.data_dir!r}")
    manifest.check_schema(run.data.data_dir)
    document = manifest.load_manifest(run.data.data_dir)
    run = run_config.with_task(run, manifest.task_of(document))
    run_config.check_consistency(run)
    splits = ["train"] + (["validation"] if run.train.fold is not None else [])
    for split in splits:
        if not manifest.split_cases(document, split, run.train.fold):
            raise ValueError(f"the {split} split of train.fold={run.train.fold} of "
                             f"{run.data.data_dir} has no labelled case")
    return run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        run = resolved_config()
        strategy_names.check_arguments(FLAGS.strategy, FLAGS.cpu_replicas, FLAGS.tpu)
        # TensorFlow starts here, after the checks that need none.
        from brats_rev.training import strategy as strategy_lib

        if FLAGS.cpu_replicas > 1:
            strategy_lib.split_cpu(FLAGS.cpu_replicas)
        strategy = strategy_lib.create_strategy(FLAGS.strategy, FLAGS.num_gpus,
                                                FLAGS.cpu_replicas, FLAGS.tpu)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from brats_rev.training import train_lib  # the model, data and loop

    model_dir = FLAGS.model_dir or os.path.join(
        "runs", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S"))
    logging.info("Training in %s with strategy %s (%d replicas).", model_dir, FLAGS.strategy,
                 strategy.num_replicas_in_sync)
    try:
        result = train_lib.train(run, model_dir, strategy)
    except train_lib.NonFiniteLossError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    best = "n/a" if result.best_mean_dice is None else f"{result.best_mean_dice:.4f}"
    print(f"Done: {result.step} steps, best validation mean Dice {best}, run in {model_dir}")
    return 0


def define_flags():
    """Defines this program's absl flags (only when run as a program)."""
    flags.DEFINE_string("model_dir", None, "Run directory; default runs/<UTC timestamp>. An "
                        "existing run directory is resumed.")
    flags.DEFINE_string("preset", "tiny", "Experiment (brats_rev.config.EXPERIMENTS): a model "
                        "with its data and training settings.")
    flags.DEFINE_string("config", None, "JSON file with model / data / train sections.")
    flags.DEFINE_multi_string("override", [], "section.field=value, e.g. model.filters=[8,16,32], "
                              "train.learning_rate=1e-3, data.patch_size=48.")
    flags.DEFINE_enum("strategy", "default", strategy_names.STRATEGIES,
                      "tf.distribute strategy.")
    flags.DEFINE_integer("num_gpus", None, "GPUs for --strategy=mirrored (default: all).")
    flags.DEFINE_integer("cpu_replicas", 1, "Logical CPU replicas for --strategy=mirrored on a "
                         "host without GPUs.")
    flags.DEFINE_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu (untested).")
    flags.DEFINE_string("data_dir", None, "Shorthand for --override=data.data_dir=...")
    flags.DEFINE_integer("epochs", None, "Shorthand for train.epochs (raise it to extend a run).")
    flags.DEFINE_integer("val_every", None, "Shorthand for train.val_every.")
    flags.DEFINE_enum("precision", None, list(DTYPE_POLICIES),
                      "Shorthand for train.precision.")
    flags.DEFINE_bool("jit_compile", None, "Shorthand for train.jit_compile.")


def run():
    """Runs the program: `python -m brats_rev.train` and the `brats-rev-train` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
