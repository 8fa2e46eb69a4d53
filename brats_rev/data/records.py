"""THE TFRecord schema of a converted case: keys, dtypes, version; encoder and both decoders.

One `tf.train.Example` per case, in GZIP-compressed TFRecord shards. The writer
(`encode_example`, `write_shard`), the numpy reader (`decode_example`, `read_cases`) and the
tf.data reader (`parse_example`) all use the definitions below; tfrecords/README.md describes
the same format for people. Spatial axes are in NIfTI voxel order (x, y, z), as nibabel
returns them; arrays are stored as raw little-endian bytes in C order.

The image is stored channel-first (4, X, Y, Z) in one of IMAGE_ENCODINGS, named per record:
  int16_source    the source intensities as int16, byte-shuffled (every value's low byte,
                  then every high byte), when all of them are integers in int16 range
                  (BraTS 2020/2021); lossless, and 22% smaller than float16 z-scores after
                  zlib on full-size phantoms; the readers z-score them with the stored `mean`
                  and `std`
  float16_zscore  the z-scored image as float16 (sources that are not int16-representable,
                  e.g. float32 volumes of some BraTS 2023 cases)
Either way the readers return the same z-scored float32 image as
`brats_rev.data.preprocess.zscore` of the source (to float16 rounding for float16_zscore).

The case dict `encode_example` takes:
  case_id         str
  task            str, the BraTS task (brats_rev.tasks key); a record without one (written
                  before tasks were recorded) is of tasks.DEFAULT_TASK
  convention      str, label convention of the source segmentation (brats_rev.tasks key)
  intensities     (X, Y, Z, 4) cropped source intensities, channels flair, t1, t1ce, t2, any
                  real dtype; the brain is where any channel is nonzero
  label           (X, Y, Z) uint8 canonical labels of the task (GLI: 0 bg, 1 NCR, 2 ED, 3 ET),
                  or None when the case has no segmentation (parse_example then gives zeros
                  and has_label False)
  original_shape  (3,) int64, shape of the source volumes
  crop_box        (3, 2) int64, [start, stop) per axis of the crop within the source grid
  affine          (4, 4) float64, voxel -> world (mm) of the source grid
  spacing         (3,) float64, voxel size in mm
  foreground      {class name: (n, 3) int32 voxel coordinates in the cropped grid} for each
                  tumour class of the task (`foreground_classes`)
`decode_example` returns the same dict with `intensities` replaced by
  image           (X, Y, Z, 4) float32 z-scored intensities, 0 outside the brain
  image_encoding  str, the IMAGE_ENCODINGS key the record used
  mean, std       (4,) float64 per-channel statistics of the source over the brain voxels
"""

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf

from brats_rev import atomic, tasks
from brats_rev.data import layouts, manifest, preprocess

SCHEMA_VERSION = manifest.SCHEMA_VERSION
COMPRESSION = "GZIP"
# zlib level 1: faster than the default level 6 for files barely larger (docs/BENCHMARKS.md,
# "Data conversion").
COMPRESSION_LEVEL = 1
NUM_CHANNELS = len(layouts.MODALITIES)


@dataclasses.dataclass(frozen=True)
class ImageEncoding:
    """How the `image` bytes hold the (4, X, Y, Z) volume.

    Attributes:
      dtype: little-endian numpy dtype of the stored values.
      byte_shuffled: all values' low bytes, then all their high bytes (2-byte dtypes only):
        zlib then sees the slowly varying high bytes as long runs instead of interleaved with
        the noisy low bytes.
      zscored: the values are already z-scores; otherwise they are source intensities that the
        readers z-score with the record's `mean` and `std` over the brain (any channel nonzero).
    """

    dtype: np.dtype
    byte_shuffled: bool
    zscored: bool


INT16_SOURCE = "int16_source"
FLOAT16_ZSCORE = "float16_zscore"
IMAGE_ENCODINGS = {
    INT16_SOURCE: ImageEncoding(np.dtype("<i2"), byte_shuffled=True, zscored=False),
    FLOAT16_ZSCORE: ImageEncoding(np.dtype("<f2"), byte_shuffled=False, zscored=True),
}

