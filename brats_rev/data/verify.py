"""Dataset QA report without converting: per-case status, shapes, region volumes, problems.

    python -m brats_rev.data.verify --input_dir=/data/BraTS2024-GLI [--task=gli2024] \
        [--json_out=qa.json]
    python -m brats_rev.data.verify --tfrecords=/data/records [--json_out=qa.json]

--input_dir checks NIfTI cases exactly as the conversion does (every file read in full), with
the labels and regions of the dataset's task (the case ids', or --task: as
`pipelines.convert_brats`; cases of no single task are a usage error naming them).
--tfrecords reads a shard, a dataset folder or its manifest.json (shards verified against the
manifest); a folder without manifest.json is an incomplete dataset (rejected). The exit code
is 1 if any case was rejected, any shard is corrupt or the manifest is missing.
"""

import numpy as np
from absl import app, flags

from brats_rev import atomic, labels, program, tasks
from brats_rev.data import case_reader, case_tasks, manifest, records
from brats_rev.data import cases as cases_lib
from brats_rev.data.problems import ERROR, WARNING

OK, REJECTED = "ok", "rejected"


def _entry(case_id, shape, spacing, canonical, problems, task=labels.GLI):
    """One case's report row; `canonical` labels of `task` may be None (unlabelled or
    rejected)."""
    severities = {p["severity"] for p in problems}
    status = REJECTED if ERROR in severities else WARNING if WARNING in severities else OK
    voxels = labels.region_voxel_counts(canonical, task) if canonical is not None else None
    voxel_ml = float(np.prod(spacing)) / 1000.0 if spacing is not None else None
    return {
        "case_id": case_id,
        "status": status,
        "shape": list(shape) if shape is not None else None,
        "spacing": list(spacing) if spacing is not None else None,
        "region_voxels": voxels,
        "region_ml": {r: round(n * voxel_ml, 3) for r, n in voxels.items()} if voxels else None,
        "problems": problems,
    }


def _summary(entries):
    return {status: sum(e["status"] == status for e in entries)
            for status in (OK, WARNING, REJECTED)}


def report_nifti(input_dir, affine_tolerance_mm=case_reader.AFFINE_TOLERANCE_MM, task=None):
    """QA report dict {"source", "task", "cases", "summary"} of the NIfTI dataset under
    `input_dir`, of task `task` (a brats_rev.tasks name; None: the one the case ids name).

    Raises:
      case_tasks.TaskError: the cases are of no single task (naming them).
    """
    found, discovery_problems = cases_lib.find_cases(input_dir)
    dataset_task, found = case_tasks.dataset_task(found, task)
    entries = []
    for problem in discovery_problems:
        entries.append(_entry(problem.case_id, None, None, None, [problem.to_json()]))
    for case in found:
        loaded, problems = case_reader.load_case(case, affine_tolerance_mm)
        found_problems = [p.to_json() for p in problems]
        if loaded is None:
            entries.append(_entry(case.case_id, None, None, None, found_problems))
            continue
        canonical = None
        if loaded.seg is not None:
            canonical = labels.to_canonical(loaded.seg, case.convention)
        entries.append(_entry(case.case_id, loaded.image.shape[:3], loaded.spacing.tolist(),
                              canonical, found_problems, dataset_task))
    entries.sort(key=lambda e: e["case_id"])
    return {"source": input_dir, "task": dataset_task.name, "cases": entries,
            "summary": _summary(entries)}


def report_tfrecords(path):
    """QA report dict of converted records at `path` (shard, folder or manifest.json).

    Shard problems (missing, corrupt, truncated, wrong count, other schema version, a folder
    without manifest.json) are an entry with status rejected and case id "<shard>", after the
    cases that could be read.
    """
    entries = []
    try:
        for case in records.read_cases(path):
            entries.append(_entry(case["case_id"], case["image"].shape[:3],
                                  case["spacing"].tolist(), case["label"], [],
                                  tasks.TASKS[case["task"]]))
    except (ValueError, FileNotFoundError) as error:  # ShardIntegrityError is a ValueError.
        entries.append(_entry("<shard>", None, None, None, [
            {"case_id": "<shard>", "file": path, "problem": str(error), "severity": ERROR}]))
    return {"source": path, "cases": entries, "summary": _summary(entries)}


def format_report(report):
    """The report as text: one line per case, its problems indented below, then a summary."""
    lines = [f"QA report for {report['source']}"]
    for entry in report["cases"]:
        shape = "x".join(map(str, entry["shape"])) if entry["shape"] else "-"
        volumes = entry["region_ml"]
        regions = ("  " + " ".join(f"{r}={volumes[r]:.1f}ml" for r in volumes)
                   if volumes else "")
        lines.append(f"{entry['status']:>8}  {entry['case_id']}  {shape}{regions}")
        lines.extend(f"          {p['severity']}: {p['file']}: {p['problem']}"
                     for p in entry["problems"])
    summary = report["summary"]
    lines.append(f"{len(report['cases'])} cases: {summary[OK]} ok, {summary[WARNING]} with "
                 f"warnings, {summary[REJECTED]} rejected")
    return "\n".join(lines)


def main(argv):
    """Entry point: prints the report, optionally writes JSON; exit 1 if anything rejected."""
    del argv
    options = flags.FLAGS
    if (options.input_dir is None) == (options.tfrecords is None):
        raise app.UsageError("give exactly one of --input_dir and --tfrecords")
    if options.input_dir is not None:
        try:
            report = report_nifti(options.input_dir, options.affine_tolerance_mm, options.task)
        except case_tasks.TaskError as error:
            raise app.UsageError(str(error)) from None
    else:
        report = report_tfrecords(options.tfrecords)
    print(format_report(report))
    if options.json_out:
        atomic.write_text(options.json_out, manifest.to_json(report))
    return 1 if report["summary"][REJECTED] else 0


def define_flags():
    """Defines this program's absl flags (only when run as a program)."""
    flags.DEFINE_string("input_dir", None, "BraTS NIfTI dataset root to check.")
    flags.DEFINE_string("tfrecords", None, "Converted shard, folder or manifest.json to check.")
    flags.DEFINE_string("json_out", None, "Also write the report as JSON here.")
    flags.DEFINE_enum("task", None, sorted(tasks.TASKS),
                      "BraTS task of every case of --input_dir (default: the case ids').")
    flags.DEFINE_float("affine_tolerance_mm", case_reader.AFFINE_TOLERANCE_MM,
                       "Affine differences up to this are warnings, beyond errors.")


def run():
    """Runs the program: `python -m brats_rev.data.verify` and the `brats-rev-verify` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
