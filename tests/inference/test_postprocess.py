"""Region probabilities -> labels: thresholds, nesting, small ET, uncrop, convention."""

import numpy as np
import pytest

from brats_rev import labels, phantoms
from brats_rev.config import InferenceConfig
from brats_rev.data import preprocess
from brats_rev.data.prepare import prepare_case
from brats_rev.inference import postprocess

# The default thresholds of the GLI regions (0.5 each).
HALF = InferenceConfig().region_thresholds(labels.GLI)


def test_threshold_regions_table():
    probabilities = np.array([
        [0.1, 0.1, 0.1],  # nothing -> background
        [0.6, 0.1, 0.1],  # WT only -> ED
        [0.6, 0.6, 0.1],  # WT and TC -> NCR
        [0.6, 0.6, 0.6],  # all -> ET
        [0.1, 0.1, 0.6],  # ET alone still wins: nesting is imposed from the inside out
        [0.5, 0.2, 0.2],  # at the threshold counts as inside
        [0.7, 0.45, 0.2],  # TC below its own threshold 0.5 -> ED
    ], np.float32)[:, None, None, :]
    canonical = postprocess.threshold_regions(probabilities, HALF)
    assert canonical.dtype == np.uint8
    np.testing.assert_array_equal(canonical[:, 0, 0], [0, 2, 1, 3, 3, 2, 2])
    lowered = postprocess.threshold_regions(probabilities, thresholds=(0.8, 0.4, 0.9))
    np.testing.assert_array_equal(lowered[:, 0, 0], [0, 0, 1, 1, 0, 0, 1])


def test_threshold_regions_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="Received: shape=\\(2, 2, 2, 2\\)"):
        postprocess.threshold_regions(np.zeros((2, 2, 2, 2)), HALF)


@pytest.mark.parametrize("min_voxels, expected_et", [(0, 3), (3, 3), (4, 0), (100, 0)])
def test_small_enhancing_tumour_becomes_necrosis(min_voxels, expected_et):
    canonical = np.zeros((4, 4, 4), np.uint8)
    canonical[0, 0, :3] = labels.ET
    canonical[1, 1, 1] = labels.ED
    canonical[2, 2, 2] = labels.NCR
    result = postprocess.relabel_small_enhancing(canonical, min_voxels)
    counts = labels.region_voxel_counts(result)
    assert counts == {"WT": 5, "TC": 4, "ET": expected_et}
    assert np.count_nonzero(canonical == labels.ET) == 3  # input untouched


@pytest.mark.parametrize("release", ["2020", "2021", "2023"])
def test_true_regions_give_back_the_seg_file_exactly(release):
    """Crop -> regions -> threshold -> uncrop -> convention restores the release's seg file."""
    phantom = phantoms.make_phantom((40, 44, 36), seed=3)
    convention = {"2020": "brats2020", "2021": "brats2021", "2023": "brats2023"}[release]
    seg = labels.from_canonical(phantom.canonical, convention)
    image = np.stack([phantom.images[m] for m in ("flair", "t1", "t1ce", "t2")], axis=-1)
    prepared = prepare_case(image, margin=2)
    assert np.all(prepared.box[:, 0] > 0)  # the crop really removes something
    regions = labels.regions_from_canonical(preprocess.crop(phantom.canonical, prepared.box))
    canonical = postprocess.threshold_regions(regions.astype(np.float32), HALF)
    restored = postprocess.to_original_grid(canonical, prepared.box, prepared.original_shape,
                                            convention)
    assert restored.dtype == np.uint8
    np.testing.assert_array_equal(restored, seg)
    assert set(np.unique(restored)) == set(labels.allowed_values(convention))
