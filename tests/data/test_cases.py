"""Case discovery: every release layout and extension, aliases, and file-level problems."""

import os
import shutil

import pytest

from brats_rev import phantoms
from brats_rev.data import cases, layouts

SHAPE = (24, 28, 20)


@pytest.mark.parametrize("release, convention", [
    ("2020", "brats2020"), ("2021", "brats2021"), ("2023", "brats2023")])
@pytest.mark.parametrize("extension", [".nii.gz", ".nii"])
def test_each_layout_and_extension_is_found(tmp_path, release, convention, extension):
    ids = phantoms.write_dataset(str(tmp_path / "nested"), 3, release, SHAPE,
                                 extension=extension)
    found, problems = cases.find_cases(str(tmp_path))
    assert problems == []
    assert [c.case_id for c in found] == sorted(ids)
    case = found[0]
    assert case.release == release and case.convention == convention
    assert all(path.endswith(extension) for path in case.images + (case.seg,))
    assert [os.path.basename(p) for p in case.images] == [
        layouts.LAYOUTS[release].file_name(case.case_id, m, extension)
        for m in ("flair", "t1", "t1ce", "t2")]


def test_unlabelled_dataset_is_fine(tmp_path):
    phantoms.write_dataset(str(tmp_path), 2, "2023", SHAPE, with_seg=False)
    found, problems = cases.find_cases(str(tmp_path))
    assert problems == [] and [c.seg for c in found] == [None, None]


def test_brats2020_case_355_seg_alias(tmp_path):
    case_id = "BraTS20_Training_355"
    phantoms.write_phantom(phantoms.make_phantom(SHAPE, 0), str(tmp_path), "2020", case_id,
                           extension=".nii")
    folder = tmp_path / case_id
    os.rename(folder / f"{case_id}_seg.nii", folder / "W39_1998.09.19_Segm.nii")
    found, problems = cases.find_cases(str(tmp_path))
    assert problems == []
    assert found[0].seg == str(folder / "W39_1998.09.19_Segm.nii")


def test_missing_modality_missing_seg_and_unknown_layout(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path), 3, "2021", SHAPE)
    os.remove(tmp_path / ids[0] / f"{ids[0]}_t1ce.nii.gz")
    os.remove(tmp_path / ids[1] / f"{ids[1]}_seg.nii.gz")
    shutil.copytree(tmp_path / ids[2], tmp_path / "my_case")
    found, problems = cases.find_cases(str(tmp_path))
    assert [c.case_id for c in found] == [ids[2]]
    by_case = {p.case_id: p for p in problems}
    assert set(by_case) == {ids[0], ids[1], "my_case"}
    assert by_case[ids[0]].message.startswith("missing modality t1ce")
    assert by_case[ids[0]].file.endswith(f"{ids[0]}_t1ce.nii.gz")
    assert by_case[ids[1]].message.startswith("missing segmentation")
    assert by_case["my_case"].message.startswith("unknown layout")
    assert all(p.severity == "error" for p in problems)
    found, problems = cases.find_cases(str(tmp_path), require_seg=False)
    assert [(c.case_id, c.seg) for c in found] == [
        (ids[1], None), (ids[2], str(tmp_path / ids[2] / f"{ids[2]}_seg.nii.gz"))]
    assert {p.case_id for p in problems} == {ids[0], "my_case"}


def test_missing_root_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        cases.find_cases(str(tmp_path / "absent"))


def test_a_case_id_in_two_folders_rejects_both_copies_naming_both(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path / "part1"), 2, "2021", SHAPE)
    phantoms.write_dataset(str(tmp_path / "part2"), 1, "2021", SHAPE)  # ids[0] again
    found, problems = cases.find_cases(str(tmp_path))
    assert [c.case_id for c in found] == [ids[1]]
    copies = [str(tmp_path / "part1" / ids[0]), str(tmp_path / "part2" / ids[0])]
    assert [(p.case_id, p.file) for p in problems] == [(ids[0], copies[0]), (ids[0], copies[1])]
    for problem, other in zip(problems, reversed(copies), strict=True):
        assert problem.message.startswith("duplicate case id")
        assert other in problem.message and problem.severity == "error"


def test_case_ids_with_non_ascii_digits_are_an_unknown_layout(tmp_path):
    [case_id] = phantoms.write_dataset(str(tmp_path), 1, "2021", SHAPE)
    arabic = "BraTS2021_" + "".join(chr(0x0660 + int(d)) for d in case_id[-5:])  # r"\d" matches
    (tmp_path / arabic).mkdir()
    for path in (tmp_path / case_id).iterdir():
        shutil.copy(path, tmp_path / arabic / path.name.replace(case_id, arabic))
    found, problems = cases.find_cases(str(tmp_path))
    assert [c.case_id for c in found] == [case_id]
    assert [p.case_id for p in problems] == [arabic]
    assert problems[0].message.startswith("unknown layout")
    assert layouts.layout_for_case(arabic) is None
