"""The shared case preprocessing: crop box with and without labels, z-score, canonical labels."""

import numpy as np
import pytest

from brats_rev import labels
from brats_rev.data import preprocess
from brats_rev.data.prepare import crop_case, prepare_case


def _case():
    """A (10, 9, 8, 4) image whose brain is [2:6, 3:7, 1:5], and a 2023 seg partly outside it."""
    rng = np.random.default_rng(0)
    image = np.zeros((10, 9, 8, 4), np.float32)
    image[2:6, 3:7, 1:5] = rng.uniform(1, 5, size=(4, 4, 4, 4))
    seg = np.zeros((10, 9, 8), np.uint8)
    seg[3, 4, 2] = 3  # ET inside the brain
    seg[7, 4, 2] = 2  # ED outside the brain: widens the box only when labels are given
    return image, seg


def test_image_only_box_and_zscore():
    image, _ = _case()
    prepared = prepare_case(image, margin=1)
    np.testing.assert_array_equal(prepared.box, [[1, 7], [2, 8], [0, 6]])
    assert prepared.label is None and prepared.original_shape == (10, 9, 8)
    brain = prepared.image[1:5, 1:5, 1:5]
    np.testing.assert_allclose(brain.mean(axis=(0, 1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(brain.std(axis=(0, 1, 2)), 1, rtol=1e-5)
    assert np.count_nonzero(prepared.image) == 4 * 4 * 4 * 4  # zero outside the brain


@pytest.mark.parametrize("convention, et", [("brats2021", 4), ("brats2023", 3)])
def test_labels_widen_the_box_and_become_canonical(convention, et):
    image, seg = _case()
    seg[seg == 3] = et
    prepared = prepare_case(image, seg, convention, margin=0)
    np.testing.assert_array_equal(prepared.box, [[2, 8], [3, 7], [1, 5]])
    assert prepared.label.flags["C_CONTIGUOUS"]
    assert prepared.label[1, 1, 1] == labels.ET and prepared.label[5, 1, 1] == labels.ED
    assert labels.region_voxel_counts(prepared.label) == {"WT": 2, "TC": 1, "ET": 1}


def test_crop_case_keeps_the_source_and_prepare_case_zscores_it():
    image, seg = _case()
    cropped = crop_case(image, seg, "brats2023", margin=0)
    np.testing.assert_array_equal(cropped.box, [[2, 8], [3, 7], [1, 5]])
    np.testing.assert_array_equal(cropped.intensities, image[2:8, 3:7, 1:5])
    assert cropped.mask.shape == (6, 4, 4) and np.count_nonzero(cropped.mask) == 4 * 4 * 4
    assert not cropped.mask[4:].any()  # the rows the tumour label added are outside the brain
    prepared = prepare_case(image, seg, "brats2023", margin=0)
    np.testing.assert_array_equal(prepared.image,
                                  preprocess.zscore(cropped.intensities, cropped.mask))
    np.testing.assert_array_equal(prepared.label, cropped.label)


def test_constant_modality_is_named():
    image, _ = _case()
    image[..., 2][image[..., 2] != 0] = 7.0
    with pytest.raises(ValueError, match="cannot normalise channel t1ce"):
        prepare_case(image)
