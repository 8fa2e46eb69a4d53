"""Loading a model from a .keras file, a run folder or a checkpoint folder."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import run_folder
from brats_rev.config import DataConfig, TrainConfig, preset
from brats_rev.inference.loading import load_model
from brats_rev.models import build_model
from tests.inference import bad_models

CONFIG = preset("tiny", in_channels=4)


def _weights_equal(model, other):
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights(),
                                                    strict=True))


def _write_config(run_dir, model_config, patch_size):
    run_folder.write_config(run_folder.RunConfig(
        model_config, DataConfig(patch_size=patch_size, rotate90_probability=0), TrainConfig()),
        run_dir)


def _write_run(run_dir, model, patch_size=(32, 16, 24), best=False):
    """A training run folder: config.json and a CheckpointManager folder with `model` and an
    optimizer, as training writes them."""
    os.makedirs(run_dir, exist_ok=True)
    _write_config(run_dir, CONFIG, patch_size)
    optimizer = keras.optimizers.AdamW(1e-3)
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(3))
    folder = os.path.join(run_dir, "best" if best else "checkpoints")
    return tf.train.CheckpointManager(checkpoint, folder, max_to_keep=2).save()


@pytest.fixture(scope="module")
def trained():
    """Two tiny models with different weights."""
    return build_model(CONFIG), build_model(CONFIG)


@pytest.mark.slow
def test_run_folder_checkpoint_and_window_from_config(tmp_path, trained):
    first, second = trained
    assert not _weights_equal(first, second)
    _write_run(str(tmp_path), first)
    loaded = load_model(str(tmp_path))
    assert loaded.window_size == (32, 16, 24) and loaded.in_channels == 4
    assert _weights_equal(loaded.model, first)
    assert loaded.source.endswith(os.path.join("checkpoints", "ckpt-1"))
    # A best checkpoint is preferred to the latest one, model.keras to both.
    _write_run(str(tmp_path), second, best=True)
    assert _weights_equal(load_model(str(tmp_path)).model, second)
    first.save(str(tmp_path / "model.keras"))
    loaded = load_model(str(tmp_path))
    assert loaded.source == str(tmp_path / "model.keras") and _weights_equal(loaded.model, first)


def test_checkpoint_folder_alone(tmp_path, trained):
    first, _ = trained
    _write_run(str(tmp_path / "run"), first)
    folder = str(tmp_path / "run" / "checkpoints")
    assert _weights_equal(load_model(folder).model, first)  # config.json one level up
    os.remove(tmp_path / "run" / "config.json")
    with pytest.raises(ValueError, match="has no config.json.*pass a preset"):
        load_model(folder)
    loaded = load_model(folder, window_size=(16, 16, 16), preset_name="tiny")
    assert _weights_equal(loaded.model, first) and loaded.window_size == (16, 16, 16)


def test_checkpoint_of_the_model_alone_loads(tmp_path, trained):
    folder = tmp_path / "model_only"
    tf.train.CheckpointManager(tf.train.Checkpoint(model=trained[0]), str(folder), 1).save()
    loaded = load_model(str(folder), (16, 16, 16), preset_name="tiny")
    assert _weights_equal(loaded.model, trained[0])


def test_checkpoint_missing_a_weight_is_refused(tmp_path):
    """A checkpoint of a shallower model lacks the second couplings: refuse, never keep random
    weights."""
    folder = tmp_path / "shallow"
    shallow = build_model(CONFIG)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=shallow), str(folder), 1).save()
    _write_config(str(tmp_path), CONFIG.replace(encoder_blocks=2), 16)
    with pytest.raises(ValueError, match="does not hold every weight of the configured model"):
        load_model(str(folder))


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_damaged_checkpoint_is_refused_naming_it(tmp_path, trained, damage):
    prefix = _write_run(str(tmp_path), trained[0])
    data = f"{prefix}.data-00000-of-00001"
    size = os.path.getsize(data)
    with open(data, "r+b") as handle:
        if damage == "truncated":
            handle.truncate(size // 2)
        else:  # every byte of the second half flipped: the stored checksums no longer match
            handle.seek(size // 2)
            tail = handle.read()
            handle.seek(size // 2)
            handle.write(bytes(255 - byte for byte in tail))
    with pytest.raises(ValueError, match=f"Checkpoint '{re.escape(prefix)}' cannot be read "
                                         r"\(a damaged or truncated file\): \w+"):
        load_model(str(tmp_path))


def test_model_keras_preferred_to_checkpoints(tmp_path, trained):
    first, second = trained
    _write_run(str(tmp_path), second, best=True)
    first.save(str(tmp_path / "model.keras"))
    loaded = load_model(str(tmp_path))
    assert loaded.source == str(tmp_path / "model.keras") and _weights_equal(loaded.model, first)
    assert loaded.window_size == (32, 16, 24)


def test_keras_file_needs_a_window_size_without_config(tmp_path, trained):
    path = str(tmp_path / "alone.keras")
    trained[0].save(path)
    with pytest.raises(ValueError, match="No window size"):
        load_model(path)
    loaded = load_model(path, window_size=(8, 8, 8))
    assert loaded.window_size == (8, 8, 8) and _weights_equal(loaded.model, trained[0])


def test_nothing_to_load(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model in"):
        load_model(str(tmp_path))
    (tmp_path / "weights.h5").write_text("x")
    with pytest.raises(ValueError, match="is not a .keras file"):
        load_model(str(tmp_path / "weights.h5"))


# What loading says of each broken model of tests.inference.bad_models.
PROBLEMS = {
    "truncated .keras": "is not a .keras model: not a zip archive (a truncated copy, or "
                        "another format)",
    "random bytes .keras": "is not a .keras model: not a zip archive (a truncated copy, or "
                           "another format)",
    ".keras without config.json": "is not a .keras model: the archive holds no config.json",
    ".keras of an unknown class": "cannot be loaded: TypeError: Could not locate class "
                                  "'NoSuchModel'",
    "empty folder": "No model in",
    "run folder without a model": "No model in",
    "missing path": "is neither a .keras file nor a folder",
}


@pytest.mark.parametrize("kind", bad_models.KINDS)
def test_an_unloadable_model_is_one_error_naming_the_file(tmp_path, trained, kind):
    """The errors `brats_rev.inference.flags.loaded_model` turns into one usage line."""
    keras_file = str(tmp_path / "good.keras")
    trained[0].save(keras_file)
    path = bad_models.write(kind, str(tmp_path), keras_file)
    with pytest.raises((OSError, ValueError)) as raised:
        load_model(path, (16, 16, 16))
    assert PROBLEMS[kind] in str(raised.value) and repr(path) in str(raised.value)
