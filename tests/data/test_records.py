"""Record schema: exact round trips (numpy and tf.data), shards, manifests, damage detection."""

import os

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.data import manifest, records


def _case(case_id, shape=(5, 4, 3), labelled=True, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 4, size=shape).astype(np.uint8)
    return {
        "case_id": case_id,
        "convention": "brats2023",
        "image": rng.normal(size=shape + (4,)).astype(np.float32),
        "label": label if labelled else None,
        "original_shape": (9, 8, 7),
        "crop_box": np.array([[1, 6], [2, 6], [3, 6]]),
        "affine": np.array([[-1.0, 0, 0, 0.1], [0, -1, 0, 239], [0, 0, 1, 1e-7], [0, 0, 0, 1]]),
        "spacing": np.array([1.0, 1.0, 1.2]),
        "foreground": {name: np.argwhere(label == value)[:3].astype(np.int32)
                       for name, value in records.FOREGROUND_CLASSES.items()},
    }


def _assert_same(decoded, case):
    assert decoded["case_id"] == case["case_id"]
    assert decoded["convention"] == case["convention"]
    assert decoded["image"].dtype == np.float32
    np.testing.assert_array_equal(decoded["image"], case["image"].astype(np.float16))
    if case["label"] is None:
        assert decoded["label"] is None
    else:
        assert decoded["label"].dtype == np.uint8
        np.testing.assert_array_equal(decoded["label"], case["label"])
    np.testing.assert_array_equal(decoded["original_shape"], case["original_shape"])
    np.testing.assert_array_equal(decoded["crop_box"], case["crop_box"])
    np.testing.assert_array_equal(decoded["affine"], case["affine"])  # float64, exact
    np.testing.assert_array_equal(decoded["spacing"], case["spacing"])
    for name in records.FOREGROUND_CLASSES:
        np.testing.assert_array_equal(decoded["foreground"][name], case["foreground"][name])


@pytest.mark.parametrize("labelled", [True, False])
def test_numpy_round_trip(labelled):
    case = _case("BraTS-GLI-00001-000", labelled=labelled)
    serialized = records.encode_example(case)
    assert serialized == records.encode_example(case)  # deterministic bytes
    _assert_same(records.decode_example(serialized), case)


def test_parse_example_in_tf_data_matches_numpy(tmp_path):
    cases = [_case("a", seed=1), _case("b", shape=(3, 6, 2), labelled=False, seed=2)]
    path = str(tmp_path / "s.tfrecord.gz")
    records.write_shard(path, [records.encode_example(c) for c in cases])
    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP").map(records.parse_example)
    parsed = list(dataset.as_numpy_iterator())
    assert [p["case_id"] for p in parsed] == [b"a", b"b"]
    for got, case in zip(parsed, cases, strict=True):
        np.testing.assert_array_equal(got["image"], case["image"].astype(np.float16))
        np.testing.assert_array_equal(got["crop_box"], case["crop_box"])
        np.testing.assert_array_equal(got["affine"], case["affine"])
        assert got["has_label"] == (case["label"] is not None)
        expected_label = case["label"] if case["label"] is not None else 0
        np.testing.assert_array_equal(got["label"], np.broadcast_to(expected_label,
                                                                    case["image"].shape[:3]))
        np.testing.assert_array_equal(got["foreground"]["ET"], case["foreground"]["ET"])


def _dataset(directory, shards=((("a", 1), ("b", 2)), (("c", 3),))):
    """Writes shards of cases plus a manifest; returns the manifest path."""
    infos = []
    for index, shard in enumerate(shards):
        path = os.path.join(directory, manifest.shard_file_name(index, len(shards)))
        info = records.write_shard(path, [records.encode_example(_case(i, seed=s))
                                          for i, s in shard])
        infos.append({**info, "case_ids": [i for i, _ in shard]})
    document = manifest.build_manifest(records.SCHEMA_VERSION, infos, {}, [], {}, 2)
    return manifest.write_manifest(directory, document)


def test_read_cases_from_manifest_folder_and_shard(tmp_path):
    manifest_path = _dataset(str(tmp_path))
    for source in (manifest_path, str(tmp_path)):
        assert [c["case_id"] for c in records.read_cases(source)] == ["a", "b", "c"]
    os.remove(manifest_path)
    assert [c["case_id"] for c in records.read_cases(str(tmp_path))] == ["a", "b", "c"]
    shard = str(tmp_path / manifest.shard_file_name(1, 2))
    decoded = list(records.read_cases(shard))
    _assert_same(decoded[0], _case("c", seed=3))


def test_truncated_shard_is_detected_by_the_manifest(tmp_path):
    manifest_path = _dataset(str(tmp_path))
    shard = tmp_path / manifest.shard_file_name(0, 2)
    content = shard.read_bytes()
    shard.write_bytes(content[: len(content) - 200])
    with pytest.raises(manifest.ShardIntegrityError, match=f"shard {shard} is corrupt or "
                       "truncated"):
        list(records.read_cases(manifest_path))
    # Without the manifest the GZIP reader still fails loudly, naming the shard.
    with pytest.raises(manifest.ShardIntegrityError, match=f"shard {shard} is unreadable"):
        list(records.read_cases(str(shard)))


def test_record_count_mismatch_and_missing_shard(tmp_path):
    manifest_path = _dataset(str(tmp_path))
    document = manifest.load_manifest(manifest_path)
    document["shards"][1]["num_records"] = 2
    manifest.write_manifest(str(tmp_path), document)
    with pytest.raises(manifest.ShardIntegrityError, match="holds 1 records; the manifest says 2"):
        list(records.read_cases(manifest_path))
    os.remove(tmp_path / manifest.shard_file_name(0, 2))
    with pytest.raises(manifest.ShardIntegrityError, match="does not exist"):
        list(records.read_cases(manifest_path))


def test_other_schema_version_is_refused(tmp_path):
    manifest_path = _dataset(str(tmp_path))
    document = manifest.load_manifest(manifest_path)
    document["schema_version"] = records.SCHEMA_VERSION + 1
    manifest.write_manifest(str(tmp_path), document)
    with pytest.raises(ValueError, match="schema version 2 is not supported"):
        list(records.read_cases(manifest_path))


def test_write_shard_is_byte_identical_and_leaves_no_temporary(tmp_path):
    serialized = [records.encode_example(_case("a")), records.encode_example(_case("b"))]
    first = records.write_shard(str(tmp_path / "one.tfrecord.gz"), serialized)
    second = records.write_shard(str(tmp_path / "two.tfrecord.gz"), serialized)
    assert first["sha256"] == second["sha256"] and first["num_records"] == 2
    assert sorted(os.listdir(tmp_path)) == ["one.tfrecord.gz", "two.tfrecord.gz"]