# Feature keys.
SCHEMA_VERSION_KEY = "schema_version"
CASE_ID = "case_id"
TASK = "task"
CONVENTION = "convention"
SHAPE = "shape"
IMAGE = "image"
IMAGE_ENCODING = "image_encoding"
INTENSITIES = "intensities"  # encoder input only: the image before z-scoring
MEAN = "mean"
STD = "std"
HAS_LABEL = "has_label"
LABEL = "label"
ORIGINAL_SHAPE = "original_shape"
CROP_BOX = "crop_box"
AFFINE = "affine"
SPACING = "spacing"
FOREGROUND_PREFIX = "foreground/"
FOREGROUND_DTYPE = np.dtype("<i4")

STRING_KEYS = (CASE_ID, CONVENTION, IMAGE_ENCODING)
# int64 features and their lengths (crop_box is stored flattened: x0, x1, y0, y1, z0, z1).
INT_KEYS = {SCHEMA_VERSION_KEY: 1, HAS_LABEL: 1, SHAPE: 3, ORIGINAL_SHAPE: 3, CROP_BOX: 6}
# Raw-bytes array features -> numpy dtype as stored (shapes: module docstring); the image's
# dtype depends on its encoding (IMAGE_ENCODINGS).
RAW_DTYPES = {
    MEAN: np.dtype("<f8"),
    STD: np.dtype("<f8"),
    LABEL: np.dtype("u1"),
    AFFINE: np.dtype("<f8"),
    SPACING: np.dtype("<f8"),
}
# Version-1 records lack these keys: their defaults let parse_example reach the version check.
_ADDED_IN_VERSION_2 = (IMAGE_ENCODING, MEAN, STD)

FEATURE_SPEC = {
    **{key: tf.io.FixedLenFeature([], tf.string) for key in STRING_KEYS + (IMAGE,)},
    **{key: tf.io.FixedLenFeature([n] if n > 1 else [], tf.int64) for key, n in INT_KEYS.items()},
    **{key: tf.io.FixedLenFeature([], tf.string) for key in RAW_DTYPES},
    **{key: tf.io.FixedLenFeature([], tf.string, default_value="")
       for key in _ADDED_IN_VERSION_2 + (TASK,)},
}
TFRECORD_OPTIONS = tf.io.TFRecordOptions(compression_type=COMPRESSION,
                                         compression_level=COMPRESSION_LEVEL)


def foreground_classes(task_name):
    """{class name: canonical value} of the tumour classes of task `task_name`: the classes
    whose voxel coordinates a record stores."""
    task = tasks.task_named(task_name)
    return {name: task.value(name) for name in task.classes}


@functools.cache
def feature_spec(task_name):
    """The parsing spec of a record of task `task_name` (FEATURE_SPEC and its foreground; the
    encoder writes every class's, the defaults only let a record of another task reach the
    task check of `parse_example`)."""
    return {**FEATURE_SPEC, **{FOREGROUND_PREFIX + name: tf.io.FixedLenFeature(
        [], tf.string, default_value="") for name in foreground_classes(task_name)}}


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _raw(array, dtype):
    return _bytes(np.ascontiguousarray(array, dtype=dtype).tobytes())


def choose_encoding(intensities):
    """The IMAGE_ENCODINGS key for `intensities`: INT16_SOURCE if every value is an integer in
    int16 range (then storing them is lossless), else FLOAT16_ZSCORE."""
    limits = np.iinfo(np.int16)
    if intensities.min() < limits.min or intensities.max() > limits.max:
        return FLOAT16_ZSCORE
    if intensities.dtype.kind in "iu" or np.array_equal(intensities, np.round(intensities)):
        return INT16_SOURCE
    return FLOAT16_ZSCORE


def _image_bytes(values, encoding):
    """The stored bytes of `values` (4, X, Y, Z) in `encoding` (an ImageEncoding)."""
    stored = np.ascontiguousarray(values, dtype=encoding.dtype)
    if encoding.byte_shuffled:
        return stored.view(np.uint8).reshape(-1, encoding.dtype.itemsize).T.tobytes()
    return stored.tobytes()


