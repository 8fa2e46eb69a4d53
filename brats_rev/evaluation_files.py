"""Scoring a folder of predicted segmentations against references, and writing the results.

Predictions: `<case_id>.nii.gz` or `.nii` files in one folder, as `brats_rev.predict` writes
them (`*_probabilities.nii.gz` are ignored). References: a BraTS dataset root (case folders
with segmentation files, found by `brats_rev.data.cases.find_cases`, or holding only their
segmentation file) or, if it holds no case folders, a flat folder of `<case_id>.nii.gz` /
`.nii` or `<case_id>_seg.nii.gz` (2023: `-seg`) segmentations. Cases are matched by id.
Label values are read in the convention given, or else in that of the case id's release when
the task has it, else in the task's own (`Task.output_convention`). Every
reference case is scored, missing (no prediction) or failed (a case folder `find_cases`
rejects or without segmentation, an unreadable file, ...); none is dropped.

Cases are scored per region of a BraTS task (`brats_rev.tasks`) with the classic metrics
(`brats_rev.evaluation`) and the task's lesion-wise ones with the NSD
(`brats_rev.lesion_metrics`).

A case without a usable prediction (missing, or failed by its prediction) is also scored as
an all-background prediction against its reference, for the statistics over all cases.

Outputs (all written atomically, those of an earlier run removed first): `metrics.csv` (one
row per scored case, `<metric>_<region>` columns for the task's regions (`columns`): the
classic ones, then the lesion-wise ones and the NSD), `summary.csv` (mean, std, median,
25quantile, 75quantile rows, as the BraTS leaderboard, of the scored cases and of all
cases), `boxplot.png` (Dice and HD95 per region, if a case was scored) and, last,
`summary.json` (the same statistics, the task (`task_description`), and the missing, extra,
failed and left-out cases).
"""

import contextlib
import csv
import dataclasses
import io
import json
import math
import os

import nibabel as nib
import numpy as np

from brats_rev import atomic, evaluation, labels, lesion_metrics, tasks
from brats_rev.data import case_reader, layouts
from brats_rev.data.cases import find_cases
from brats_rev.data.problems import Problem

EXTENSIONS = (".nii.gz", ".nii")
IGNORED_SUFFIX = "_probabilities"


def columns(task_name):
    """The `<metric>_<region>` columns of task `task_name`: the classic metrics of every
    region, then the lesion-wise ones and the NSD of every region."""
    regions = tasks.task_named(task_name).regions
    return tuple(f"{metric}_{region}" for metrics in (evaluation.METRICS, lesion_metrics.METRICS)
                 for region in regions for metric in metrics)


METRICS_CSV, SUMMARY_CSV, BOXPLOT, SUMMARY_JSON = (
    "metrics.csv", "summary.csv", "boxplot.png", "summary.json")
OUTPUTS = (METRICS_CSV, SUMMARY_CSV, BOXPLOT, SUMMARY_JSON)


# `<case_id><separator>seg`: how BraTS names a segmentation file ("_seg", 2023: "-seg").
SEGMENTATION_SUFFIXES = tuple(sorted({layout.separator + layout.suffixes[layouts.SEGMENTATION]
                                      for layout in layouts.LAYOUTS.values()}))


def _case_id(file_name, strip_suffixes=()):
    """The case id of a segmentation file name (without one of `strip_suffixes`), or None if
    it is not one."""
    for extension in EXTENSIONS:
        if file_name.endswith(extension):
            stem = file_name[: -len(extension)]
            if stem.endswith(IGNORED_SUFFIX):
                return None
            for suffix in strip_suffixes:
                stem = stem.removesuffix(suffix)
            return stem or None
    return None


def _segmentation_files(folder, strip_suffixes=()):
    """{case id: [paths]} of the segmentation files directly in `folder`, in name order."""
    found = {}
    for name in sorted(os.listdir(folder)):
        case_id = _case_id(name, strip_suffixes)
        if case_id is not None and os.path.isfile(os.path.join(folder, name)):
            found.setdefault(case_id, []).append(os.path.join(folder, name))
    return found


def flat_segmentations(folder):
    """{case id: path} of the `<case_id>.nii.gz` / `.nii` files directly in `folder` (a
    folder of predictions); of two files of one case id, the first by name."""
    return {case_id: paths[0] for case_id, paths in _segmentation_files(folder).items()}


