"""Scores predicted segmentations against references with the BraTS metrics.

    python -m brats_rev.evaluate --pred_dir=/data/predictions --gt_dir=/data/BraTS2021 \
        --output_dir=/data/scores [--label_convention=brats2021] [--task=gli2023]

`--gt_dir` is a BraTS dataset root or a flat folder of `<case_id>.nii.gz` (or
`<case_id>_seg.nii.gz`) segmentations.
`--task` names the BraTS task (brats_rev.tasks) whose regions are scored, whose label
conventions are read and whose lesion-wise parameters apply (brats_rev.lesion_metrics).
Writes metrics.csv, summary.csv, boxplot.png and summary.json into `--output_dir` (replacing
an earlier run's), prints the summary (of the scored cases, then of all cases, those missing
or failed scored as an empty prediction), and exits with status 1 if a reference case has no
prediction, a case failed or no case was scored. See docs/INFERENCE.md.
"""

import os
import sys

from absl import app, flags

from brats_rev import evaluation, lesion_metrics, program, tasks
from brats_rev.evaluation_files import all_case_rows, evaluate_folders, summary_table, write_results


def _print_summary(summary, task_name):
    """Prints mean ± std per region of every metric, the lesion-wise ones under their task."""
    task = tasks.task_named(task_name)
    regions = task.region_names
    dilations = " / ".join(str(task.lesion[region].dilation) for region in regions)
    thresholds = " / ".join(f"{task.lesion[region].threshold_mm3:g}" for region in regions)
    print(f"{'':12}" + "".join(f"{region:>22}" for region in regions))
    for metric in evaluation.METRICS + lesion_metrics.METRICS:
        if metric == lesion_metrics.METRICS[0]:
            print(f"lesion-wise, task {task_name}: dilation {dilations} voxels, lesions over "
                  f"{thresholds} mm³ ({' / '.join(regions)}); NSD at "
                  f"{evaluation.NSD_TOLERANCE_MM:g} mm")
        cells = "".join(f"{summary['mean'][f'{metric}_{r}']:>12.4f} "
                        f"± {summary['std'][f'{metric}_{r}']:<7.4f}" for r in regions)
        print(f"{metric:12}{cells}")


def main(argv):
    """Entry point: scores, writes, prints; returns the exit status."""
    del argv
    options = flags.FLAGS
    for name in ("pred_dir", "gt_dir"):
        if not os.path.isdir(getattr(options, name)):
            raise app.UsageError(f"--{name} {getattr(options, name)!r} is not a folder.")
    try:
        result = evaluate_folders(options.pred_dir, options.gt_dir, options.label_convention,
                                  options.task)
    except ValueError as error:  # a --label_convention the task does not have
        raise app.UsageError(str(error)) from None
    summary = write_results(options.output_dir, result)
    print(f"{len(result['rows'])} cases scored -> {options.output_dir}")
    if result["rows"]:
        _print_summary(summary, options.task)
    if result["empty_rows"]:
        every_row = all_case_rows(result)
        print(f"all {len(every_row)} reference cases, {len(result['empty_rows'])} of them "
              "(missing or failed) scored as an empty prediction:")
        _print_summary(summary_table(every_row, options.task), options.task)
    for case_id in result["missing"]:
        print(f"missing prediction: {case_id}")
    for case_id in result["extra"]:
        print(f"extra prediction (no reference): {case_id}")
    for failure in result["failed"]:
        print(f"failed: {failure['case_id']}: {failure['file']}: {failure['problem']}")
    if not result["rows"]:
        print(f"no case scored: no prediction in --pred_dir {options.pred_dir!r} "
              f"(<case_id>.nii.gz or .nii files) could be scored against a reference case in "
              f"--gt_dir {options.gt_dir!r} (a BraTS dataset root or a folder of "
              "<case_id>.nii.gz or <case_id>_seg.nii.gz files); see the cases listed above",
              file=sys.stderr)
        return 1
    return 1 if result["missing"] or result["failed"] else 0


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("pred_dir", None, "Folder of <case_id>.nii.gz predictions.",
                        required=True)
    flags.DEFINE_string("gt_dir", None, "BraTS dataset root or folder of <case_id>[_seg].nii.gz.",
                        required=True)
    flags.DEFINE_string("output_dir", None, "Folder for the CSVs, JSON and plot.",
                        required=True)
    flags.DEFINE_enum("label_convention", None, sorted(tasks.CONVENTIONS),
                      "Label convention of both, one of the task's (default: from each case "
                      "id's release if the task has it, else the task's own).")
    flags.DEFINE_enum("task", tasks.DEFAULT_TASK, sorted(tasks.TASKS),
                      "BraTS task whose regions, label conventions and lesion-wise parameters "
                      "(dilation, lesion volume thresholds) apply; see docs/INFERENCE.md.")


def run():
    """Runs the program: `python -m brats_rev.evaluate` and the `brats-rev-evaluate` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
