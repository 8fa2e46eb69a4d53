"""Phantoms: deterministic, anatomically ordered, and written exactly as each release names them."""

import os

import nibabel as nib
import numpy as np
import pytest

from brats_rev import labels, phantoms

SHAPE = (24, 28, 20)


def test_same_seed_same_case_other_seed_other_case():
    first, again = phantoms.make_phantom(SHAPE, [0, 0]), phantoms.make_phantom(SHAPE, [0, 0])
    other = phantoms.make_phantom(SHAPE, [0, 1])
    for modality in first.images:
        np.testing.assert_array_equal(first.images[modality], again.images[modality])
    np.testing.assert_array_equal(first.canonical, again.canonical)
    assert not np.array_equal(first.images["t1"], other.images["t1"])


@pytest.mark.parametrize("seed", range(4))
def test_anatomy_and_contrasts(seed):
    phantom = phantoms.make_phantom(SHAPE, [seed, 0])
    brain = phantom.images["flair"] != 0
    for image in phantom.images.values():
        assert image.dtype == np.int16
        np.testing.assert_array_equal(image != 0, brain)  # skull-stripped: 0 exactly outside
    counts = np.bincount(phantom.canonical.ravel(), minlength=4)
    assert np.all(counts[1:] > 0), counts  # NCR, ED and ET all present
    assert not np.any(phantom.canonical[~brain])  # tumour only inside the brain
    healthy = brain & (phantom.canonical == 0)
    t1ce, flair = phantom.images["t1ce"], phantom.images["flair"]
    assert t1ce[phantom.canonical == labels.ET].mean() > 1.3 * t1ce[healthy].mean()
    assert flair[phantom.canonical == labels.ED].mean() > 1.3 * flair[healthy].mean()
    necrotic, enhancing = phantom.canonical == labels.NCR, phantom.canonical == labels.ET
    assert t1ce[necrotic].mean() < t1ce[enhancing].mean()


@pytest.mark.parametrize("release, case_id, names, et_value", [
    ("2020", "BraTS20_Training_001", ["flair", "t1", "t1ce", "t2", "seg"], 4),
    ("2021", "BraTS2021_00000", ["flair", "t1", "t1ce", "t2", "seg"], 4),
    ("2023", "BraTS-GLI-00000-000", ["t2f", "t1n", "t1c", "t2w", "seg"], 3),
])
@pytest.mark.parametrize("extension", [".nii.gz", ".nii"])
def test_written_names_labels_and_geometry(tmp_path, release, case_id, names, et_value,
                                           extension):
    ids = phantoms.write_dataset(str(tmp_path), 2, release, SHAPE, seed=3, extension=extension)
    assert ids[0] == case_id
    separator = "-" if release == "2023" else "_"
    expected = sorted(f"{case_id}{separator}{name}{extension}" for name in names)
    assert sorted(os.listdir(tmp_path / case_id)) == expected
    seg = nib.load(str(tmp_path / case_id / f"{case_id}{separator}seg{extension}"))
    assert seg.get_data_dtype() == np.uint8
    values = set(np.unique(np.asarray(seg.dataobj)).tolist())
    assert values == {0, 1, 2, et_value}
    np.testing.assert_array_equal(seg.affine, phantoms.phantom_affine(SHAPE))
    assert seg.header.get_zooms() == (1.0, 1.0, 1.0)
    flair = nib.load(str(tmp_path / case_id / f"{case_id}{separator}{names[0]}{extension}"))
    assert flair.get_data_dtype() == np.int16 and flair.shape == SHAPE


def test_without_seg_writes_validation_layout(tmp_path):
    ids = phantoms.write_dataset(str(tmp_path), 1, "2020", SHAPE, with_seg=False,
                                 extension=".nii")
    assert ids == ["BraTS20_Validation_001"]
    assert sorted(os.listdir(tmp_path / ids[0])) == [
        f"BraTS20_Validation_001_{m}.nii" for m in ("flair", "t1", "t1ce", "t2")]


def test_affine_flips_x_and_y_with_1mm_spacing():
    np.testing.assert_array_equal(phantoms.phantom_affine((240, 240, 155)),
                                  [[-1, 0, 0, 0], [0, -1, 0, 239], [0, 0, 1, 0], [0, 0, 0, 1]])


def test_first_case_continues_the_numbering_with_the_same_cases(tmp_path):
    whole = phantoms.write_dataset(str(tmp_path / "whole"), 3, "2021", SHAPE, seed=5)
    tail = phantoms.write_dataset(str(tmp_path / "tail"), 1, "2021", SHAPE, seed=5, first_case=2)
    assert whole == ["BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00002"]
    assert tail == ["BraTS2021_00002"]
    name = "BraTS2021_00002/BraTS2021_00002_t1ce.nii.gz"
    np.testing.assert_array_equal(np.asarray(nib.load(str(tmp_path / "whole" / name)).dataobj),
                                  np.asarray(nib.load(str(tmp_path / "tail" / name)).dataobj))
    held_out = np.asarray(nib.load(str(tmp_path / "tail" / name)).dataobj)
    first = np.asarray(nib.load(str(
        tmp_path / "whole" / "BraTS2021_00000/BraTS2021_00000_t1ce.nii.gz")).dataobj)
    assert not np.array_equal(held_out, first)


def test_negative_first_case_is_refused(tmp_path):
    with pytest.raises(ValueError, match="first_case=-1"):
        phantoms.write_dataset(str(tmp_path), 1, "2021", SHAPE, first_case=-1)
