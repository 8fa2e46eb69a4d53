"""THE TFRecord schema of a converted case: keys, dtypes, version; encoder and both decoders.

One `tf.train.Example` per case, in GZIP-compressed TFRecord shards. The writer
(`encode_example`, `write_shard`), the numpy reader (`decode_example`, `read_cases`) and the
tf.data reader (`parse_example`) all use the definitions below; tfrecords/README.md describes
the same format for people. Spatial axes are in NIfTI voxel order (x, y, z), as nibabel
returns them; arrays are stored as raw little-endian bytes in C order.

A case dict (what `encode_example` takes and `decode_example` returns):
  case_id         str
  convention      str, label convention of the source segmentation (brats_rev.labels key)
  image           (X, Y, Z, 4) z-scored intensities, channels flair, t1, t1ce, t2; 0 outside
                  the brain; stored float16 channel-first (4, X, Y, Z), which compresses
                  about 9% better than interleaved channels; returned float32 (X, Y, Z, 4)
  label           (X, Y, Z) uint8 canonical labels (0 bg, 1 NCR, 2 ED, 3 ET), or None when the
                  case has no segmentation (parse_example then gives zeros and has_label False)
  original_shape  (3,) int64, shape of the source volumes
  crop_box        (3, 2) int64, [start, stop) per axis of the crop within the source grid
  affine          (4, 4) float64, voxel -> world (mm) of the source grid
  spacing         (3,) float64, voxel size in mm
  foreground      {"NCR", "ED", "ET": (n, 3) int32 voxel coordinates in the cropped grid}
"""

import glob
import os

import numpy as np
import tensorflow as tf

from brats_rev import labels
from brats_rev.data import atomic, manifest

SCHEMA_VERSION = 1
COMPRESSION = "GZIP"
# zlib level 1: on full-size cases 2x faster than level 6 and about 1% larger.
COMPRESSION_LEVEL = 1
NUM_CHANNELS = 4
IMAGE_DTYPE = np.dtype("<f2")

# Feature keys.
SCHEMA_VERSION_KEY = "schema_version"
CASE_ID = "case_id"
CONVENTION = "convention"
SHAPE = "shape"
IMAGE = "image"
HAS_LABEL = "has_label"
LABEL = "label"
ORIGINAL_SHAPE = "original_shape"
CROP_BOX = "crop_box"
AFFINE = "affine"
SPACING = "spacing"
FOREGROUND_CLASSES = {labels.CANONICAL_NAMES[c]: c for c in labels.TUMOUR_CLASSES}
FOREGROUND_PREFIX = "foreground/"

STRING_KEYS = (CASE_ID, CONVENTION)
# int64 features and their lengths (crop_box is stored flattened: x0, x1, y0, y1, z0, z1).
INT_KEYS = {SCHEMA_VERSION_KEY: 1, HAS_LABEL: 1, SHAPE: 3, ORIGINAL_SHAPE: 3, CROP_BOX: 6}
# Raw-bytes array features -> numpy dtype as stored (shapes: module docstring).
RAW_DTYPES = {
    IMAGE: IMAGE_DTYPE,
    LABEL: np.dtype("u1"),
    AFFINE: np.dtype("<f8"),
    SPACING: np.dtype("<f8"),
    **{FOREGROUND_PREFIX + name: np.dtype("<i4") for name in FOREGROUND_CLASSES},
}

FEATURE_SPEC = {
    **{key: tf.io.FixedLenFeature([], tf.string) for key in STRING_KEYS},
    **{key: tf.io.FixedLenFeature([n] if n > 1 else [], tf.int64) for key, n in INT_KEYS.items()},
    **{key: tf.io.FixedLenFeature([], tf.string) for key in RAW_DTYPES},
}
TFRECORD_OPTIONS = tf.io.TFRecordOptions(compression_type=COMPRESSION,
                                         compression_level=COMPRESSION_LEVEL)


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _raw(array, dtype):
    return _bytes(np.ascontiguousarray(array, dtype=dtype).tobytes())