def _flat_references(folder):
    """({case id: path}, [Problem]) of a flat reference folder: `<case_id>.nii.gz`, `.nii`,
    or with a SEGMENTATION_SUFFIXES suffix; a case id with several files is a problem."""
    found, problems = {}, []
    for case_id, paths in _segmentation_files(folder, SEGMENTATION_SUFFIXES).items():
        if len(paths) == 1:
            found[case_id] = paths[0]
        else:
            names = ", ".join(os.path.basename(path) for path in paths)
            problems.append(Problem(case_id, paths[0], f"several reference files for this "
                                    f"case: {names}; none is used"))
    return found, problems


def _seg_only_reference(case_id, case_problems):
    """The segmentation path of a case folder whose only NIfTI file is its segmentation (the
    labels kept apart from the images), or None. `case_problems` are those `find_cases`
    reported for `case_id`: they must all concern files of that one folder (its missing
    images; a case id in two folders is no seg-only reference)."""
    layout = layouts.layout_for_case(case_id)
    folders = {os.path.dirname(problem.file) for problem in case_problems}
    if layout is None or len(folders) != 1 or os.path.basename(min(folders)) != case_id:
        return None
    [folder] = folders
    seg_names = {layout.file_name(case_id, layouts.SEGMENTATION, extension)
                 for extension in layouts.EXTENSIONS}
    seg_names.update(layouts.FILE_ALIASES.get((case_id, layouts.SEGMENTATION), ()))
    nifti = [name for name in os.listdir(folder) if name.endswith(layouts.EXTENSIONS)]
    if len(nifti) != 1 or nifti[0] not in seg_names:
        return None
    return os.path.join(folder, nifti[0])


def references(gt_dir):
    """The reference segmentations of a dataset root or a flat folder, and what is wrong.

    Every reference case is either found or reported. Under a dataset root, a case folder is
    a reference if `find_cases` accepts it and it has a segmentation, or if its only NIfTI
    file is its segmentation (a seg-only reference); any other case folder `find_cases`
    rejects (a missing image or segmentation, ...) or that has no segmentation is a problem,
    and so is a folder of NIfTI files that is no case folder. A flat folder (`gt_dir` holding
    no case folder): `_flat_references`.

    Returns:
      ({case id: segmentation path}, [brats_rev.data.problems.Problem]).
    """
    cases, problems = find_cases(gt_dir)
    if not cases and not any(layouts.layout_for_case(p.case_id) for p in problems):
        # No case folder, not even a rejected one: a flat folder (find_cases calls it a
        # folder of unknown layout).
        flat_folder = os.path.abspath(gt_dir)
        found, flat_problems = _flat_references(gt_dir)
        return found, [p for p in problems if os.path.abspath(p.file) != flat_folder] + \
            flat_problems
    by_case = {}
    for problem in problems:
        by_case.setdefault(problem.case_id, []).append(problem)
    found = {}
    for case_id, case_problems in by_case.items():
        seg = _seg_only_reference(case_id, case_problems)
        if seg is not None:
            found[case_id] = seg
    problems = [problem for problem in problems if problem.case_id not in found]
    rejected = {problem.case_id for problem in problems}
    for case in cases:
        if case.seg is None:
            problems.append(Problem(case.case_id, case.directory,
                                    "no segmentation file in the case folder"))
        elif case.case_id not in rejected:
            found[case.case_id] = case.seg
    return dict(sorted(found.items())), problems


class ScoringError(ValueError):
    """A case that cannot be scored.

    Attributes:
      file: path of the file at fault (the prediction or the reference).
    """

    def __init__(self, file, problem):
        super().__init__(problem)
        self.file = file


def _convention(case_id, convention, prediction_path, task):
    if convention is not None:
        return convention
    layout = layouts.layout_for_case(case_id)
    if layout is None:
        raise ScoringError(prediction_path, f"cannot tell the label convention of case id "
                           f"{case_id!r}; pass a label convention")
    return task.output_convention(layout.convention)


def _read(path, convention):
    """(canonical labels, nibabel image) of a segmentation file, read completely.

    Raises:
      ScoringError: naming `path`: not a readable NIfTI file, or values outside `convention`.
    """
    try:
        image = nib.load(path, mmap=False)
        values = np.asarray(image.dataobj)
    except Exception as error:  # nibabel, gzip and zlib raise many types on a bad file
        raise ScoringError(path, f"unreadable segmentation ({type(error).__name__}: "
                           f"{error})") from None
    try:
        return labels.to_canonical(values, convention), image
    except ValueError as error:
        raise ScoringError(path, str(error)) from None


