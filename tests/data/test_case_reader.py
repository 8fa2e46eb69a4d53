"""Validation reads every file fully and names the case, file and problem for each bad kind."""

import numpy as np
import pytest

from brats_rev import phantoms
from brats_rev.data import case_reader, cases
from tests.data import bad_cases

SHAPE = (24, 28, 20)


def _one_case(tmp_path, release="2021", extension=".nii.gz"):
    phantoms.write_dataset(str(tmp_path), 1, release, SHAPE, extension=extension)
    found, _ = cases.find_cases(str(tmp_path))
    return found[0]


def test_good_case_loads_exactly(tmp_path):
    case = _one_case(tmp_path)
    loaded, problems = case_reader.load_case(case)
    assert problems == []
    expected = phantoms.make_phantom(SHAPE, [0, 0])
    assert loaded.image.dtype == np.float32 and loaded.image.shape == SHAPE + (4,)
    np.testing.assert_array_equal(loaded.image[..., 2], expected.images["t1ce"])
    np.testing.assert_array_equal(loaded.affine, phantoms.phantom_affine(SHAPE))
    np.testing.assert_array_equal(loaded.spacing, [1.0, 1.0, 1.0])
    assert set(np.unique(loaded.seg).tolist()) == {0, 1, 2, 4}


@pytest.mark.parametrize("role_index, breaker, message", [
    (1, bad_cases.truncate, "unreadable t1 file"),
    (0, bad_cases.garble, "unreadable flair file"),
    (3, bad_cases.make_4d, "t2 is a 4D volume of shape (24, 28, 20, 2); expected 3D"),
    (2, bad_cases.crop_shape, "t1ce shape (23, 28, 20) differs from flair shape (24, 28, 20)"),
    (1, lambda p: bad_cases.shift_affine(p, 0.5), "t1 affine differs from flair by up to 0.5 mm"),
    (3, bad_cases.put_nan, "t2 has 1 NaN/Inf voxels"),
    (2, bad_cases.zero, "all-zero modality t1ce"),
    (4, lambda p: bad_cases.set_label(p, 3),
     "label values [3] are not allowed; found [0, 1, 2, 3, 4], allowed [0, 1, 2, 4]"),
])
@pytest.mark.parametrize("extension", [".nii.gz", ".nii"])
def test_each_bad_kind_is_an_error_naming_case_and_file(tmp_path, role_index, breaker, message,
                                                        extension):
    case = _one_case(tmp_path, extension=extension)
    path = (case.images + (case.seg,))[role_index]
    breaker(path)
    loaded, problems = case_reader.load_case(case)
    assert loaded is None
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.case_id, problem.file, problem.severity) == (case.case_id, path, "error")
    assert message in problem.message


def test_truncated_nii_gz_fails_only_when_read_so_it_is_read(tmp_path):
    case = _one_case(tmp_path)
    bad_cases.truncate(case.images[0])
    import nibabel as nib

    nib.load(case.images[0])  # the header still loads: the lazy load hides the damage
    _, problems = case_reader.load_case(case)
    assert "unreadable flair file" in problems[0].message


def test_slightly_different_affine_is_a_warning(tmp_path):
    case = _one_case(tmp_path, release="2023")
    bad_cases.shift_affine(case.seg, 2e-4)
    loaded, problems = case_reader.load_case(case)
    assert loaded is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "seg affine differs from flair by up to 0.0002 mm (tolerance 0.001 mm)" in str(
        problems[0])
    assert loaded.warnings == tuple(problems)
    _, strict = case_reader.load_case(case, affine_tolerance_mm=1e-4)
    assert [p.severity for p in strict] == ["error"]


def test_all_problems_of_a_case_are_reported_together(tmp_path):
    case = _one_case(tmp_path)
    bad_cases.zero(case.images[0])
    bad_cases.garble(case.images[3])
    _, problems = case_reader.load_case(case)
    assert sorted(p.file for p in problems) == sorted([case.images[0], case.images[3]])
