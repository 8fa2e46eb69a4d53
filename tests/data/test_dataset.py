"""build_dataset on the sample records: folds, batches, region targets, seeds, workers, damage."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from brats_rev import labels
from brats_rev.config import DataConfig
from brats_rev.data import dataset, manifest, records

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "tfrecords" / "sample"
CONFIG = DataConfig(data_dir=str(SAMPLE), patch_size=16, batch_size=2)


def _batches(config, count, seed=0, fold=0, **kwargs):
    built = dataset.build_dataset(config, "train", fold, seed=seed, **kwargs)
    return [tuple(t.numpy() for t in batch) for batch in built.take(count)]


def test_a_config_without_data_dir_is_refused():
    with pytest.raises(ValueError, match="data_dir"):
        dataset.build_dataset(DataConfig(), "train", 0)


def test_region_targets_follow_the_label_table():
    label = tf.constant([[0, 1], [2, 3]], tf.uint8)
    expected = np.array([[[0, 0, 0], [1, 1, 0]], [[1, 0, 0], [1, 1, 1]]], np.float32)
    np.testing.assert_array_equal(dataset.region_targets(label), expected)
    canonical = np.random.default_rng(0).integers(0, 4, (5, 6, 7)).astype(np.uint8)
    np.testing.assert_array_equal(dataset.region_targets(canonical),
                                  labels.regions_from_canonical(canonical).astype(np.float32))


@pytest.mark.slow
def test_training_batches_are_patches_and_nested_region_masks():
    image, targets = _batches(CONFIG, 1)[0]
    assert image.shape == (2, 16, 16, 16, 4) and image.dtype == np.float32
    assert targets.shape == (2, 16, 16, 16, 3) and targets.dtype == np.float32
    assert set(np.unique(targets)) <= {0.0, 1.0}
    whole, core, enhancing = targets[..., 0], targets[..., 1], targets[..., 2]
    assert np.all(core <= whole) and np.all(enhancing <= core)


@pytest.mark.slow
def test_oversampling_puts_tumour_in_every_patch_when_forced():
    forced = CONFIG.without_augmentation().replace(foreground_probability=1.0, batch_size=4)
    for _, targets in _batches(forced, 5):
        assert np.all(targets[..., 0].sum(axis=(1, 2, 3)) > 0)


@pytest.mark.slow
def test_same_seed_same_batches_other_seed_other_batches():
    first = _batches(CONFIG, 4, seed=11)
    second = _batches(CONFIG, 4, seed=11)
    other = _batches(CONFIG, 4, seed=12)
    for (a_image, a_targets), (b_image, b_targets) in zip(first, second, strict=True):
        np.testing.assert_array_equal(a_image, b_image)
        np.testing.assert_array_equal(a_targets, b_targets)
    assert not all(np.array_equal(a[0], c[0]) for a, c in zip(first, other, strict=True))


DIGEST = """
import hashlib, sys
from brats_rev.config import DataConfig
from brats_rev.data import dataset
config = DataConfig(data_dir=sys.argv[1], patch_size=16, batch_size=2)
digest = hashlib.sha256()
for image, targets in dataset.build_dataset(config, "train", 1, seed=5).take(4):
    digest.update(image.numpy().tobytes() + targets.numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_two_processes_with_the_same_seed_give_the_same_batches():
    digests = [subprocess.run([sys.executable, "-c", DIGEST, str(SAMPLE)], capture_output=True,
                              text=True, check=True).stdout.strip() for _ in range(2)]
    assert len(digests[0]) == 64 and digests[0] == digests[1]


@pytest.mark.slow
def test_uncached_pipeline_gives_the_same_batches():
    cached = _batches(CONFIG, 3, seed=4)
    uncached = _batches(CONFIG.replace(cache=False), 3, seed=4)
    for (a_image, _), (b_image, _) in zip(cached, uncached, strict=True):
        np.testing.assert_array_equal(a_image, b_image)


@pytest.mark.parametrize("cache", [True, False])
def test_validation_yields_each_whole_case_with_its_geometry(cache):
    cases = {case["case_id"]: case for case in records.read_cases(str(SAMPLE))}
    built = dataset.build_dataset(CONFIG.replace(cache=cache), "validation", 2)
    elements = list(built.as_numpy_iterator())
    assert elements[0]["image"].dtype == np.float32
    assert sorted(e["case_id"][0].decode() for e in elements) == manifest.load_manifest(
        str(SAMPLE))["folds"][2]
    for element in elements:
        case = cases[element["case_id"][0].decode()]
        # The cache holds float16 images (dataset._compact); the records give float32.
        expected = case["image"].astype(np.float16).astype(np.float32) if cache else case["image"]
        np.testing.assert_array_equal(element["image"][0], expected)
        np.testing.assert_array_equal(element["label"][0], case["label"])
        np.testing.assert_array_equal(element["regions"][0],
                                      labels.regions_from_canonical(case["label"]))
        for key in ("crop_box", "original_shape", "affine", "spacing"):
            np.testing.assert_array_equal(element[key][0], case[key])
        assert element["convention"][0].decode() == case["convention"]


@pytest.mark.slow
def test_input_pipelines_read_disjoint_cases():
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        built = dataset.build_dataset(CONFIG, "validation", 1, input_context=context)
        seen.append({e["case_id"][0].decode() for e in built.as_numpy_iterator()})
    assert not seen[0] & seen[1]
    assert sorted(seen[0] | seen[1]) == manifest.load_manifest(str(SAMPLE))["folds"][1]
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                         num_replicas_in_sync=2)
    image, _ = _batches(CONFIG, 1, input_context=context)[0]
    assert image.shape[0] == 1  # global batch 2 over 2 replicas


