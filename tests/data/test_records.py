"""Record schema: exact round trips (numpy and tf.data, both image encodings), encoding choice,
shards, manifests, damage and version detection."""

import os

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.data import manifest, preprocess, records


def _case(case_id, shape=(5, 4, 3), labelled=True, seed=0, integral=True):
    """A case dict; int16-representable intensities when `integral`, else fractional ones."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 4, size=shape).astype(np.uint8)
    intensities = rng.integers(-500, 3000, size=shape + (4,)).astype(np.float32)
    if not integral:
        intensities += rng.uniform(0.1, 0.9, size=intensities.shape).astype(np.float32)
    intensities[0, 0, 0] = 0  # outside the brain (every channel zero)
    intensities[0, 0, 1, 1] = 0  # inside the brain (other channels nonzero)
    return {
        "case_id": case_id,
        "task": "gli2023",
        "convention": "brats2023",
        "intensities": intensities,
        "label": label if labelled else None,
        "original_shape": (9, 8, 7),
        "crop_box": np.array([[1, 6], [2, 6], [3, 6]]),
        "affine": np.array([[-1.0, 0, 0, 0.1], [0, -1, 0, 239], [0, 0, 1, 1e-7], [0, 0, 0, 1]]),
        "spacing": np.array([1.0, 1.0, 1.2]),
        "foreground": {name: np.argwhere(label == value)[:3].astype(np.int32)
                       for name, value in records.foreground_classes("gli2023").items()},
    }


def _expected_image(case):
    """What the readers must return: preprocess's z-score, float16-rounded if stored so."""
    intensities = case["intensities"]
    image = preprocess.zscore(intensities, preprocess.brain_mask(intensities))
    if records.choose_encoding(intensities) == records.FLOAT16_ZSCORE:
        return image.astype(np.float16).astype(np.float32)
    return image


def _assert_same(decoded, case):
    assert decoded["case_id"] == case["case_id"]
    assert decoded["convention"] == case["convention"]
    assert decoded["task"] == case["task"]
    assert decoded["image"].dtype == np.float32
    np.testing.assert_array_equal(decoded["image"], _expected_image(case))
    intensities = case["intensities"]
    mean, std = preprocess.zscore_statistics(intensities, preprocess.brain_mask(intensities))
    np.testing.assert_array_equal(decoded["mean"], mean)
    np.testing.assert_array_equal(decoded["std"], std)
    if case["label"] is None:
        assert decoded["label"] is None
    else:
        assert decoded["label"].dtype == np.uint8
        np.testing.assert_array_equal(decoded["label"], case["label"])
    np.testing.assert_array_equal(decoded["original_shape"], case["original_shape"])
    np.testing.assert_array_equal(decoded["crop_box"], case["crop_box"])
    np.testing.assert_array_equal(decoded["affine"], case["affine"])  # float64, exact
    np.testing.assert_array_equal(decoded["spacing"], case["spacing"])
    assert set(decoded["foreground"]) == set(case["foreground"])
    for name in case["foreground"]:
        np.testing.assert_array_equal(decoded["foreground"][name], case["foreground"][name])


@pytest.mark.parametrize("integral, encoding", [(True, records.INT16_SOURCE),
                                                (False, records.FLOAT16_ZSCORE)])
@pytest.mark.parametrize("labelled", [True, False])
def test_numpy_round_trip(labelled, integral, encoding):
    case = _case("BraTS-GLI-00001-000", labelled=labelled, integral=integral)
    serialized = records.encode_example(case)
    assert serialized == records.encode_example(case)  # deterministic bytes
    decoded = records.decode_example(serialized)
    assert decoded["image_encoding"] == encoding
    _assert_same(decoded, case)
    assert decoded["image"][0, 0, 0].tolist() == [0, 0, 0, 0]
    assert decoded["image"][0, 0, 1, 1] < 0  # a zero inside the brain is z-scored