def _metrics(predicted, reference, reference_image, task):
    """{region: {metric: value}} of canonical label arrays of one shape: the classic metrics,
    then the lesion-wise ones of `task`, at the voxel size of `reference_image`'s header."""
    spacing = reference_image.header.get_zooms()[:3]
    scores = evaluation.case_metrics(predicted, reference, spacing, tasks.task_named(task))
    for region, values in lesion_metrics.case_metrics(predicted, reference, spacing,
                                                      task).items():
        scores[region].update(values)
    return scores


def score_case(prediction_path, reference_path, convention, task):
    """{region: {metric: value}} of one predicted file against its reference file: the
    classic metrics, then the lesion-wise ones of `task` (a brats_rev.tasks.TASKS name), per
    region of the task.

    Raises:
      ScoringError: naming the file at fault: unreadable, other values, shapes or affines.
    """
    predicted, predicted_image = _read(prediction_path, convention)
    reference, reference_image = _read(reference_path, convention)
    if predicted.shape != reference.shape:
        raise ScoringError(prediction_path, f"shape {predicted.shape} differs from the "
                           f"reference's {reference.shape}")
    difference = float(np.max(np.abs(predicted_image.affine - reference_image.affine)))
    if difference > case_reader.AFFINE_TOLERANCE_MM:
        raise ScoringError(prediction_path, "affine differs from the reference's by up to "
                           f"{difference:.3g} mm")
    return _metrics(predicted, reference, reference_image, task)


def score_empty_prediction(reference_path, convention, task):
    """score_case of an all-background prediction against the reference file: how a case
    without a usable prediction scores (Dice 0, HD95 EMPTY_HD95, every lesion missed, ... in
    a region the reference has; Dice 1, HD95 0 in one it lacks).

    Raises:
      ScoringError: naming the reference: unreadable or other values.
    """
    reference, reference_image = _read(reference_path, convention)
    return _metrics(np.zeros_like(reference), reference, reference_image, task)


def _row(case_id, metrics):
    """{"case_id", <metric>_<region>: value} of score_case's {region: {metric: value}}."""
    row = {"case_id": case_id}
    for region, values in metrics.items():
        row.update({f"{metric}_{region}": value for metric, value in values.items()})
    return row


def evaluate_folders(pred_dir, gt_dir, convention=None, task=tasks.DEFAULT_TASK):
    """Scores every prediction that has a reference, lesion-wise as BraTS task `task` does,
    and every reference case without a usable prediction as an empty prediction.

    Returns:
      {"task": task, "rows": [{"case_id", <metric>_<region>: value}] (`columns`; the lesion
       counts are ints) of the scored predictions, "empty_rows": the same of an empty
       prediction for each missing case and each case failed by its prediction,
       "missing": [ids without prediction], "extra": [ids without reference],
       "failed": [{"case_id", "file", "problem", "severity"}], "left_out": [ids of the
       failed cases not in "empty_rows": their reference could not be read or used]}: every
       reference case is scored, missing or failed (the reference cases `references`
       reports first, then those that could not be scored).

    Raises:
      ValueError: `task` is not a brats_rev.tasks.TASKS name, or `convention` is not one of
        its conventions (before anything is read).
    """
    task_entry = tasks.task_named(task)
    if convention is not None:
        task_entry.check_convention(convention)
    predictions = flat_segmentations(pred_dir)
    expected, problems = references(gt_dir)
    unscored = {problem.case_id for problem in problems}
    result = {"task": task, "rows": [], "empty_rows": [],
              "missing": sorted(set(expected) - set(predictions)),
              "extra": sorted(set(predictions) - set(expected) - unscored),
              "failed": [problem.to_json() for problem in problems]}
    def fail(case_id, error):
        result["failed"].append(Problem(case_id, error.file, str(error)).to_json())

    for case_id in sorted(expected):
        reference_path, prediction_path = expected[case_id], predictions.get(case_id)
        try:
            case_convention = _convention(case_id, convention, prediction_path or reference_path,
                                          task_entry)
        except ScoringError as error:
            fail(case_id, error)
            continue
        if prediction_path is not None:
            try:
                result["rows"].append(_row(case_id, score_case(
                    prediction_path, reference_path, case_convention, task)))
                continue
            except ScoringError as error:
                fail(case_id, error)
                if error.file == reference_path:
                    continue
        try:
            result["empty_rows"].append(_row(case_id, score_empty_prediction(
                reference_path, case_convention, task)))
        except ScoringError as error:
            fail(case_id, error)
    in_all_cases = {row["case_id"] for row in result["empty_rows"]}
    result["left_out"] = sorted({failure["case_id"] for failure in result["failed"]}
                                - in_all_cases)
    return result


