"""Finding and loading a trained model: a `.keras` file, a checkpoint folder or a run folder.

A run folder is laid out as `brats_rev.run_folder` defines. Preference: <run>/model.keras,
<run>/best/model.keras, the latest checkpoint in best/, the latest checkpoint in
checkpoints/. A checkpoint folder on its own needs config.json one level up or a preset name.
`.keras` files are loaded in Keras safe mode (no code from the file runs). The sliding window
size is the training patch size (`data.patch_size` of config.json), else the model's static
input size; an explicit `window_size` overrides both. The model's task (brats_rev.tasks) is
`data.task` of config.json, else tasks.DEFAULT_TASK; its heads must be one per region of it.
"""

import dataclasses
import os
import zipfile
import zlib

import keras
import tensorflow as tf

from brats_rev import tasks
from brats_rev.config import preset
from brats_rev.models import build_model
from brats_rev.run_folder import BEST_DIR, CHECKPOINTS_DIR, CONFIG_FILE, MODEL_FILE, read_config

# The member of a `.keras` archive that describes the model (not a run's config.json).
_KERAS_CONFIG = "config.json"
# What Keras raises on a damaged or foreign archive (a bad member, bad config, bad weights).
_UNLOADABLE = (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile,
               zlib.error)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference.

    Attributes:
      model: keras.Model, "image" (B, X, Y, Z, C) -> {"logits": (B, X, Y, Z, R), ...}.
      window_size: (wx, wy, wz) sliding window in voxels.
      in_channels: C, the modalities the model expects.
      source: the file or checkpoint prefix the weights came from.
      task: the brats_rev.tasks.Task whose R regions the heads predict.
    """

    model: keras.Model
    window_size: tuple
    in_channels: int
    source: str
    task: tasks.Task


def _load_keras(path):
    """The model in the `.keras` file `path`, loaded in safe mode.

    Raises:
      ValueError: naming the file: it is no zip archive, holds no Keras model configuration, or
        Keras cannot build or fill the model from it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except zipfile.BadZipFile:
        raise ValueError(f"Model file {path!r} is not a .keras model: not a zip archive (a "
                         "truncated copy, or another format).") from None
    if _KERAS_CONFIG not in members:
        raise ValueError(f"Model file {path!r} is not a .keras model: the archive holds no "
                         f"{_KERAS_CONFIG}.")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except _UNLOADABLE as error:
        raise ValueError(f"Model file {path!r} cannot be loaded: {type(error).__name__}: "
                         f"{error}") from None


def _load_checkpoint(prefix, model_config):
    """A model built from `model_config` with the `model` weights of checkpoint `prefix`.

    Training checkpoints hold tf.train.Checkpoint(model=model, optimizer=..., ...); only the
    model is read.

    Raises:
      ValueError: the checkpoint's files cannot be read (truncated, damaged), a model weight
        has no value in it, or shapes do not match the configuration.
    """
    model = build_model(model_config)
    try:
        status = tf.train.Checkpoint(model=model).read(prefix)
        status.expect_partial()  # optimizer slots and step counters are not needed
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, IndexError) as error:  # damaged (DataLossError), truncated
        raise ValueError(f"Checkpoint {prefix!r} cannot be read (a damaged or truncated "
                         f"file): {type(error).__name__}: {str(error)[:300]}") from None
    except (AssertionError, ValueError) as error:
        raise ValueError(
            f"Checkpoint {prefix!r} does not hold every weight of the configured model; is it "
            f"a checkpoint of this configuration? {str(error)[:300]}") from None
    return model


def _locate(path):
    """(kind, location, RunConfig or None): kind is "keras" or "checkpoint"."""
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(f"Model file {path!r} is not a .keras file.")
        return "keras", path, read_config(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Model {path!r} is neither a .keras file nor a folder.")
    run_config = read_config(path)
    for candidate in (os.path.join(path, MODEL_FILE), os.path.join(path, BEST_DIR, MODEL_FILE)):
        if os.path.isfile(candidate):
            return "keras", candidate, run_config
    for folder in (os.path.join(path, BEST_DIR), os.path.join(path, CHECKPOINTS_DIR)):
        if os.path.isdir(folder) and tf.train.latest_checkpoint(folder):
            return "checkpoint", tf.train.latest_checkpoint(folder), run_config
    if tf.train.latest_checkpoint(path):
        parent = os.path.dirname(os.path.abspath(path))
        return "checkpoint", tf.train.latest_checkpoint(path), read_config(parent)
    raise FileNotFoundError(
        f"No model in {path!r}: expected {MODEL_FILE}, a checkpoint in {BEST_DIR}/ or "
        f"{CHECKPOINTS_DIR}/, or a checkpoint folder.")


def _heads(model):
    """The number of region logits of the model's "logits" output (its last axis)."""
    output = model.output
    return int((output["logits"] if isinstance(output, dict) else output).shape[-1])


def _static_window(model):
    """The model's static input (x, y, z), or None if any is unknown."""
    spatial = tuple(model.inputs[0].shape[1:4])
    return spatial if all(s is not None for s in spatial) else None


def load_model(path, window_size=None, preset_name=None):
    """Loads a model for inference from a `.keras` file, a run folder or a checkpoint folder.

    Args:
      path: see the module docstring.
      window_size: (wx, wy, wz) overriding the sliding window size.
      preset_name: ModelConfig preset to build for a checkpoint without a config.json.
    Returns:
      LoadedModel.
    Raises:
      FileNotFoundError: nothing loadable at `path`.
      ValueError: a `.keras` file Keras cannot load, a checkpoint without a model config, no
        window size can be determined, or the heads are not one per region of the task (each
        naming the file).
    """
    kind, location, run_config = _locate(path)
    if kind == "keras":
        model = _load_keras(location)
    else:
        if run_config is not None:
            model_config = run_config.model
        elif preset_name is not None:
            model_config = preset(preset_name)
        else:
            raise ValueError(f"Checkpoint {location!r} has no {CONFIG_FILE} in its run folder; "
                             "pass a preset name for its model configuration.")
        model = _load_checkpoint(location, model_config)
    if window_size is None and run_config is not None:
        window_size = run_config.data.patch_size
    window_size = window_size or _static_window(model)
    if window_size is None:
        raise ValueError(f"No window size for {location!r}: no {CONFIG_FILE} with the training "
                         "patch size next to it and no static model input size; pass one.")
    task = tasks.task_named((run_config.data.task if run_config else None) or tasks.DEFAULT_TASK)
    heads = _heads(model)
    if heads != len(task.regions):
        raise ValueError(f"Model {location!r} has {heads} output heads, but its task "
                         f"{task.name} has {len(task.regions)} regions ({', '.join(task.regions)}"
                         f"); is {CONFIG_FILE} next to it that of its run?")
    return LoadedModel(model, tuple(int(w) for w in window_size), int(model.inputs[0].shape[-1]),
                       location, task)
