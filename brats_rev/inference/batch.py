"""Predicting every case of a dataset into a folder, case failures reported, not fatal.

Per case: `<case_id>.nii.gz` (uint8 labels in the case's convention, the FLAIR's geometry)
and, on request, `<case_id>_probabilities.nii.gz` (X, Y, Z, 3) WT/TC/ET sigmoid probabilities
(stored as uint8 with scl_slope 1/255, or float32; NIfTI-1 has no float16). An existing output
is kept unless `overwrite`; writes are atomic.
"""

import dataclasses
import json
import os

import nibabel as nib
import numpy as np

from brats_rev import atomic
from brats_rev.data import layouts
from brats_rev.data.cases import find_cases
from brats_rev.inference import outputs
from brats_rev.inference.case_io import CaseError
from brats_rev.progress import Progress

PROBABILITY_DTYPES = ("uint8", "float32")
PROBABILITIES_SUFFIX = "_probabilities.nii.gz"
REPORT_NAME = "prediction_report.json"


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """What to write per case.

    Attributes:
      save_probabilities: also write the region probability maps.
      probability_dtype: "uint8" (probability * 255, scl_slope 1/255) or "float32".
      overwrite: replace existing outputs (else the case is skipped).
    """

    save_probabilities: bool = False
    probability_dtype: str = "uint8"
    overwrite: bool = False

    def __post_init__(self):
        if self.probability_dtype not in PROBABILITY_DTYPES:
            raise ValueError(f"`probability_dtype` must be one of {list(PROBABILITY_DTYPES)}. "
                             f"Received: probability_dtype={self.probability_dtype!r}")


def inside(path, folder):
    """True if `path` is `folder` or lies under it (symbolic links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def _write_probabilities(path, prediction, reference, dtype):
    probabilities = prediction.full_probabilities()
    if dtype == "uint8":
        stored = np.rint(np.clip(probabilities, 0, 1) * 255).astype(np.uint8)
        outputs.write_nifti(path, stored, reference, slope=1 / 255)
    else:
        outputs.write_nifti(path, probabilities.astype(np.float32), reference)


def predict_cases(predictor, cases, output_dir, options, progress=None):
    """Predicts `cases` (brats_rev.data.cases.Case) into `output_dir`.

    Args:
      predictor: any object whose `predict_case(case)` returns (Prediction, anything): the
        local brats_rev.inference.predictor.Predictor or a remote one (brats_rev.serving.client).
      cases: the cases, in order.
      output_dir: existing folder for the outputs.
      options: OutputOptions.
      progress: brats_rev.progress.Progress updated after each case, or None.
    Returns:
      {"written": [case ids], "skipped": [case ids whose output exists],
       "failed": [{"case_id", "file", "problem"}]}; a failure does not stop the other cases.
    """
    report = {"written": [], "skipped": [], "failed": []}
    for case in cases:
        failed = False
        try:
            path = outputs.output_path(output_dir, case.case_id)
            if os.path.exists(path) and not options.overwrite:
                report["skipped"].append(case.case_id)
            else:
                prediction, _ = predictor.predict_case(case)
                reference = nib.load(case.images[0])
                outputs.write_nifti(path, prediction.labels, reference)
                if options.save_probabilities:
                    _write_probabilities(
                        outputs.output_path(output_dir, case.case_id, PROBABILITIES_SUFFIX),
                        prediction, reference, options.probability_dtype)
                report["written"].append(case.case_id)
        except Exception as error:  # one case's failure, whatever it is, must not stop the rest
            failed = True
            problem = str(error) if isinstance(error, CaseError) else (
                f"{type(error).__name__}: {error}")
            report["failed"].append({"case_id": case.case_id, "file": case.directory,
                                     "problem": problem})
        if progress is not None:
            progress.update(rejected=failed)
    return report


class NoCasesFound(ValueError):
    """A dataset root that holds no case folder and nothing that looks like one."""


def input_cases(input_dir):
    """(cases, problems) of `find_cases` under `input_dir` (segmentations not required): the
    cases to predict and the brats_rev.data.problems.Problem list of those found incomplete.

    Raises:
      NoCasesFound: `input_dir` holds no case folder and no folder of NIfTI files.
    """
    cases, problems = find_cases(input_dir, require_seg=False)
    if not cases and not problems:
        raise NoCasesFound(
            f"no BraTS case folder under {input_dir!r}; case folders are named as a release "
            f"names them ({layouts.case_patterns()}).")
    return cases, problems


def predict_folder(predictor, found, output_dir, options):
    """Predicts the cases of `input_cases` into `output_dir` (created), with a progress bar on
    stderr.

    Args:
      predictor: as for `predict_cases`.
      found: (cases, problems) of `input_cases`.
      output_dir: folder for the outputs.
      options: OutputOptions.
    Returns:
      (the report of `predict_cases`, the problems of `found`), the arguments `write_report`
      takes.
    """
    cases, problems = found
    os.makedirs(output_dir, exist_ok=True)
    report = predict_cases(predictor, cases, output_dir, options,
                           Progress(len(cases), failure="failed"))
    return report, problems


def write_report(output_dir, header, report, problems):
    """Finishes a run: writes `output_dir`/REPORT_NAME and prints the summary and failures.

    Args:
      output_dir: the outputs' folder.
      header: dict of what was run (model, input, settings), written before the report.
      report: the dict predict_cases returned.
      problems: brats_rev.data.problems.Problem list of cases find_cases could not use; they
        are reported as failures ahead of the others.
    Returns:
      The exit status: 1 if any case failed, else 0.
    """
    failed = [p.to_json() for p in problems] + report["failed"]
    document = {**header, **report, "failed": failed}
    atomic.write_text(os.path.join(output_dir, REPORT_NAME), json.dumps(document, indent=2) + "\n")
    print(f"{len(report['written'])} written, {len(report['skipped'])} skipped (output exists; "
          f"--overwrite replaces), {len(failed)} failed -> {output_dir}")
    for failure in failed:
        print(f"failed: {failure['case_id']}: {failure['file']}: {failure['problem']}")
    return 1 if failed else 0
