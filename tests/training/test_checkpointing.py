"""Checkpoint store: restore skips a damaged newest checkpoint; atomic, verified .keras export;
only the chief writes under the run directory."""

import os
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from brats_rev.training import checkpointing


def small_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_restore_falls_back_to_the_previous_checkpoint(tmp_path):
    model = small_model()
    step = tf.Variable(0, dtype=tf.int64)
    store = checkpointing.CheckpointStore(tf.train.Checkpoint(model=model, step=step),
                                          str(tmp_path), keep=3, chief=True)
    assert store.restore() is None
    saved = {}
    for number in (1, 2):
        step.assign(number)
        model.layers[0].kernel.assign(np.full((3, 2), number, np.float32))
        saved[number] = store.save(number)
    with open(saved[2] + ".data-00000-of-00001", "r+b") as data:
        data.truncate(4)  # the newest checkpoint is damaged on disk
    step.assign(99)
    with mock.patch.object(checkpointing.logging, "warning") as warning:
        assert store.restore() == saved[1]
    [(message, path, reason)] = [call.args for call in warning.call_args_list]
    assert "cannot be read" in message and path == saved[2] and reason  # the file and why
    assert int(step.numpy()) == 1
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.ones((3, 2)))


def test_best_keeps_one_and_writes_its_summary_and_model(tmp_path):
    model = small_model()
    store = checkpointing.CheckpointStore(tf.train.Checkpoint(model=model), str(tmp_path),
                                          keep=1, chief=True)
    store.save_best(5, {"mean_dice": 0.5})
    model.layers[0].kernel.assign(np.full((3, 2), 7.0, np.float32))
    store.save_best(9, {"mean_dice": 0.8})
    best = tmp_path / "best"
    assert sorted(p for p in os.listdir(best) if p.endswith(".index")) == ["ckpt-9.index"]
    assert '"mean_dice": 0.8' in (best / "best.json").read_text()
    reloaded = keras.saving.load_model(best / "model.keras")
    np.testing.assert_array_equal(reloaded.layers[0].kernel.numpy(), np.full((3, 2), 7.0))
    model.layers[0].kernel.assign(np.zeros((3, 2), np.float32))
    assert store.restore_best()
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.full((3, 2), 7.0))


def test_non_chief_writes_only_to_scratch(tmp_path):
    store = checkpointing.CheckpointStore(tf.train.Checkpoint(model=small_model()),
                                          str(tmp_path / "run"), keep=1, chief=False)
    path = store.save(1)
    store.save_best(1, {})
    assert os.path.exists(path + ".index") and not (tmp_path / "run").exists()
    store.close()
    assert not os.path.exists(path + ".index")


def test_export_leaves_no_temporary_file_and_round_trips(tmp_path):
    model = small_model()
    path = checkpointing.export_keras_model(model, str(tmp_path / "model.keras"))
    assert os.listdir(tmp_path) == ["model.keras"]
    for saved, original in zip(keras.saving.load_model(path).get_weights(),
                               model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, original)
