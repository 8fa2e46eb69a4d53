"""The conversion steps both runners share: one case -> one record, shard plan, shard, manifest.

`convert_case` validates, preprocesses and encodes a single case (pure function of the case
files and the options); `plan_shards` fixes which case goes into which shard before anything
is read; `write_planned_shard` writes one shard from results in plan order; `finish` writes
rejected.json and the manifest to publish. The local runner and the Beam runner only differ in
how they schedule these calls, so they produce the same bytes. All of it goes into a staging
folder that `pipelines.publish` then publishes.
"""

import dataclasses
import os

import numpy as np

from brats_rev import atomic, labels, tasks
from brats_rev.config import CROP_MARGIN
from brats_rev.data import case_reader, manifest, prepare, preprocess, records
from brats_rev.data.problems import ERROR, Problem


@dataclasses.dataclass(frozen=True)
class ConversionOptions:
    """Settings that change the records (all recorded in the manifest).

    Attributes:
      task: the BraTS task of every case (a brats_rev.tasks.TASKS key; the cases' conventions
        are those of the task, `brats_rev.data.case_tasks`).
      margin: voxels added on each side of the brain (and tumour) bounding box.
      max_foreground_per_class: cap on stored voxel coordinates per tumour class.
      affine_tolerance_mm: affine differences up to this are warnings, beyond it errors.
      num_folds: cross-validation folds in the manifest.
    """

    task: str = tasks.DEFAULT_TASK
    margin: int = CROP_MARGIN
    max_foreground_per_class: int = 1024
    affine_tolerance_mm: float = case_reader.AFFINE_TOLERANCE_MM
    num_folds: int = 5


@dataclasses.dataclass(frozen=True)
class CaseResult:
    """Outcome of converting one case: `record` and `metadata` are None when rejected."""

    case_id: str
    record: bytes | None
    metadata: dict | None
    problems: tuple


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    """Shard `file` (base name) and the sorted cases planned for it."""

    file: str
    cases: tuple


def _metadata(loaded, root, box, canonical, foreground, warnings, task):
    """JSON-ready per-case metadata for the manifest (region voxels of `task`'s regions)."""
    case = loaded.case
    files = list(case.images) + ([case.seg] if case.seg else [])
    return {
        "release": case.release,
        "convention": case.convention,
        "source_files": [os.path.relpath(path, root) for path in files],
        "original_shape": list(loaded.image.shape[:3]),
        "shape": [int(stop - start) for start, stop in box],
        "crop_box": box.tolist(),
        "spacing": loaded.spacing.tolist(),
        "affine": loaded.affine.tolist(),
        "has_label": canonical is not None,
        "region_voxels": (labels.region_voxel_counts(canonical, task) if canonical is not None
                          else None),
        "foreground_samples": {name: len(v) for name, v in foreground.items()},
        "warnings": [problem.to_json() for problem in warnings],
    }


def _foreground(canonical, case_id, max_per_class, task_name):
    """{class name: int32 (n, 3)} sampled tumour voxels of a case of task `task_name` (none
    when unlabelled)."""
    names = records.foreground_classes(task_name)
    if canonical is None:
        return {name: np.zeros((0, 3), np.int32) for name in names}
    by_class = preprocess.foreground_locations(canonical, list(names.values()), max_per_class,
                                               preprocess.stable_seed(case_id))
    return {name: by_class[value] for name, value in names.items()}


def convert_case(case, root, options):
    """Validates, crops and encodes one case (a brats_rev.data.cases.Case).

    The record holds the cropped source intensities (or their z-scores, see
    `records.IMAGE_ENCODINGS`); its reader z-scores them exactly like `prepare.prepare_case`.

    Returns a CaseResult; any error rejects the case with the Problems that explain why.
    """
    loaded, problems = case_reader.load_case(case, options.affine_tolerance_mm)
    if loaded is None:
        return CaseResult(case.case_id, None, None, tuple(problems))
    try:
        cropped = prepare.crop_case(loaded.image, loaded.seg, loaded.case.convention,
                                    options.margin)
        canonical, box = cropped.label, cropped.box
        foreground = _foreground(canonical, case.case_id, options.max_foreground_per_class,
                                 options.task)
        record = records.encode_example({
            "case_id": case.case_id, "task": options.task, "convention": case.convention,
            "intensities": cropped.intensities, "label": canonical,
            "original_shape": cropped.original_shape, "crop_box": box,
            "affine": loaded.affine, "spacing": loaded.spacing, "foreground": foreground,
        })
    except ValueError as error:
        problem = Problem(case.case_id, case.directory, str(error))
        return CaseResult(case.case_id, None, None, tuple(problems) + (problem,))
    metadata = _metadata(loaded, root, box, canonical, foreground, loaded.warnings,
                         tasks.TASKS[options.task])
    return CaseResult(case.case_id, record, metadata, tuple(problems))


def plan_shards(cases, num_shards):
    """Contiguous, sorted blocks of `cases` for min(num_shards, len(cases)) shards (none if
    there are no cases)."""
    if num_shards < 1:
        raise ValueError(f"`num_shards` must be >= 1. Received: num_shards={num_shards}")
    if not cases:
        return []
    ordered = sorted(cases, key=lambda case: case.case_id)
    count = min(num_shards, len(ordered))
    bounds = [len(ordered) * k // count for k in range(count + 1)]
    return [ShardPlan(manifest.shard_file_name(k, count), tuple(ordered[bounds[k]:bounds[k + 1]]))
            for k in range(count)]


def write_planned_shard(folder, plan, results):
    """Writes the accepted records of `results` (CaseResults in plan order) as `plan.file` in
    `folder`.

    Returns (shard info dict with case_ids, {case id: metadata}, [Problem of rejected cases]).
    """
    metadata, rejected = {}, []

    def accepted():
        for expected, result in zip(plan.cases, results, strict=True):
            if expected.case_id != result.case_id:
                raise RuntimeError(f"{plan.file}: got {result.case_id}, planned "
                                   f"{expected.case_id}: results out of plan order")
            if result.record is None:
                rejected.extend(p for p in result.problems if p.severity == ERROR)
                continue
            metadata[result.case_id] = {**result.metadata, "shard": plan.file}
            yield result.record

    info = records.write_shard(os.path.join(folder, plan.file), accepted())
    info["case_ids"] = sorted(metadata)
    return info, metadata, rejected


def finish(staging, shard_outputs, discovery_problems, options):
    """Writes rejected.json and manifest.json (shard files named relative to `staging`) from
    all shards' outputs into the staging folder the shards were written to; returns the
    manifest dict. `pipelines.publish.publish` then publishes that folder.

    `shard_outputs` are write_planned_shard results in shard order.
    """
    shards, cases, rejected = [], {}, [p.to_json() for p in discovery_problems]
    for info, metadata, problems in shard_outputs:
        shards.append(info)
        cases.update(metadata)
        rejected.extend(p.to_json() for p in problems)
    rejected.sort(key=lambda p: (p["case_id"], p["file"], p["problem"]))
    document = manifest.build_manifest(records.SCHEMA_VERSION, options.task, shards, cases,
                                       rejected,
                                       dataclasses.asdict(options), options.num_folds)
    atomic.write_text(os.path.join(staging, manifest.REJECTED_NAME), manifest.to_json(rejected))
    manifest.write_manifest(staging, document)
    return document
