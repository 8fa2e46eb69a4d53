"""Converts a BraTS download into validated, GZIP-compressed, sharded TFRecords.

    python -m pipelines.convert_brats --input_dir=/data/BraTS2021 --output_dir=/data/records \
        [--task=gli2024] [--num_shards=16] [--workers=2] [--folds=5] [--allow_rejects]
    python -m pipelines.convert_brats ... --runner=beam [--beam_runner=DataflowRunner] \
        [--project=... --region=... any other Beam pipeline option]

Every case of a dataset is of one BraTS task (brats_rev.tasks), written into every record and
the manifest: the one the case ids name (brats_rev.data.case_tasks), or --task (needed for the
2024 GLI and PED releases, whose case ids are those of 2023). Publishes the dataset in
--output_dir: manifest.json and a folder of shards and rejected.json
beside it (pipelines.publish), replacing the dataset there only once the new one is complete.
Every good case is converted even when others are rejected. A folder holding another dataset
(other case ids) is replaced only with --overwrite. Flags this program does not know are passed
to Beam (with --runner=beam).

Exit codes: 0 published; 1 published but cases were rejected (unless --allow_rejects), or a
usage error (bad flags, --input_dir not a folder or without cases, cases of several tasks or
of a task their names do not tell or --task does not apply to, --output_dir not writable or
holding another dataset), nothing written then; 2 no case converted, nothing published.
"""

import dataclasses
import os
import sys
import time

from absl import app, flags

from brats_rev import program, progress, tasks
from brats_rev.data import case_tasks, layouts, manifest
from brats_rev.data import cases as cases_lib
from pipelines import conversion, local_runner, publish

EXIT_REJECTED = 1
EXIT_NOTHING_PUBLISHED = 2
RUNNERS = ("local", "beam")


class NoInput(ValueError):
    """--input_dir is not a folder or holds no case folder (one line naming it)."""


def _find_cases(input_dir):
    """find_cases of `input_dir`; raises NoInput when it is no folder or holds nothing."""
    if not os.path.isdir(input_dir):
        raise NoInput(f"--input_dir {input_dir!r} is not a folder")
    found, problems = cases_lib.find_cases(input_dir)
    if not found and not problems:
        raise NoInput(f"--input_dir {input_dir!r} holds no BraTS case folder (case folders are "
                      f"named as a release names them: {layouts.case_patterns()})")
    return found, problems


def convert(input_dir, output_dir, options, num_shards=4, workers=1, runner="local",
            beam_runner="DirectRunner", pipeline_args=(), progress_stream=None, overwrite=False,
            task=None):
    """Finds, validates and converts every case under `input_dir` and publishes the dataset
    in `output_dir`; returns the published manifest dict.

    The dataset's task is `task` (a brats_rev.tasks.TASKS name) or, if None, the one the case
    ids name; it replaces `options.task`.

    The manifest's "rejected" list holds every problem that stopped a case (discovery and
    conversion). See the module docstring for what is written.

    Raises (before anything is written):
      NoInput: `input_dir` is not a folder or holds no case folder.
      case_tasks.TaskError: the cases are of no single task (naming them).
      publish.Refused: `output_dir` cannot be written, or holds another dataset and not
        `overwrite`.
    Raises (after the conversion):
      publish.NothingConverted: no case was converted; nothing is published.
    """
    if runner not in RUNNERS:
        raise ValueError(f"`runner` must be one of {list(RUNNERS)}. Received: runner={runner!r}")
    found, discovery_problems = _find_cases(input_dir)
    dataset_task, found = case_tasks.dataset_task(found, task)
    options = dataclasses.replace(options, task=dataset_task.name)
    case_ids = {case.case_id for case in found} | {p.case_id for p in discovery_problems}
    publish.check_replaceable(output_dir, case_ids, overwrite)
    plans = conversion.plan_shards(found, num_shards)
    staging = publish.start(output_dir)
    if runner == "local":
        bar = progress.Progress(len(found), stream=progress_stream)
        outputs = local_runner.run_local(plans, input_dir, staging, options, workers, bar)
        conversion.finish(staging, outputs, discovery_problems, options)
    else:
        from pipelines import beam_runner as beam_lib  # Beam is an optional extra.

        beam_lib.run_beam(plans, input_dir, staging, options, discovery_problems, beam_runner,
                          pipeline_args, workers)
    return publish.publish(output_dir, staging)


