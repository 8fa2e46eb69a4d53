"""Reading a case's NIfTI files completely and checking them.

nibabel loads lazily: a truncated or corrupt `.nii.gz` only fails when its data is read, so
`load_case` reads every array in full inside the check. Each problem names the case, the file
and what is wrong. Checks: readable, 3D, finite, no all-zero modality, equal shapes, matching
affines (a difference up to `affine_tolerance_mm` is a warning, more is an error), segmentation
values allowed by the case's label convention.
"""

import dataclasses

import nibabel as nib
import numpy as np

from brats_rev import labels
from brats_rev.data import layouts
from brats_rev.data.problems import ERROR, WARNING, Problem, errors

# Affines equal up to this (mm) are identical (NIfTI stores them as float32).
AFFINE_ROUNDING_MM = 1e-5
# Default: affines differing by more than this (mm) are an error, less a warning.
AFFINE_TOLERANCE_MM = 1e-3


@dataclasses.dataclass(frozen=True)
class LoadedCase:
    """A case whose files were read and passed the checks.

    Attributes:
      case: the brats_rev.data.cases.Case.
      image: float32 (X, Y, Z, 4), modalities in layouts.MODALITIES order, NIfTI voxel order.
      seg: the segmentation as stored (values in case.convention), or None if unlabelled.
      affine: (4, 4) float64 voxel -> world (mm) of the FLAIR file.
      spacing: (3,) float64 voxel size in mm.
      warnings: tuple of Problem with severity WARNING.
    """

    case: object
    image: np.ndarray
    seg: np.ndarray | None
    affine: np.ndarray
    spacing: np.ndarray
    warnings: tuple


def _read(path, case_id, role):
    """(nibabel image, fully read array) or a Problem if the file cannot be read."""
    try:
        image = nib.load(path, mmap=False)  # read into memory: no SIGBUS on a short file
        data = np.asanyarray(image.dataobj)
    except Exception as error:  # nibabel, gzip and zlib raise many types on bad files.
        return None, None, Problem(
            case_id, path, f"unreadable {role} file ({type(error).__name__}: {error})")
    return image, data, None


def _volume_problems(data, path, case_id, role):
    """Problems of one array on its own: not 3D, non-finite values, all-zero modality."""
    if data.ndim != 3:
        return [Problem(case_id, path,
                        f"{role} is a {data.ndim}D volume of shape {data.shape}; expected 3D")]
    problems = []
    if data.dtype.kind == "f":
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad:
            problems.append(Problem(case_id, path, f"{role} has {bad} NaN/Inf voxels"))
    if role != layouts.SEGMENTATION and not np.any(data):
        problems.append(Problem(case_id, path, f"all-zero modality {role}"))
    return problems


def _affine_problem(affine, reference, path, case_id, role, tolerance_mm):
    """A Problem if `affine` differs from `reference`: warning up to the tolerance, else error."""
    difference = float(np.max(np.abs(affine - reference)))
    if difference <= AFFINE_ROUNDING_MM:
        return None
    severity = WARNING if difference <= tolerance_mm else ERROR
    return Problem(case_id, path, f"{role} affine differs from flair by up to {difference:.3g} mm "
                   f"(tolerance {tolerance_mm:g} mm)", severity)


def load_case(case, affine_tolerance_mm=AFFINE_TOLERANCE_MM):
    """Reads and checks every file of `case` (a brats_rev.data.cases.Case).

    Returns:
      (loaded, problems): `loaded` is a LoadedCase, or None if any problem is an error;
      `problems` lists every Problem found (errors and warnings), all files checked.
    """
    roles = list(zip(layouts.MODALITIES, case.images, strict=True))
    if case.seg is not None:
        roles.append((layouts.SEGMENTATION, case.seg))
    problems, arrays, affines = [], {}, {}
    for role, path in roles:
        image, data, problem = _read(path, case.case_id, role)
        if problem:
            problems.append(problem)
            continue
        volume_problems = _volume_problems(data, path, case.case_id, role)
        problems.extend(volume_problems)
        if role == layouts.SEGMENTATION and not volume_problems:
            try:
                labels.check_labels(data, case.convention)
            except ValueError as error:
                problems.append(Problem(case.case_id, path, f"segmentation: {error}"))
        if not volume_problems:
            arrays[role], affines[role] = data, image.affine
            if role == layouts.MODALITIES[0]:
                zooms = np.asarray(image.header.get_zooms()[:3], dtype=np.float64)

    reference = layouts.MODALITIES[0]
    if reference in arrays:
        paths = dict(roles)
        for role, data in arrays.items():
            if data.shape != arrays[reference].shape:
                problems.append(Problem(case.case_id, paths[role], f"{role} shape {data.shape} "
                                        f"differs from flair shape {arrays[reference].shape}"))
                continue
            problem = _affine_problem(affines[role], affines[reference], paths[role],
                                      case.case_id, role, affine_tolerance_mm)
            if problem:
                problems.append(problem)
    if errors(problems):
        return None, problems
    image = np.empty(arrays[reference].shape + (len(layouts.MODALITIES),), dtype=np.float32)
    for channel, modality in enumerate(layouts.MODALITIES):
        image[..., channel] = arrays[modality]  # no float32 temporaries per modality
    loaded = LoadedCase(case, image, arrays.get(layouts.SEGMENTATION),
                        np.asarray(affines[reference], dtype=np.float64), zooms, tuple(problems))
    return loaded, problems
