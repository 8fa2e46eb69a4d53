"""Phantom datasets on disk: folders of NIfTI files named exactly as a BraTS release names them.

Images are int16 and the segmentation uint8 in the label convention of the task's release
(brats_rev.tasks; default GLI), all with the phantom's affine as qform and sform (units mm).
"""

import os

import nibabel as nib

from brats_rev import labels
from brats_rev.data import layouts
from brats_rev.phantoms.case import BRATS_SHAPE
from brats_rev.phantoms.realistic import make_realistic_phantom
from brats_rev.phantoms.simple import make_phantom
from brats_rev.phantoms.task_labels import task_labels

# Phantom kind -> builder(shape, seed) -> Phantom.
KINDS = {"simple": make_phantom, "realistic": make_realistic_phantom}


def _save(array, affine, path):
    """Writes `array` as NIfTI-1 at `path` with `affine` as qform and sform, units mm."""
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    nib.save(image, path)


def write_phantom(phantom, output_dir, release, case_id, extension=".nii.gz", with_seg=True,
                  task=labels.GLI):
    """Writes `phantom` as folder `output_dir/case_id/` named per `release`, its labels in the
    classes of `task` (`task_labels`) and the task's numbering; returns its path."""
    layout = layouts.LAYOUTS[release]
    case_dir = os.path.join(output_dir, case_id)
    os.makedirs(case_dir, exist_ok=True)
    for modality in layouts.MODALITIES:
        path = os.path.join(case_dir, layout.file_name(case_id, modality, extension))
        _save(phantom.images[modality], phantom.affine, path)
    if with_seg:
        seg = labels.from_canonical(task_labels(phantom.canonical, task),
                                    task.output_convention(layout.convention))
        path = os.path.join(case_dir, layout.file_name(case_id, layouts.SEGMENTATION, extension))
        _save(seg, phantom.affine, path)
    return case_dir


def write_dataset(output_dir, num_cases, release, shape=BRATS_SHAPE, seed=0, extension=".nii.gz",
                  with_seg=True, first_case=0, kind="simple", task=labels.GLI):
    """Writes `num_cases` phantoms of `kind` (KINDS) in `release` layout with the labels of
    `task` (a brats_rev.tasks.Task; its challenge names 2023-layout cases); returns case ids.

    Case k (k = first_case, ..., first_case + num_cases - 1) uses seed sequence (seed, k) and
    the release's k-th case id (2020 counts from 001, 2021 and 2023 from 00000); without seg,
    2020 names cases as its validation set. So datasets written with the same seed and
    disjoint case ranges share no case (a held-out set: a `first_case` past the training set).
    """
    if first_case < 0:
        raise ValueError(f"first_case must be >= 0. Received: first_case={first_case}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}. Received: kind={kind!r}")
    first = 1 if release == "2020" else 0
    case_ids = []
    for k in range(first_case, first_case + num_cases):
        case_id = layouts.case_id_for(release, first + k, labelled=with_seg,
                                      challenge=task.challenge)
        write_phantom(KINDS[kind](shape, [seed, k]), output_dir, release, case_id,
                      extension, with_seg, task)
        case_ids.append(case_id)
    return case_ids
