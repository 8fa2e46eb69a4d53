"""Label conventions: exact tables, round trips, regions, and errors on unknown values."""

import numpy as np
import pytest

from brats_rev import labels

SOURCE = {
    "brats2020": np.array([[0, 1, 2], [4, 4, 0]], dtype=np.uint8),
    "brats2021": np.array([[0, 1, 2], [4, 4, 0]], dtype=np.int16),
    "brats2023": np.array([[0, 1, 2], [3, 3, 0]], dtype=np.float64),
}
CANONICAL = np.array([[0, 1, 2], [3, 3, 0]], dtype=np.uint8)


@pytest.mark.parametrize("convention", sorted(SOURCE))
def test_to_canonical_table(convention):
    result = labels.to_canonical(SOURCE[convention], convention)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, CANONICAL)


@pytest.mark.parametrize("convention", sorted(SOURCE))
def test_round_trip_is_exact(convention):
    rng = np.random.default_rng(1)
    source = rng.choice(labels.allowed_values(convention), size=(7, 6, 5)).astype(np.uint8)
    back = labels.from_canonical(labels.to_canonical(source, convention), convention)
    np.testing.assert_array_equal(back, source)


def test_from_canonical_uses_release_value_for_et():
    assert labels.from_canonical(np.array([3]), "brats2021").tolist() == [4]
    assert labels.from_canonical(np.array([3]), "brats2023").tolist() == [3]


@pytest.mark.parametrize("convention, bad, found", [
    ("brats2021", [0, 3, 5], "[3, 5]"),
    ("brats2023", [0, 4], "[4]"),
    ("brats2020", [-1, 1], "[-1]"),
])
def test_unknown_values_are_errors_naming_them(convention, bad, found):
    with pytest.raises(ValueError, match=r"label values " + found.replace("[", r"\[")
                       .replace("]", r"\]") + r" are not allowed.*allowed \["):
        labels.to_canonical(np.array(bad), convention)


def test_fractional_labels_and_unknown_convention_are_errors():
    with pytest.raises(ValueError, match="whole numbers"):
        labels.to_canonical(np.array([0.0, 0.5]), "brats2021")
    with pytest.raises(ValueError, match="Unknown label convention 'brats2019'"):
        labels.to_canonical(np.array([0]), "brats2019")
    with pytest.raises(ValueError, match=r"\[4\] are not allowed"):
        labels.from_canonical(np.array([4]), "brats2021")


def test_regions_from_canonical_table():
    regions = labels.regions_from_canonical(np.array([0, 1, 2, 3], dtype=np.uint8))
    assert regions.dtype == np.uint8
    #                       WT TC ET
    np.testing.assert_array_equal(regions, [[0, 0, 0],   # background
                                            [1, 1, 0],   # NCR
                                            [1, 0, 0],   # ED
                                            [1, 1, 1]])  # ET


def test_canonical_from_regions_inverts_and_nests():
    canonical = np.arange(4, dtype=np.uint8).repeat(3).reshape(3, 2, 2)
    np.testing.assert_array_equal(
        labels.canonical_from_regions(labels.regions_from_canonical(canonical)), canonical)
    # ET without TC/WT flags still means ET; TC without ET means NCR.
    np.testing.assert_array_equal(
        labels.canonical_from_regions(np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]])), [3, 1, 2])
    with pytest.raises(ValueError, match="last axis of size 3"):
        labels.canonical_from_regions(np.zeros((2, 2)))


def test_region_voxel_counts_match_source_counts():
    source = SOURCE["brats2020"]
    counts = labels.region_voxel_counts(labels.to_canonical(source, "brats2020"))
    assert counts == {"WT": 4, "TC": 3, "ET": 2}
    assert counts["ET"] == int(np.sum(source == 4))


def test_label_values():
    assert labels.label_values(np.array([[4, 0], [4, 2]], dtype=np.int16)) == [0, 2, 4]
    assert labels.label_values(np.array([], dtype=np.uint8)) == []