@pytest.mark.slow
def test_works_with_distribute_datasets_from_function():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    distributed = strategy.distribute_datasets_from_function(
        lambda context: dataset.build_dataset(CONFIG, "train", 0, seed=3, input_context=context))
    image, targets = next(iter(distributed))
    np.testing.assert_array_equal(image, _batches(CONFIG, 1, seed=3)[0][0])
    assert targets.shape == (2, 16, 16, 16, 3)


def _copy_sample(tmp_path):
    target = tmp_path / "records"
    shutil.copytree(SAMPLE, target)
    return target


def test_a_damaged_shard_fails_before_reading(tmp_path):
    target = _copy_sample(tmp_path)
    shard = target / manifest.load_manifest(str(target))["shards"][1]["file"]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(manifest.ShardIntegrityError, match="brats-00001-of-00002"):
        dataset.build_dataset(CONFIG.replace(data_dir=str(target)), "train", 0)


def test_a_wrong_record_count_fails_while_reading(tmp_path):
    target = _copy_sample(tmp_path)
    path = target / manifest.MANIFEST_NAME
    document = json.loads(path.read_text())
    document["shards"][0]["num_records"] += 1
    path.write_text(json.dumps(document))
    built = dataset.build_dataset(CONFIG.replace(data_dir=str(target)), "validation", 0,
                                  verify_checksums=False)
    with pytest.raises(tf.errors.FailedPreconditionError, match="expected to contain 5 elements"):
        list(built)


@pytest.mark.parametrize(
    "changes,message",
    [({"foreground_probability": 1.5}, "foreground_probability"),
     ({"scale_range": (1.4, 0.7)}, "scale_range"),
     ({"gamma_range": (0.0, 1.0)}, "gamma_range"),
     ({"patch_size": (64, 32, 32)}, "rotate90_probability=0"),
     ({"batch_size": 0}, "batch_size")])
def test_data_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**changes)


def test_data_config_round_trips_and_turns_augmentation_off():
    config = DataConfig(data_dir="/records", patch_size=(64, 64, 32), rotate90_probability=0.2)
    assert config.patch_size == (64, 64, 32)
    assert DataConfig(**config.to_dict()) == config
    plain = config.without_augmentation()
    assert plain.foreground_probability == config.foreground_probability
    assert plain.flip_probability == plain.gamma_probability == plain.scale_probability == 0
    DataConfig(patch_size=(64, 32, 32), rotate90_probability=0.0)  # no rotation: any shape
