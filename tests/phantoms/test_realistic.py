"""Realistic phantoms: a brain-shaped, BraTS-sized, reproducible case with a plausible tumour."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from brats_rev import labels, phantoms
from brats_rev.phantoms import realistic

# Every test here shares module fixtures that take tens of seconds: the full tier only.
pytestmark = pytest.mark.slow

SHAPE = (64, 64, 42)  # about 3.75 mm voxels over the BraTS field of view
CASES = 12


@pytest.fixture(scope="module")
def cases():
    return [phantoms.make_realistic_phantom(SHAPE, [0, k]) for k in range(CASES)]


def test_same_seed_same_bytes_other_seed_other_case(cases):
    again = phantoms.make_realistic_phantom(SHAPE, [0, 0])
    for modality, image in cases[0].images.items():
        assert image.tobytes() == again.images[modality].tobytes()
    assert cases[0].canonical.tobytes() == again.canonical.tobytes()
    assert not np.array_equal(cases[0].images["t1"], cases[1].images["t1"])
    assert not np.array_equal(cases[0].canonical, cases[1].canonical)


def test_geometry_and_intensities(cases):
    spacing = realistic.spacing_for(SHAPE)
    np.testing.assert_allclose(spacing, (3.75, 3.75, 155 / 42))
    for case in cases:
        np.testing.assert_allclose(case.affine, phantoms.phantom_affine(SHAPE, spacing))
        brain = case.images["flair"] != 0
        volume_ml = brain.sum() * np.prod(spacing) / 1000
        assert 1300 < volume_ml < 2500  # the template's 1890 ml, scaled by 0.92-1.08 per axis
        for image in case.images.values():
            assert image.dtype == np.int16 and image.shape == SHAPE
            np.testing.assert_array_equal(image != 0, brain)  # skull-stripped: 0 outside
        assert not np.any(case.canonical[~brain])  # tumour only inside the brain


def test_labels_nest_and_volumes_are_brats_like(cases):
    voxel_ml = np.prod(realistic.spacing_for(SHAPE)) / 1000
    for case in cases:
        assert set(np.unique(case.canonical)) <= {0, labels.NCR, labels.ED, labels.ET}
        counts = labels.region_voxel_counts(case.canonical)
        assert counts["WT"] >= counts["TC"] >= counts["ET"]
        assert counts["TC"] > 0
        assert 1.5 <= counts["WT"] / counts["TC"] <= 4.5
        assert 5 < counts["WT"] * voxel_ml < 350
    whole = np.median([labels.region_voxel_counts(c.canonical)["WT"] for c in cases]) * voxel_ml
    assert 40 < whole < 200  # BraTS whole tumours: tens to a few hundred ml


def test_case_mix_over_forty_cases():
    """Some cases have no necrosis, some no enhancement, some several separate cores."""
    solid = quiet = multifocal = 0
    for k in range(40):
        canonical = phantoms.make_realistic_phantom((48, 48, 31), [1, k]).canonical
        counts = np.bincount(canonical.ravel(), minlength=4)
        solid += counts[labels.NCR] == 0
        quiet += counts[labels.ET] == 0
        cores = ndimage.label(np.isin(canonical, (labels.NCR, labels.ET)), np.ones((3,) * 3))[1]
        multifocal += cores >= 2
    assert 2 <= solid <= 15 and 2 <= quiet <= 15 and multifocal >= 4


@pytest.fixture(scope="module")
def fine_cases():
    return [phantoms.make_realistic_phantom((120, 120, 78), [0, k]) for k in range(3)]


def test_tumour_stands_out_where_mri_shows_it(fine_cases):
    for case in fine_cases:
        healthy = (case.images["flair"] != 0) & (case.canonical == 0)
        flair, t1ce = case.images["flair"], case.images["t1ce"]
        oedema = case.canonical == labels.ED
        assert np.median(flair[oedema]) > 1.15 * np.median(flair[healthy])
        enhancing, necrotic = case.canonical == labels.ET, case.canonical == labels.NCR
        if enhancing.sum() >= 20:
            assert np.median(t1ce[enhancing]) > 1.5 * np.median(t1ce[healthy])
        if necrotic.sum() >= 20 and enhancing.sum() >= 20:
            assert np.median(t1ce[necrotic]) < np.median(t1ce[enhancing])


def test_look_alikes_enhance_outside_the_labels(fine_cases):
    """Vessels and choroid plexus: T1ce as bright as enhancing tumour, never labelled."""
    for case in fine_cases:
        t1ce = case.images["t1ce"]
        healthy = (t1ce != 0) & (case.canonical == 0)
        bright = t1ce > 1.5 * np.median(t1ce[healthy])
        assert np.count_nonzero(bright & healthy) >= 20


def test_grid_too_coarse_is_refused():
    with pytest.raises(ValueError, match=r"at most 5 mm.*\(48, 48, 31\).*\(40, 48, 31\)"):
        phantoms.make_realistic_phantom((40, 48, 31), 0)


def test_command_writes_a_realistic_release_dataset(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "brats_rev.phantoms", f"--output_dir={tmp_path}", "--num_cases=1",
         "--kind=realistic", "--release=2023", "--shape=48,48,31", "--seed=3"],
        capture_output=True, text=True, check=True)
    assert "wrote 1 realistic 2023 cases of shape (48, 48, 31)" in result.stdout
    case_dir = tmp_path / "BraTS-GLI-00000-000"
    seg = nib.load(str(case_dir / "BraTS-GLI-00000-000-seg.nii.gz"))
    assert seg.header.get_zooms() == pytest.approx((5.0, 5.0, 5.0))
    expected = phantoms.make_realistic_phantom((48, 48, 31), [3, 0])
    np.testing.assert_array_equal(labels.to_canonical(np.asarray(seg.dataobj), "brats2023"),
                                  expected.canonical)
    t1c = nib.load(str(case_dir / "BraTS-GLI-00000-000-t1c.nii.gz"))
    np.testing.assert_array_equal(np.asarray(t1c.dataobj), expected.images["t1ce"])
