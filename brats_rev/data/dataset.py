"""The tf.data input pipeline: a fold's cases from the records, as training patches or whole cases.

    config = DataConfig(data_dir="tfrecords/sample", patch_size=96)
    train = build_dataset(config, "train", fold=0, seed=1)        # infinite; use steps_per_epoch
    validation = build_dataset(config, "validation", fold=0)     # each case once

Training elements are `(image, region_targets)`: image float32 (B, X, Y, Z, 4), region
targets float32 (B, X, Y, Z, R) in the dataset task's region order (brats_rev.tasks; GLI: WT,
TC, ET), with X, Y, Z the patch size and B the per-replica batch size. The task is the
manifest's; every record must be of it (parsing fails otherwise), and a `DataConfig.task`
other than it is refused. The dataset repeats forever, cases reshuffled each
epoch; each patch is drawn (`sampling`) and augmented (`augment`) with stateless random ops
keyed by (seed, input pipeline, element index), so with `deterministic=True` two runs with the
same seed give identical batches (the case shuffle also depends on TensorFlow's global seed:
leave it unset or set it the same).

Validation elements are whole cropped cases, batch 1, unpadded, as a dict: "image" float32
(1, X, Y, Z, 4), "regions" float32 (1, X, Y, Z, R), "label" uint8 (1, X, Y, Z) canonical, and
what puts a prediction back on the source grid: "case_id" and "convention" string (1,),
"crop_box" int64 (1, 3, 2), "original_shape" int64 (1, 3), "affine" float64 (1, 4, 4),
"spacing" float64 (1, 3).

Folds come from the manifest: validation is fold `fold`, training every other fold. Only cases
with a segmentation are used. Before anything is read, every shard that holds a wanted case is
checked against the manifest's sha256 (once per `build_dataset` call, not per epoch); while
reading, each shard's record count and the number of wanted cases found are asserted, so a
damaged dataset fails instead of shrinking. With `input_context` (from
`strategy.distribute_datasets_from_function`), input pipeline i of n takes every n-th case of
the sorted case list, so workers see different cases.
"""

import os

import numpy as np
import tensorflow as tf

from brats_rev import labels, tasks
from brats_rev.data import augment, manifest, records, sampling

_METADATA = (records.CASE_ID, records.CONVENTION, records.CROP_BOX, records.ORIGINAL_SHAPE,
             records.AFFINE, records.SPACING)


def region_targets(label, task=labels.GLI):
    """float32 (..., R) region masks (`task`'s region order) of its uint8 canonical labels (...).

    One gather from a (class, region) table, instead of a comparison per region.
    """
    table = labels.regions_from_canonical(np.arange(task.num_classes), task).astype(np.float32)
    return tf.gather(tf.constant(table), tf.cast(label, tf.int32))


def dataset_task(data_config):
    """The Task of the dataset in `data_config.data_dir` (its manifest's).

    Raises:
      ValueError: `data_config.task` names another task.
    """
    name = manifest.task_of(manifest.load_manifest(data_config.data_dir))
    if data_config.task not in (None, name):
        raise ValueError(f"data.task={data_config.task!r}, but the dataset in "
                         f"{data_config.data_dir} is of task {name!r}")
    return tasks.TASKS[name]


def _shards(data_dir, case_ids, verify_checksums):
    """[(shard path, record count)] of the shards holding any of `case_ids`, in manifest order."""
    if verify_checksums:
        listed = manifest.verified_shards(data_dir)
    else:
        listed = [(os.path.join(data_dir, shard["file"]), shard["num_records"],
                   tuple(shard["case_ids"]))
                  for shard in manifest.load_manifest(data_dir)["shards"]]
    wanted = set(case_ids)
    return [(path, count) for path, count, ids in listed if wanted.intersection(ids)]


def _parsed_cases(shards, case_ids, deterministic, task):
    """Dataset of `records.parse_example` dicts of exactly `case_ids` of `task`, read in
    parallel."""
    paths, counts = zip(*shards, strict=True)

    def read_shard(path, count):
        return tf.data.TFRecordDataset(path, compression_type=records.COMPRESSION).apply(
            tf.data.experimental.assert_cardinality(count))

    wanted = tf.constant(case_ids)
    id_spec = {records.CASE_ID: records.FEATURE_SPEC[records.CASE_ID]}

    def is_wanted(serialized):
        case_id = tf.io.parse_single_example(serialized, id_spec)[records.CASE_ID]
        return tf.reduce_any(tf.equal(case_id, wanted))

    return (
        tf.data.Dataset.from_tensor_slices((list(paths), tf.constant(counts, tf.int64)))
        .interleave(read_shard, cycle_length=len(paths), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=deterministic)
        .filter(is_wanted)
        .apply(tf.data.experimental.assert_cardinality(len(case_ids)))
        .map(lambda serialized: records.parse_example(serialized, task.name),
             num_parallel_calls=tf.data.AUTOTUNE,
             deterministic=deterministic)
    )