def encode_example(case):
    """Serialised tf.train.Example (bytes) of a case dict (see module docstring).

    Computes the brain mask and the z-score statistics of `intensities` (as `preprocess`
    does), chooses the image encoding (`choose_encoding`) and stores the image in it.
    Serialisation is deterministic (map fields in key order), so equal cases give equal bytes.
    Raises ValueError for a wrong image or label shape, or (naming it) a modality that is
    constant over the brain.
    """
    intensities = np.asarray(case[INTENSITIES])
    shape = intensities.shape[:3]
    if intensities.ndim != 4 or intensities.shape[3] != NUM_CHANNELS:
        raise ValueError(f"intensities must be (X, Y, Z, {NUM_CHANNELS}). "
                         f"Received: {intensities.shape}")
    label = case[LABEL]
    if label is not None and np.shape(label) != shape:
        raise ValueError(f"label shape {np.shape(label)} differs from image shape {shape}")
    mask = preprocess.brain_mask(intensities)
    mean, std = preprocess.zscore_statistics(intensities, mask, layouts.MODALITIES)
    encoding = choose_encoding(intensities)
    values = intensities
    if IMAGE_ENCODINGS[encoding].zscored:
        values = preprocess.apply_zscore(intensities, mask, mean, std)
    features = {
        SCHEMA_VERSION_KEY: _ints([SCHEMA_VERSION]),
        CASE_ID: _bytes(case[CASE_ID].encode("utf-8")),
        TASK: _bytes(case[TASK].encode("utf-8")),
        CONVENTION: _bytes(case[CONVENTION].encode("utf-8")),
        SHAPE: _ints(shape),
        IMAGE_ENCODING: _bytes(encoding.encode("utf-8")),
        IMAGE: _bytes(_image_bytes(np.moveaxis(values, -1, 0), IMAGE_ENCODINGS[encoding])),
        MEAN: _raw(mean, RAW_DTYPES[MEAN]),
        STD: _raw(std, RAW_DTYPES[STD]),
        HAS_LABEL: _ints([label is not None]),
        LABEL: _bytes(b"") if label is None else _raw(label, RAW_DTYPES[LABEL]),
        ORIGINAL_SHAPE: _ints(case[ORIGINAL_SHAPE]),
        CROP_BOX: _ints(np.asarray(case[CROP_BOX]).ravel()),
        AFFINE: _raw(case[AFFINE], RAW_DTYPES[AFFINE]),
        SPACING: _raw(case[SPACING], RAW_DTYPES[SPACING]),
    }
    for name in foreground_classes(case[TASK]):
        features[FOREGROUND_PREFIX + name] = _raw(np.reshape(case["foreground"][name], (-1, 3)),
                                                  FOREGROUND_DTYPE)
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def _check_version(version):
    problem = manifest.schema_problem(version)
    if problem:
        raise ValueError(problem)


def _unknown_encoding_message(case_id, encoding):
    return (f"record {case_id}: unknown image encoding {encoding!r}; this reader knows "
            f"{sorted(IMAGE_ENCODINGS)}")


def _frombuffer(data, dtype, shape, case_id, key):
    """`data` (bytes) as a native-order array of `shape`; ValueError naming the case if the
    byte count does not fit."""
    try:
        array = np.frombuffer(data, dtype=dtype).reshape(shape)
    except ValueError:
        raise ValueError(f"record {case_id}: feature {key!r} holds {len(data)} bytes, which is "
                         f"not an array of {dtype} with shape {shape}") from None
    return array.astype(dtype.newbyteorder("="))


def _decode_image(data, encoding_name, shape, mean, std, case_id):
    """float32 (X, Y, Z, 4) z-scored image from the `image` bytes (numpy)."""
    if encoding_name not in IMAGE_ENCODINGS:
        raise ValueError(_unknown_encoding_message(case_id, encoding_name))
    encoding = IMAGE_ENCODINGS[encoding_name]
    channel_first = (NUM_CHANNELS,) + shape
    if encoding.byte_shuffled:
        planes = _frombuffer(data, np.dtype("u1"), (encoding.dtype.itemsize, -1), case_id, IMAGE)
        data = np.ascontiguousarray(planes.T).tobytes()
    values = np.moveaxis(_frombuffer(data, encoding.dtype, channel_first, case_id, IMAGE), 0, -1)
    if encoding.zscored:
        return np.ascontiguousarray(values, dtype=np.float32)
    return preprocess.apply_zscore(values, preprocess.brain_mask(values), mean, std)