@pytest.mark.parametrize("values, dtype, expected", [
    ([0, 1, -32768, 32767], np.float32, records.INT16_SOURCE),
    ([0, 1, 70000, 2], np.int32, records.FLOAT16_ZSCORE),  # integral, beyond int16
    ([0, 1, 32768, 2], np.float32, records.FLOAT16_ZSCORE),
    ([0, -32769, 5, 2], np.float64, records.FLOAT16_ZSCORE),
    ([0, 1, 2.5, 3], np.float32, records.FLOAT16_ZSCORE),
    ([0, 1, 2, 3], np.uint16, records.INT16_SOURCE),
])
def test_encoding_choice(values, dtype, expected):
    assert records.choose_encoding(np.array(values, dtype=dtype)) == expected


def _image_feature(serialized, key=records.IMAGE):
    return tf.train.Example.FromString(serialized).features.feature[key].bytes_list.value[0]


def test_int16_image_is_stored_byte_shuffled_channel_first():
    case = _case("a", shape=(1, 1, 2))
    case["intensities"] = np.array([[[[1, 2, 3, 4], [-1, 256, 515, 0]]]], np.float32)
    stored = _image_feature(records.encode_example(case))
    channel_first = np.array([1, -1, 2, 256, 3, 515, 4, 0], np.int16)  # (4, 1, 1, 2)
    assert stored == bytes([1, 255, 2, 0, 3, 3, 4, 0, 0, 255, 0, 1, 0, 2, 0, 0])
    assert stored == channel_first.astype("<i2").view(np.uint8).reshape(-1, 2).T.tobytes()


def _rewritten(serialized, **changes):
    """`serialized` with string features replaced by `changes` (key: bytes or None=removed)."""
    example = tf.train.Example.FromString(serialized)
    for key, value in changes.items():
        if value is None:
            del example.features.feature[key]
        elif isinstance(value, int):
            example.features.feature[key].int64_list.value[:] = [value]
        else:
            example.features.feature[key].bytes_list.value[:] = [value]
    return example.SerializeToString(deterministic=True)


def _parse(serialized):
    return records.parse_example(tf.constant(serialized))


def test_unknown_or_corrupt_image_encoding_is_a_clear_error():
    serialized = records.encode_example(_case("BraTS-1"))
    bogus = _rewritten(serialized, image_encoding=b"bfloat16_zscore")
    with pytest.raises(ValueError, match="record BraTS-1: unknown image encoding "
                       "'bfloat16_zscore'; this reader knows"):
        records.decode_example(bogus)
    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown image encoding"):
        _parse(bogus)
    short = _rewritten(serialized, image=_image_feature(serialized)[:-2])
    with pytest.raises(ValueError, match="record BraTS-1: feature 'image' holds 478 bytes"):
        records.decode_example(short)


def test_version_1_record_is_refused_by_both_readers():
    serialized = records.encode_example(_case("a", integral=False))
    old = _rewritten(serialized, schema_version=1, image_encoding=None, mean=None, std=None)
    with pytest.raises(ValueError, match="schema version 1 is not supported"):
        records.decode_example(old)
    with pytest.raises(tf.errors.InvalidArgumentError, match="schema version differs from 2"):
        _parse(old)


def test_a_record_without_task_is_read_as_gli_by_both_readers():
    """Records written before tasks were recorded have no task feature: they are gli2023."""
    serialized = records.encode_example(_case("a"))
    old = _rewritten(serialized, task=None)
    assert "task" not in tf.train.Example.FromString(old).features.feature
    assert records.decode_example(old)["task"] == "gli2023"
    assert _parse(old)["task"].numpy() == b"gli2023"


def test_a_record_of_another_task_is_refused_and_its_own_classes_are_kept():
    """A ped2024 record stores the foreground of the PED classes; a reader of a gli2023
    dataset refuses it naming both tasks."""
    case = _case("BraTS-PED-00000-000")
    label = case["label"]
    case.update(task="ped2024", convention="brats2024-ped", foreground={
        name: np.argwhere(label == value)[:3].astype(np.int32)
        for name, value in records.foreground_classes("ped2024").items()})
    serialized = records.encode_example(case)
    decoded = records.decode_example(serialized)
    _assert_same(decoded, case)
    assert sorted(decoded["foreground"]) == ["CC", "ED", "ET", "NETC"]
    parsed = records.parse_example(tf.constant(serialized), "ped2024")
    assert sorted(parsed["foreground"]) == ["CC", "ED", "ET", "NETC"]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="(?s)is of task.*ped2024.*this dataset is of task gli2023"):
        _parse(serialized)