def _compact(case):
    """A parsed case with its image as float16 (relative rounding error at most 2**-11): half
    the memory of float32 in the cache, and the dtype `augment.orient` permutes fastest."""
    return {**case, records.IMAGE: tf.cast(case[records.IMAGE], tf.float16)}


def _training_case(case, patch_size):
    """A parsed case padded to at least the patch, float16 image, foreground concatenated."""
    case = _compact(case)
    foreground = list(case["foreground"].values())
    image, label, coordinates = sampling.pad_to_patch(
        case[records.IMAGE], case[records.LABEL],
        tf.concat(foreground, axis=0), patch_size)
    return {"image": image, "label": label, "foreground": coordinates,
            "class_counts": tf.stack([tf.shape(f)[0] for f in foreground])}


def _patch(config, seed, task):
    """The map function (element index, training case) -> (image, `task`'s region targets)."""

    def make(index, case):
        seeds = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(seed, index), num=3)
        start = sampling.patch_start(tf.shape(case["label"]), case["foreground"],
                                     case["class_counts"], config.patch_size,
                                     config.foreground_probability, seeds[0])
        image, label = sampling.extract_patch(case["image"], case["label"], start,
                                              config.patch_size,
                                              augment.zoom_factor(config, seeds[1]),
                                              augment.orientation(config, seeds[2]))
        image = augment.augment_intensities(image, config, seeds[2])
        return image, region_targets(label, task)

    return make


def _validation_case(case, task):
    label = case[records.LABEL]
    return {"image": tf.cast(case[records.IMAGE], tf.float32),
            "regions": region_targets(label, task), "label": label,
            **{key: case[key] for key in _METADATA}}


def build_dataset(data_config, split, fold, seed=0, deterministic=True, input_context=None,
                  verify_checksums=True):
    """The tf.data.Dataset of `split` of `fold` (see module docstring for elements).

    Args:
      data_config: brats_rev.config.DataConfig (data_dir must be set).
      split: "train" (infinite patches) or "validation" (each case once, batch 1).
      fold: manifest fold held out for validation, or None to train on every case.
      seed: int; fixes case order, patch positions and augmentation.
      deterministic: keep element order fixed under parallelism (reproducible batches);
        False may be faster.
      input_context: tf.distribute.InputContext, or None for one input pipeline. Training
        batches then hold `get_per_replica_batch_size(batch_size)` patches.
      verify_checksums: check the shards' sha256 against the manifest first.

    Raises:
      ValueError: bad split or fold, no data_dir, fewer cases than input pipelines, or a
        data_config.task other than the dataset's.
      manifest.ShardIntegrityError: a shard is missing or its bytes differ from the manifest.
    """
    if data_config.data_dir is None:
        raise ValueError("DataConfig.data_dir must name a folder holding manifest.json.")
    task = dataset_task(data_config)
    case_ids = manifest.split_cases(manifest.load_manifest(data_config.data_dir), split, fold)
    pipelines, pipeline_id = (1, 0) if input_context is None else (
        input_context.num_input_pipelines, input_context.input_pipeline_id)
    case_ids = case_ids[pipeline_id::pipelines]
    if not case_ids:
        raise ValueError(f"Split {split!r} of fold {fold} has no labelled case for input "
                         f"pipeline {pipeline_id} of {pipelines}.")
    cases = _parsed_cases(_shards(data_config.data_dir, case_ids, verify_checksums), case_ids,
                          deterministic, task)
    options = tf.data.Options()
    options.deterministic = deterministic

    if split == "validation":
        if data_config.cache:
            cases = cases.map(_compact, num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=deterministic).cache()
        cases = cases.map(lambda case: _validation_case(case, task),
                          num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic)
        return cases.batch(1).prefetch(tf.data.AUTOTUNE).with_options(options)

    cases = cases.map(lambda case: _training_case(case, data_config.patch_size),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if data_config.cache:
        cases = cases.cache()
    batch_size = data_config.batch_size if input_context is None else (
        input_context.get_per_replica_batch_size(data_config.batch_size))
    key = tf.constant([seed, pipeline_id], tf.int64)
    return (
        cases.shuffle(min(len(case_ids), data_config.shuffle_buffer), seed=seed,
                      reshuffle_each_iteration=True)
        .repeat()
        .enumerate()
        .map(_patch(data_config, key, task), num_parallel_calls=tf.data.AUTOTUNE,
             deterministic=deterministic)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
