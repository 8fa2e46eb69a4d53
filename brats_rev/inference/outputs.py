"""Where and how predictions are written: safe file names, NIfTI files on the input's geometry.

Case ids come from folder names; `output_path` turns one into a file name that cannot leave
the output folder. `write_nifti` writes atomically (temporary name in the same folder, then
rename) with the reference image's affine, qform/sform codes, voxel size and units.
"""

import os
import re

import nibabel as nib
import numpy as np

from brats_rev import atomic

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def output_path(output_dir, case_id, suffix=".nii.gz"):
    """`output_dir/<sanitised case_id><suffix>`.

    Every character outside [A-Za-z0-9._-] becomes "_" and leading dots are dropped, so the
    name has no separator, is not "." or "..", and is not hidden.

    Raises:
      ValueError: nothing is left of `case_id`.
    """
    name = _UNSAFE.sub("_", case_id).lstrip(".")
    if not name:
        raise ValueError(f"case id {case_id!r} gives no usable file name")
    path = os.path.join(output_dir, name + suffix)
    if os.path.dirname(os.path.abspath(path)) != os.path.abspath(output_dir):
        raise ValueError(f"case id {case_id!r} would be written outside {output_dir!r}")
    return path


def write_nifti(path, array, reference, slope=None):
    """Writes `array` (X, Y, Z[, K]) to `path` (.nii or .nii.gz) with `reference`'s geometry.

    Args:
      path: output file; replaced atomically if it exists.
      array: values to store, in the dtype to store them.
      reference: nibabel image (e.g. the case's FLAIR) whose affine, qform/sform codes, voxel
        size and units are copied.
      slope: NIfTI scl_slope readers multiply the stored values by (None: no scaling).
    """
    header = reference.header.copy()
    header.set_data_dtype(array.dtype)
    header["cal_min"] = header["cal_max"] = 0
    image = nib.Nifti1Image(np.asanyarray(array), reference.affine, header)
    # Set after construction: the constructor resets the scaling of the header it copies.
    image.header.set_slope_inter(slope, None if slope is None else 0.0)
    image.set_qform(reference.header.get_qform(), code=int(reference.header["qform_code"]))
    image.set_sform(reference.header.get_sform(), code=int(reference.header["sform_code"]))
    suffix = ".nii.gz" if path.endswith(".gz") else ".nii"
    with atomic.atomic_path(path, suffix=suffix) as temporary:
        nib.save(image, temporary)
