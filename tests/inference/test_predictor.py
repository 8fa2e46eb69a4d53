"""Predictor end to end on written cases, with a window function that reads the true regions."""

import os

import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import labels, phantoms
from brats_rev.config import InferenceConfig, preset
from brats_rev.data import layouts
from brats_rev.data.cases import find_cases
from brats_rev.inference.predictor import (
    CaseError,
    frozen_region_probabilities,
    region_probabilities,
)
from brats_rev.models import build_model
from tests.inference.fakes import SHAPE, encoding_phantom, region_reading_predictor


@pytest.mark.parametrize("release", ["2020", "2021", "2023"])
def test_true_regions_reproduce_the_seg_file(tmp_path, release):
    layout = layouts.LAYOUTS[release]
    case_id = layouts.case_id_for(release, 1)
    phantoms.write_phantom(encoding_phantom(seed=5), str(tmp_path), release, case_id)
    [case], problems = find_cases(str(tmp_path))
    assert problems == []
    predictor = region_reading_predictor(InferenceConfig(overlap=0.3, batch_size=2))
    prediction, loaded = predictor.predict_case(case)
    seg = np.asarray(nib.load(case.seg).dataobj)
    assert prediction.convention == layout.convention
    assert prediction.labels.dtype == np.uint8
    np.testing.assert_array_equal(prediction.labels, seg)
    np.testing.assert_array_equal(loaded.affine, phantoms.phantom_affine(SHAPE))
    again, _ = predictor.predict_case(loaded)  # an already loaded case
    np.testing.assert_array_equal(again.labels, seg)
    full = prediction.full_probabilities()
    np.testing.assert_array_equal(full >= 0.5, labels.regions_from_canonical(
        labels.to_canonical(seg, layout.convention)).astype(bool))


def test_flips8_and_an_explicit_convention(tmp_path):
    case_id = layouts.case_id_for("2021", 0)
    phantom = encoding_phantom(seed=6)
    phantoms.write_phantom(phantom, str(tmp_path), "2021", case_id)
    [case], _ = find_cases(str(tmp_path))
    config = InferenceConfig(tta="flips8", label_convention="brats2023")
    prediction, _ = region_reading_predictor(config).predict_case(case)
    np.testing.assert_array_equal(prediction.labels,
                                  labels.from_canonical(phantom.canonical, "brats2023"))
    assert prediction.convention == "brats2023"


def test_tta_averages_the_mirrored_predictions():
    """A window function that is not mirror-symmetric: flips8 averages the 8 mirrored results."""
    predictor = region_reading_predictor(InferenceConfig(tta="flips8"))
    ramp = tf.reshape(tf.range(16, dtype=tf.float32) / 15, (1, 16, 1, 1, 1))
    predictor.predict_windows = lambda w: tf.broadcast_to(ramp, tf.shape(w[..., :3]))
    probabilities = predictor.probabilities(np.ones((16, 8, 8, 4), np.float32))
    # Unflipped voxel x sees x / 15, flipped (4 of 8 copies) sees (15 - x) / 15: mean 0.5.
    np.testing.assert_allclose(probabilities, 0.5, rtol=1e-6)


def test_channel_mismatch_is_a_clear_case_error(tmp_path):
    case_id = layouts.case_id_for("2021", 0)
    phantoms.write_phantom(encoding_phantom(seed=7), str(tmp_path), "2021", case_id)
    [case], _ = find_cases(str(tmp_path))
    with pytest.raises(CaseError, match=f"{case_id}: .*model expects 3 input channels.*has 4"):
        region_reading_predictor(in_channels=3).predict_case(case)


def test_unreadable_file_names_case_and_file(tmp_path):
    case_id = layouts.case_id_for("2023", 0)
    case_dir = phantoms.write_phantom(encoding_phantom(seed=8), str(tmp_path), "2023", case_id)
    path = os.path.join(case_dir, f"{case_id}-t1c.nii.gz")
    with open(path, "r+b") as handle:
        handle.truncate(200)
    [case], _ = find_cases(str(tmp_path))
    with pytest.raises(CaseError, match=f"{case_id}: {path}: unreadable t1ce file"):
        region_reading_predictor().predict_case(case)


@pytest.mark.slow
def test_frozen_window_function_equals_the_model_and_ignores_later_weight_changes():
    model = build_model(preset("tiny").replace(block_mode="plain"))
    windows = tf.random.stateless_normal((3, 16, 16, 32, 4), seed=[4, 2])
    frozen = frozen_region_probabilities(model, (16, 16, 32), 4)
    expected = region_probabilities(model)(windows).numpy()
    np.testing.assert_allclose(frozen(windows), expected, atol=1e-6)
    np.testing.assert_allclose(frozen(windows[:1]), expected[:1], atol=1e-6)  # any batch size
    model.set_weights([w * 0.5 for w in model.get_weights()])  # the frozen copy keeps its own
    np.testing.assert_allclose(frozen(windows), expected, atol=1e-6)
    assert not np.allclose(region_probabilities(model)(windows), expected, atol=1e-3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,16,16,32,4\]"):
        frozen(windows[:, :8])  # only the window size it was frozen for