def encode_example(case):
    """Serialised tf.train.Example (bytes) of a case dict (see module docstring).

    Serialisation is deterministic (map fields in key order), so equal cases give equal bytes.
    """
    image = np.asarray(case["image"])
    shape = image.shape[:3]
    if image.ndim != 4 or image.shape[3] != NUM_CHANNELS:
        raise ValueError(f"image must be (X, Y, Z, {NUM_CHANNELS}). Received: {image.shape}")
    label = case["label"]
    if label is not None and np.shape(label) != shape:
        raise ValueError(f"label shape {np.shape(label)} differs from image shape {shape}")
    features = {
        SCHEMA_VERSION_KEY: _ints([SCHEMA_VERSION]),
        CASE_ID: _bytes(case["case_id"].encode("utf-8")),
        CONVENTION: _bytes(case["convention"].encode("utf-8")),
        SHAPE: _ints(shape),
        IMAGE: _raw(np.moveaxis(image, -1, 0), IMAGE_DTYPE),
        HAS_LABEL: _ints([label is not None]),
        LABEL: _bytes(b"") if label is None else _raw(label, RAW_DTYPES[LABEL]),
        ORIGINAL_SHAPE: _ints(case["original_shape"]),
        CROP_BOX: _ints(np.asarray(case["crop_box"]).ravel()),
        AFFINE: _raw(case["affine"], RAW_DTYPES[AFFINE]),
        SPACING: _raw(case["spacing"], RAW_DTYPES[SPACING]),
    }
    for name in FOREGROUND_CLASSES:
        key = FOREGROUND_PREFIX + name
        features[key] = _raw(np.reshape(case["foreground"][name], (-1, 3)), RAW_DTYPES[key])
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def _check_version(version):
    if version != SCHEMA_VERSION:
        raise ValueError(f"record schema version {version} is not supported; this reader "
                         f"reads version {SCHEMA_VERSION}")


def decode_example(serialized):
    """The case dict (numpy arrays; image float32) of one serialised record."""
    feature = tf.train.Example.FromString(serialized).features.feature

    def ints(key):
        return np.asarray(feature[key].int64_list.value, dtype=np.int64)

    def raw(key, shape):
        dtype = RAW_DTYPES[key]
        array = np.frombuffer(feature[key].bytes_list.value[0], dtype=dtype)
        return array.reshape(shape).astype(dtype.newbyteorder("="))

    _check_version(int(ints(SCHEMA_VERSION_KEY)[0]))
    shape = tuple(ints(SHAPE))
    return {
        CASE_ID: feature[CASE_ID].bytes_list.value[0].decode("utf-8"),
        CONVENTION: feature[CONVENTION].bytes_list.value[0].decode("utf-8"),
        IMAGE: np.ascontiguousarray(np.moveaxis(raw(IMAGE, (NUM_CHANNELS,) + shape), 0, -1),
                                    dtype=np.float32),
        LABEL: raw(LABEL, shape) if ints(HAS_LABEL)[0] else None,
        ORIGINAL_SHAPE: ints(ORIGINAL_SHAPE),
        CROP_BOX: ints(CROP_BOX).reshape(3, 2),
        AFFINE: raw(AFFINE, (4, 4)),
        SPACING: raw(SPACING, (3,)),
        "foreground": {name: raw(FOREGROUND_PREFIX + name, (-1, 3))
                       for name in FOREGROUND_CLASSES},
    }


