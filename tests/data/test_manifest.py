"""Manifest pieces: folds, shard names, canonical JSON."""

import pytest

from brats_rev.data import manifest


def test_folds_are_balanced_deterministic_and_disjoint():
    ids = [f"BraTS2021_{i:05d}" for i in range(23)]
    folds = manifest.assign_folds(ids, 5)
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    assert sorted(c for f in folds for c in f) == ids
    assert manifest.assign_folds(list(reversed(ids)), 5) == folds
    assert all(f == sorted(f) for f in folds)
    with pytest.raises(ValueError, match="num_folds"):
        manifest.assign_folds(ids, 0)


def test_fold_rule_is_the_sha256_rank():
    # sha256 hex prefixes: "a" ca97..., "b" 3e23..., "c" 2e7d..., "d" 18ac...
    assert manifest.assign_folds(["a", "b", "c", "d"], 2) == [["b", "d"], ["a", "c"]]


def test_shard_name_and_json():
    assert manifest.shard_file_name(3, 16) == "brats-00003-of-00016.tfrecord.gz"
    expected = '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert manifest.to_json({"b": 1, "a": [1, 2]}) == expected