def decode_example(serialized):
    """The case dict (numpy arrays; image float32 z-scored) of one serialised record."""
    feature = tf.train.Example.FromString(serialized).features.feature

    def ints(key):
        return np.asarray(feature[key].int64_list.value, dtype=np.int64)

    def string(key):
        return feature[key].bytes_list.value[0].decode("utf-8")

    _check_version(int(ints(SCHEMA_VERSION_KEY)[0]))
    case_id = string(CASE_ID)

    def raw(key, shape, dtype=None):
        return _frombuffer(feature[key].bytes_list.value[0], dtype or RAW_DTYPES[key], shape,
                           case_id, key)

    task = string(TASK) if TASK in feature else tasks.DEFAULT_TASK
    if task not in tasks.TASKS:
        raise ValueError(f"record {case_id}: unknown task {task!r}; this reader knows "
                         f"{', '.join(sorted(tasks.TASKS))}")

    shape = tuple(int(n) for n in ints(SHAPE))
    mean, std = raw(MEAN, (NUM_CHANNELS,)), raw(STD, (NUM_CHANNELS,))
    encoding = string(IMAGE_ENCODING)
    return {
        CASE_ID: case_id,
        TASK: task,
        CONVENTION: string(CONVENTION),
        IMAGE: _decode_image(feature[IMAGE].bytes_list.value[0], encoding, shape, mean, std,
                             case_id),
        IMAGE_ENCODING: encoding,
        MEAN: mean,
        STD: std,
        LABEL: raw(LABEL, shape) if ints(HAS_LABEL)[0] else None,
        ORIGINAL_SHAPE: ints(ORIGINAL_SHAPE),
        CROP_BOX: ints(CROP_BOX).reshape(3, 2),
        AFFINE: raw(AFFINE, (4, 4)),
        SPACING: raw(SPACING, (3,)),
        "foreground": {name: raw(FOREGROUND_PREFIX + name, (-1, 3), FOREGROUND_DTYPE)
                       for name in foreground_classes(task)},
    }


def _tf_image(encoding, data, channel_first_shape, mean, std):
    """float32 (4, X, Y, Z) z-scored image from the `image` bytes in `encoding` (graph ops)."""
    if encoding.byte_shuffled:
        planes = tf.cast(tf.reshape(tf.io.decode_raw(data, tf.uint8), [2, -1]), tf.int32)
        unsigned = tf.cast(planes[0] + 256 * planes[1], tf.uint16)  # little-endian bytes
        values = tf.bitcast(unsigned, tf.as_dtype(encoding.dtype.newbyteorder("=")))
    else:
        values = tf.io.decode_raw(data, tf.as_dtype(encoding.dtype.newbyteorder("=")),
                                  little_endian=True)
    values = tf.reshape(values, channel_first_shape)
    if encoding.zscored:
        return tf.cast(values, tf.float32)
    brain = tf.reduce_any(tf.not_equal(values, 0), axis=0)
    per_channel = [NUM_CHANNELS, 1, 1, 1]
    zscores = (tf.cast(values, tf.float64) - tf.reshape(mean, per_channel)) / tf.reshape(
        std, per_channel)
    return tf.where(brain, tf.cast(zscores, tf.float32), 0.0)


