"""Manifest pieces: folds, splits, shard names, canonical JSON."""

import json

import pytest

from brats_rev import config
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


@pytest.fixture(scope="module")
def sample_manifest():
    return manifest.load_manifest(config.SAMPLE_DATA_DIR)


@pytest.mark.parametrize("fold", range(4))
def test_folds_split_the_cases_without_overlap(sample_manifest, fold):
    train = manifest.split_cases(sample_manifest, "train", fold)
    validation = manifest.split_cases(sample_manifest, "validation", fold)
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(sample_manifest["cases"])
    assert validation == sample_manifest["folds"][fold] and len(train) == 6
    assert manifest.split_cases(sample_manifest, "train", None) == sorted(sample_manifest["cases"])


def test_unlabelled_cases_and_bad_arguments_are_refused(sample_manifest):
    document = json.loads(json.dumps(sample_manifest))
    unlabelled = document["folds"][0][0]
    document["cases"][unlabelled]["has_label"] = False
    assert unlabelled not in manifest.split_cases(document, "validation", 0)
    with pytest.raises(ValueError, match="split='test'"):
        manifest.split_cases(document, "test", 0)
    with pytest.raises(ValueError, match="fold=4"):
        manifest.split_cases(document, "train", 4)
    with pytest.raises(ValueError, match="no validation split"):
        manifest.split_cases(document, "validation", None)


def test_shard_name_and_json():
    assert manifest.shard_file_name(3, 16) == "brats-00003-of-00016.tfrecord.gz"
    expected = '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert manifest.to_json({"b": 1, "a": [1, 2]}) == expected