def test_constant_modality_is_refused_by_the_encoder():
    case = _case("a")
    case["intensities"][..., 2] = np.where(case["intensities"][..., 2] != 0, 7, 0)
    with pytest.raises(ValueError, match="cannot normalise channel t1ce"):
        records.encode_example(case)


def test_parse_example_in_tf_data_matches_numpy(tmp_path):
    cases = [_case("a", seed=1), _case("b", shape=(3, 6, 2), labelled=False, seed=2),
             _case("c", shape=(4, 3, 5), integral=False, seed=3)]
    path = str(tmp_path / "s.tfrecord.gz")
    serialized = [records.encode_example(c) for c in cases]
    records.write_shard(path, serialized)
    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP").map(records.parse_example)
    parsed = list(dataset.as_numpy_iterator())
    assert [p["case_id"] for p in parsed] == [b"a", b"b", b"c"]
    assert [p["image_encoding"] for p in parsed] == [b"int16_source", b"int16_source",
                                                     b"float16_zscore"]
    for got, case, record in zip(parsed, cases, serialized, strict=True):
        decoded = records.decode_example(record)
        assert got["image"].dtype == np.float32
        np.testing.assert_array_equal(got["image"], decoded["image"])
        np.testing.assert_array_equal(got["image"], _expected_image(case))
        np.testing.assert_array_equal(got["mean"], decoded["mean"])
        np.testing.assert_array_equal(got["std"], decoded["std"])
        np.testing.assert_array_equal(got["crop_box"], case["crop_box"])
        np.testing.assert_array_equal(got["affine"], case["affine"])
        assert got["has_label"] == (case["label"] is not None)
        expected_label = case["label"] if case["label"] is not None else 0
        np.testing.assert_array_equal(got["label"], np.broadcast_to(
            expected_label, case["intensities"].shape[:3]))
        np.testing.assert_array_equal(got["foreground"]["ET"], case["foreground"]["ET"])


def _dataset(directory, shards=((("a", 1), ("b", 2)), (("c", 3),))):
    """Writes shards of cases plus a manifest; returns the manifest path."""
    infos = []
    for index, shard in enumerate(shards):
        path = os.path.join(directory, manifest.shard_file_name(index, len(shards)))
        info = records.write_shard(path, [records.encode_example(_case(i, seed=s))
                                          for i, s in shard])
        infos.append({**info, "case_ids": [i for i, _ in shard]})
    document = manifest.build_manifest(records.SCHEMA_VERSION, "gli2023", infos, {}, [], {}, 2)
    return manifest.write_manifest(directory, document)


def test_read_cases_from_manifest_folder_and_shard(tmp_path):
    manifest_path = _dataset(str(tmp_path))
    for source in (manifest_path, str(tmp_path)):
        assert [c["case_id"] for c in records.read_cases(source)] == ["a", "b", "c"]
    os.remove(manifest_path)  # a folder of shards alone is no complete dataset
    with pytest.raises(FileNotFoundError, match="holds no manifest.json: the conversion did"):
        list(records.read_cases(str(tmp_path)))
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
    version = records.SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match=f"schema version {version} is not supported"):
        list(records.read_cases(manifest_path))


def test_write_shard_is_byte_identical_and_leaves_no_temporary(tmp_path):
    serialized = [records.encode_example(_case("a")), records.encode_example(_case("b"))]
    first = records.write_shard(str(tmp_path / "one.tfrecord.gz"), serialized)
    second = records.write_shard(str(tmp_path / "two.tfrecord.gz"), serialized)
    assert first["sha256"] == second["sha256"] and first["num_records"] == 2
    assert sorted(os.listdir(tmp_path)) == ["one.tfrecord.gz", "two.tfrecord.gz"]