def parse_example(serialized, task_name=tasks.DEFAULT_TASK):
    """tf.data-ready decoder of a record of task `task_name`: scalar string tensor -> dict of
    tensors (graph-safe).

    Keys as the case dict, with image float32 (X, Y, Z, 4) z-scored (the same values as
    decode_example), label uint8 (X, Y, Z) (zeros when has_label is False), has_label bool,
    shape int64 (3,), original_shape int64 (3,), crop_box int64 (3, 2), affine float64 (4, 4),
    spacing float64 (3,), mean and std float64 (4,), foreground {name: int32 (n, 3)} of the
    task's classes, case_id, task, convention and image_encoding string scalars. Fails
    (InvalidArgumentError) on a record of another schema version, of another task (a record
    without one is of tasks.DEFAULT_TASK) or with an unknown image encoding.
    """
    parsed = tf.io.parse_single_example(serialized, feature_spec(task_name))
    version_ok = tf.debugging.assert_equal(
        parsed[SCHEMA_VERSION_KEY], tf.constant(SCHEMA_VERSION, tf.int64),
        message=f"record schema version differs from {SCHEMA_VERSION} (convert the dataset "
                "again with pipelines.convert_brats)")
    task = tf.where(tf.equal(parsed[TASK], ""), tasks.DEFAULT_TASK, parsed[TASK])
    task_ok = tf.debugging.Assert(tf.equal(task, task_name), [
        "record", parsed[CASE_ID], "is of task", task, f"; this dataset is of task {task_name}"])
    with tf.control_dependencies([version_ok, task_ok]):
        features = {key: tf.identity(value) for key, value in parsed.items()}
    features[TASK] = task

    def raw(key, shape, dtype=None):
        dtype = tf.as_dtype((dtype or RAW_DTYPES[key]).newbyteorder("="))
        return tf.reshape(tf.io.decode_raw(features[key], dtype, little_endian=True), shape)

    shape = features[SHAPE]
    mean, std = raw(MEAN, [NUM_CHANNELS]), raw(STD, [NUM_CHANNELS])
    encoding = features[IMAGE_ENCODING]
    names = list(IMAGE_ENCODINGS)
    known = tf.equal(tf.constant(names), encoding)
    encoding_ok = tf.debugging.Assert(tf.reduce_any(known), [
        "record", features[CASE_ID], "has an unknown image encoding", encoding,
        f"; this reader knows {sorted(names)}"])
    with tf.control_dependencies([encoding_ok]):
        index = tf.argmax(tf.cast(known, tf.int32), output_type=tf.int32)
    channel_first_shape = tf.concat([[NUM_CHANNELS], shape], axis=0)
    image = tf.switch_case(index, [
        functools.partial(_tf_image, IMAGE_ENCODINGS[name], features[IMAGE],
                          channel_first_shape, mean, std) for name in names])
    has_label = features[HAS_LABEL] > 0
    label = tf.cond(
        has_label,
        lambda: raw(LABEL, shape),
        lambda: tf.zeros(shape, tf.uint8))
    return {
        CASE_ID: features[CASE_ID],
        TASK: features[TASK],
        CONVENTION: features[CONVENTION],
        SHAPE: shape,
        IMAGE: tf.ensure_shape(tf.transpose(image, [1, 2, 3, 0]),
                               [None, None, None, NUM_CHANNELS]),
        IMAGE_ENCODING: encoding,
        MEAN: mean,
        STD: std,
        HAS_LABEL: has_label,
        LABEL: tf.ensure_shape(label, [None, None, None]),
        ORIGINAL_SHAPE: features[ORIGINAL_SHAPE],
        CROP_BOX: tf.reshape(features[CROP_BOX], [3, 2]),
        AFFINE: raw(AFFINE, [4, 4]),
        SPACING: raw(SPACING, [3]),
        "foreground": {name: raw(FOREGROUND_PREFIX + name, [-1, 3], FOREGROUND_DTYPE)
                       for name in foreground_classes(task_name)},
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
    """[(shard path, expected count or None)] for a shard, a folder holding a manifest.json,
    or a manifest.json.

    Raises:
      FileNotFoundError: `path` is a folder without a manifest: whatever shards it holds may
        not be all of the dataset (a conversion that did not finish).
    """
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, manifest.MANIFEST_NAME)):
            raise FileNotFoundError(
                f"{path} holds no {manifest.MANIFEST_NAME}: the conversion did not finish, or "
                "this is not a converted dataset (a single shard file can be read on its own)")
        path = os.path.join(path, manifest.MANIFEST_NAME)
    if path.endswith(".json"):
        _check_version(manifest.load_manifest(path)["schema_version"])
        return [(shard, count) for shard, count, _ in manifest.verified_shards(path)]
    return [(path, None)]


def read_records(path):
    """Yields the serialised records of a shard, a dataset folder or a manifest, shard by shard.

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
    """Yields the case dicts (numpy, see module docstring) of a shard, a dataset folder (holding
    manifest.json) or a manifest.json."""
    for record in read_records(path):
        yield decode_example(record)