def parse_example(serialized):
    """tf.data-ready decoder: scalar string tensor -> dict of tensors (graph-safe).

    Keys as the case dict, with image float32 (X, Y, Z, 4), label uint8 (X, Y, Z) (zeros when
    has_label is False), has_label bool, shape int64 (3,), original_shape int64 (3,),
    crop_box int64 (3, 2), affine float64 (4, 4), spacing float64 (3,), foreground
    {name: int32 (n, 3)}, case_id and convention string scalars. Fails (InvalidArgumentError)
    on a record of another schema version.
    """
    features = tf.io.parse_single_example(serialized, FEATURE_SPEC)

    def raw(key, shape):
        dtype = tf.as_dtype(RAW_DTYPES[key].newbyteorder("="))
        return tf.reshape(tf.io.decode_raw(features[key], dtype, little_endian=True), shape)

    version_ok = tf.debugging.assert_equal(
        features[SCHEMA_VERSION_KEY], tf.constant(SCHEMA_VERSION, tf.int64),
        message=f"record schema version differs from {SCHEMA_VERSION}")
    with tf.control_dependencies([version_ok]):
        shape = tf.identity(features[SHAPE])
    image = tf.transpose(raw(IMAGE, tf.concat([[NUM_CHANNELS], shape], axis=0)), [1, 2, 3, 0])
    has_label = features[HAS_LABEL] > 0
    label = tf.cond(
        has_label,
        lambda: raw(LABEL, shape),
        lambda: tf.zeros(shape, tf.uint8))
    return {
        CASE_ID: features[CASE_ID],
        CONVENTION: features[CONVENTION],
        SHAPE: shape,
        IMAGE: tf.ensure_shape(tf.cast(image, tf.float32), [None, None, None, NUM_CHANNELS]),
        HAS_LABEL: has_label,
        LABEL: tf.ensure_shape(label, [None, None, None]),
        ORIGINAL_SHAPE: features[ORIGINAL_SHAPE],
        CROP_BOX: tf.reshape(features[CROP_BOX], [3, 2]),
        AFFINE: raw(AFFINE, [4, 4]),
        SPACING: raw(SPACING, [3]),
        "foreground": {name: raw(FOREGROUND_PREFIX + name, [-1, 3])
                       for name in FOREGROUND_CLASSES},
    }


def write_shard(path, serialized_records):
    """Writes the records (iterable of bytes) as one GZIP TFRecord shard at `path`, atomically.

    Returns {"file": base name, "num_records": n, "sha256": hex, "bytes": size}. The GZIP
    settings are fixed (no timestamp), so the same records give the same file bytes.
    """
    count = 0
    with atomic.atomic_path(path) as temporary:
        with tf.io.TFRecordWriter(temporary, TFRECORD_OPTIONS) as writer:
            for record in serialized_records:
                writer.write(record)
                count += 1
    return {"file": os.path.basename(path), "num_records": count,
            "sha256": manifest.sha256_file(path), "bytes": os.path.getsize(path)}


def _shards_of(path):
    """[(shard path, expected count or None)] for a shard, a folder or a manifest.json."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, manifest.MANIFEST_NAME)):
            path = os.path.join(path, manifest.MANIFEST_NAME)
        else:
            shards = sorted(glob.glob(os.path.join(path, "*.tfrecord.gz")))
            if not shards:
                raise FileNotFoundError(f"no manifest.json and no *.tfrecord.gz in {path}")
            return [(shard, None) for shard in shards]
    if path.endswith(".json"):
        _check_version(manifest.load_manifest(path)["schema_version"])
        return [(shard, count) for shard, count, _ in manifest.verified_shards(path)]
    return [(path, None)]


def read_records(path):
    """Yields the serialised records of a shard, folder or manifest, shard by shard.

    With a manifest, every shard's sha256 is checked first and its record count after
    reading. Raises manifest.ShardIntegrityError naming the shard on any mismatch or
    unreadable (e.g. truncated) data: never silently fewer records.
    """
    for shard, expected in _shards_of(path):
        count = 0
        try:
            for record in tf.data.TFRecordDataset(shard, compression_type=COMPRESSION):
                count += 1
                yield record.numpy()
        except tf.errors.DataLossError as error:
            raise manifest.ShardIntegrityError(
                f"shard {shard} is unreadable after {count} records: {error.message}") from None
        if expected is not None and count != expected:
            raise manifest.ShardIntegrityError(
                f"shard {shard} holds {count} records; the manifest says {expected}")


def read_cases(path):
    """Yields the case dicts (numpy, see module docstring) of a shard, folder or manifest.json."""
    for record in read_records(path):
        yield decode_example(record)
