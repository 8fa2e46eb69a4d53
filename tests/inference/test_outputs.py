"""Output file names that cannot escape the folder; NIfTI written with the input's geometry."""

import os

import nibabel as nib
import numpy as np
import pytest

from brats_rev.inference import outputs


@pytest.mark.parametrize(
    "case_id, name",
    [
        ("BraTS2021_00000", "BraTS2021_00000.nii.gz"),
        ("../../etc/passwd", "_.._etc_passwd.nii.gz"),
        ("..", None),
        ("/abs/path", "_abs_path.nii.gz"),
        ("a\\b:c d", "a_b_c_d.nii.gz"),
        (".hidden", "hidden.nii.gz"),
    ],
)
def test_output_path_stays_in_the_folder(tmp_path, case_id, name):
    if name is None:
        with pytest.raises(ValueError, match="gives no usable file name"):
            outputs.output_path(str(tmp_path), case_id)
        return
    path = outputs.output_path(str(tmp_path), case_id)
    assert path == os.path.join(str(tmp_path), name)
    assert os.path.dirname(os.path.realpath(path)) == os.path.realpath(tmp_path)


def test_write_nifti_keeps_geometry_and_values(tmp_path):
    affine = np.array([[-1.2, 0, 0, 10], [0, -1.0, 0, 239], [0, 0, 2.5, -5], [0, 0, 0, 1]])
    reference = nib.Nifti1Image(np.ones((3, 4, 5), np.int16), affine)
    reference.set_qform(affine, code=1)
    reference.set_sform(affine, code=1)
    reference.header.set_xyzt_units("mm")
    reference.header.set_slope_inter(3.0, 1.0)  # must not scale the labels
    labels = np.random.default_rng(0).choice([0, 1, 2, 4], size=(3, 4, 5)).astype(np.uint8)
    path = str(tmp_path / "case.nii.gz")
    outputs.write_nifti(path, labels, reference)
    written = nib.load(path)
    assert written.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(written.dataobj), labels)
    np.testing.assert_allclose(written.affine, affine)
    assert int(written.header["qform_code"]) == 1 and int(written.header["sform_code"]) == 1
    assert written.header.get_zooms() == pytest.approx((1.2, 1.0, 2.5))
    assert written.header.get_xyzt_units()[0] == "mm"
    assert sorted(os.listdir(tmp_path)) == ["case.nii.gz"]  # no temporary left behind

    probabilities = np.linspace(0, 1, 3 * 4 * 5 * 3).reshape(3, 4, 5, 3)
    stored = np.rint(probabilities * 255).astype(np.uint8)
    outputs.write_nifti(str(tmp_path / "p.nii.gz"), stored, reference, slope=1 / 255)
    np.testing.assert_allclose(nib.load(str(tmp_path / "p.nii.gz")).get_fdata(), probabilities,
                               atol=0.5 / 255 + 1e-7)
