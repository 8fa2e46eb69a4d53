"""The demo report's readers and figures on tiny inputs."""

import os

import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import labels, phantoms
from brats_rev.data.cases import find_cases
from brats_rev.demo import report


def _budget(ratios, capped_reversible=(), capped_plain=()):
    return {"budget_mb": 80, "ratios": ratios,
            "capped": {"reversible": list(capped_reversible), "plain": list(capped_plain)}}


@pytest.mark.parametrize("budget, expected", [
    (None, {}),
    (_budget({"width": 2.0, "voxels": 3.375, "depth": 4.0}),
     {"voxels": "3.38x", "depth": "4.00x", "width": "2.00x"}),
    # The reversible search fit its largest value: the ratio is a lower bound.
    (_budget({"voxels": 1.0, "depth": 4.0, "width": 3.0}, capped_reversible=["blocks"]),
     {"voxels": "1.00x", "depth": "≥ 4.00x", "width": "3.00x"}),
    # Plain fit its largest value too, or fit nothing: no ratio.
    (_budget({"voxels": None, "depth": 1.0, "width": 1.0}, ["blocks"], ["blocks"]),
     {"voxels": "-", "depth": "-", "width": "1.00x"}),
])
def test_ratio_cells(budget, expected):
    cells = report.ratio_cells(budget)
    assert cells == expected
    assert list(cells) == list(expected)  # voxels, depth, width


def test_read_scalars_returns_steps_and_values_and_skips_images(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step, value in ((3, 0.5), (1, 0.25), (2, 0.125)):
            tf.summary.scalar("mean_dice", value, step=step)
        tf.summary.scalar("loss", 2.0, step=1)
        tf.summary.image("overlay", tf.zeros((1, 4, 4, 3)), step=1)
    writer.close()
    assert report.read_scalars(str(tmp_path)) == {"mean_dice": ([1, 2, 3], [0.25, 0.125, 0.5]),
                                                  "loss": ([1], [2.0])}


def test_read_scalars_without_event_files_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        report.read_scalars(str(tmp_path))


def _phantom_case(root):
    phantoms.write_dataset(str(root), 1, "2021", (24, 28, 20), seed=1)
    cases, _ = find_cases(str(root))
    return cases[0]


def test_case_overlay_shows_the_slice_with_most_tumour(tmp_path):
    case = _phantom_case(tmp_path / "cases")
    prediction = tmp_path / "prediction.nii.gz"
    nib.save(nib.load(case.seg), str(prediction))
    path = str(tmp_path / "figures" / "overlay.png")
    z = report.plot_case_overlay(case, [("model", str(prediction))], path)
    seg = labels.to_canonical(np.asarray(nib.load(case.seg).dataobj), case.convention)
    tumour_per_slice = (seg > 0).sum(axis=(0, 1))
    assert tumour_per_slice[z] == tumour_per_slice.max() > 0
    two = tf.io.decode_png(tf.io.read_file(path))
    assert two.shape[2] in (3, 4) and two.shape[1] > two.shape[0]  # two panels side by side
    assert os.listdir(tmp_path / "figures") == ["overlay.png"]  # no temporary left
    report.plot_case_overlay(case, [("model", str(prediction)), ("baseline", str(prediction))],
                             path)
    three = tf.io.decode_png(tf.io.read_file(path))
    assert three.shape[0] == two.shape[0] and three.shape[1] > 1.3 * two.shape[1]


def test_case_overlay_refuses_a_prediction_on_another_grid(tmp_path):
    case = _phantom_case(tmp_path / "cases")
    seg = nib.load(case.seg)
    prediction = tmp_path / "prediction.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(seg.dataobj), np.eye(4)), str(prediction))
    with pytest.raises(ValueError, match="prediction.nii.gz"):
        report.plot_case_overlay(case, [("model", str(case.seg)), ("other", str(prediction))],
                                 str(tmp_path / "overlay.png"))


def test_export_version_is_the_largest_integer_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        report.export_version(str(tmp_path))
    for name in ("2", "10", ".export-11-tmp", "notes"):
        os.makedirs(tmp_path / name)
    (tmp_path / "12").write_text("a file, not a version")
    assert report.export_version(str(tmp_path)) == str(tmp_path / "10")
