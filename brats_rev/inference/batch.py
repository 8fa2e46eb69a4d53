"""Predicting every case of a dataset into a folder, case failures reported, not fatal.

Per case: `<case_id>.nii.gz` (uint8 labels in the case's convention, the FLAIR's geometry)
and, on request, `<case_id>_probabilities.nii.gz` (X, Y, Z, 3) WT/TC/ET sigmoid probabilities
(stored as uint8 with scl_slope 1/255, or float32; NIfTI-1 has no float16). An existing output
is kept unless `overwrite`; writes are atomic.
"""

import dataclasses
import os

import nibabel as nib
import numpy as np

from brats_rev.inference import outputs
from brats_rev.inference.predictor import CaseError

PROBABILITY_DTYPES = ("uint8", "float32")
PROBABILITIES_SUFFIX = "_probabilities.nii.gz"


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