def all_case_rows(result):
    """The rows of every reference case that could be read: `result["rows"]` and
    `result["empty_rows"]` (of evaluate_folders), by case id."""
    return sorted(result["rows"] + result["empty_rows"], key=lambda row: row["case_id"])


def summary_table(rows, task_name=tasks.DEFAULT_TASK):
    """{statistic: {column: value}} over `rows` for every metric column of task `task_name`."""
    task_columns = columns(task_name)
    per_column = {column: evaluation.summarize([row[column] for row in rows])
                  for column in task_columns}
    return {statistic: {column: per_column[column][statistic] for column in task_columns}
            for statistic in evaluation.STATISTICS}


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _box_plot(path, rows, regions):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for ax, metric, unit in zip(axes, ("dice", "hd95"), ("", " (mm)"), strict=True):
        ax.boxplot([[row[f"{metric}_{region}"] for row in rows] for region in regions])
        ax.set_xticks(range(1, len(regions) + 1), regions)
        ax.set_title(f"{'Dice' if metric == 'dice' else 'HD95'}{unit}, {len(rows)} cases")
        ax.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)


def _null_if_nan(summary):
    """`summary` with NaN (a statistic of no case) as None: null in JSON, an empty CSV cell."""
    return {statistic: {column: None if math.isnan(value) else value
                        for column, value in values.items()}
            for statistic, values in summary.items()}


def task_description(task_name):
    """JSON-ready description of task `task_name`: its name, regions and their classes,
    lesion-wise parameters and sources."""
    task = tasks.task_named(task_name)
    return {"name": task.name,
            "regions": {region: list(classes) for region, classes in task.regions.items()},
            "lesion": {region: dataclasses.asdict(value) for region, value in task.lesion.items()},
            "group_predictions": task.group_predictions, "missed_hd95": task.missed_hd95,
            "labels_source": task.labels_source, "lesion_source": task.lesion_source}


def write_results(output_dir, result):
    """Writes this run's outputs into `output_dir` (created); returns the summary table of
    the scored cases.

    The OUTPUTS of an earlier run are removed first and SUMMARY_JSON is written last, so a
    SUMMARY_JSON present means every other output there is of the same run. SUMMARY_CSV holds
    the statistics of the scored cases (column `cases`: "scored") and those of all cases
    (`all_case_rows`: "all"); SUMMARY_JSON the same as "summary" and "summary_all_cases".
    BOXPLOT (scored cases) is written only if a case was scored; the statistics of no case
    are null in SUMMARY_JSON and empty cells in SUMMARY_CSV (NaN in the returned table).
    """
    os.makedirs(output_dir, exist_ok=True)
    for name in OUTPUTS:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(output_dir, name))
    rows, every_row, task = result["rows"], all_case_rows(result), result["task"]
    summary = summary_table(rows, task)
    stored = {"scored": _null_if_nan(summary),
              "all": _null_if_nan(summary_table(every_row, task))}
    atomic.write_text(os.path.join(output_dir, METRICS_CSV),
                      _csv_text(("case_id",) + columns(task), rows))
    atomic.write_text(os.path.join(output_dir, SUMMARY_CSV), _csv_text(
        ("cases", "statistic") + columns(task),
        [{"cases": cases, "statistic": name, **values}
         for cases, table in stored.items() for name, values in table.items()]))
    if rows:
        _box_plot(os.path.join(output_dir, BOXPLOT), rows, tasks.task_named(task).region_names)
    document = {"cases": len(rows), "task": task_description(task), "missing": result["missing"],
                "extra": result["extra"], "failed": result["failed"], "summary": stored["scored"],
                "all_cases": {"cases": len(every_row),
                              "empty_prediction": [row["case_id"] for row in result["empty_rows"]],
                              "left_out": result["left_out"]},
                "summary_all_cases": stored["all"]}
    atomic.write_text(os.path.join(output_dir, SUMMARY_JSON),
                      json.dumps(document, indent=2, allow_nan=False) + "\n")
    return summary