def _print_problems(document):
    """Prints a line per rejected-case problem and per warning of a converted case."""
    for problem in document["rejected"]:
        print(f"REJECTED {problem['case_id']}: {problem['file']}: {problem['problem']}")
    for case_id, metadata in sorted(document["cases"].items()):
        for problem in metadata["warnings"]:
            print(f"WARNING {case_id}: {problem['file']}: {problem['problem']}")


def _report(document, output_dir, seconds):
    """Prints the problems and a one-line summary."""
    _print_problems(document)
    rejected = {problem["case_id"] for problem in document["rejected"]}
    print(f"converted {document['num_cases']} cases into {len(document['shards'])} shards in "
          f"{seconds:.1f} s; rejected {len(rejected)} cases; "
          f"manifest {os.path.join(output_dir, manifest.MANIFEST_NAME)}")


def main(argv):
    """Entry point; returns the exit code (see the module docstring)."""
    options = flags.FLAGS
    extra = argv[1:]
    if extra and options.runner == "local":
        raise app.UsageError(f"unknown arguments {extra} (only --runner=beam passes them on)")
    conversion_options = conversion.ConversionOptions(
        margin=options.margin, max_foreground_per_class=options.max_foreground_per_class,
        affine_tolerance_mm=options.affine_tolerance_mm, num_folds=options.folds)
    start = time.monotonic()
    try:
        document = convert(options.input_dir, options.output_dir, conversion_options,
                           options.num_shards, options.workers, options.runner,
                           options.beam_runner, extra, overwrite=options.overwrite,
                           task=options.task)
    except (NoInput, case_tasks.TaskError, publish.Refused) as error:
        raise app.UsageError(str(error)) from None
    except publish.NothingConverted as error:
        _print_problems(error.document)
        print(error, file=sys.stderr)
        return EXIT_NOTHING_PUBLISHED
    _report(document, options.output_dir, time.monotonic() - start)
    return EXIT_REJECTED if document["rejected"] and not options.allow_rejects else 0


def define_flags():
    """Defines this program's absl flags (only when run as a program)."""
    flags.DEFINE_string("input_dir", None, "BraTS dataset root (any release layout).",
                        required=True)
    flags.DEFINE_string("output_dir", None, "Folder the dataset is published in.",
                        required=True)
    flags.DEFINE_enum("task", None, sorted(tasks.TASKS),
                      "BraTS task of every case (default: the one the case ids name).")
    flags.DEFINE_integer("num_shards", 4, "Number of TFRecord shards.", lower_bound=1)
    flags.DEFINE_integer("workers", 1, "Local worker processes.", lower_bound=1)
    flags.DEFINE_integer("folds", conversion.ConversionOptions.num_folds,
                         "Cross-validation folds in the manifest.", lower_bound=1)
    flags.DEFINE_integer("margin", conversion.ConversionOptions.margin,
                         "Voxels kept around the brain bounding box.", lower_bound=0)
    flags.DEFINE_integer("max_foreground_per_class",
                         conversion.ConversionOptions.max_foreground_per_class,
                         "Voxel coordinates stored per tumour class.", lower_bound=0)
    flags.DEFINE_float("affine_tolerance_mm", conversion.ConversionOptions.affine_tolerance_mm,
                       "Affine differences up to this are warnings, beyond errors.")
    flags.DEFINE_boolean("allow_rejects", False, "Exit 0 even if cases were rejected.")
    flags.DEFINE_boolean("overwrite", False,
                         "Replace a dataset of other case ids in --output_dir.")
    flags.DEFINE_enum("runner", "local", list(RUNNERS), "Where the conversion runs.")
    flags.DEFINE_string("beam_runner", "DirectRunner", "Beam runner for --runner=beam.")


def run():
    """Runs the program: `python -m pipelines.convert_brats` and the `brats-rev-convert` script."""
    define_flags()
    program.run_main(main, known_only=True)


if __name__ == "__main__":
    run()
