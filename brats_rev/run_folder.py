"""One training run's folder: its layout and its configuration file, for every part that
writes or reads a run (training writes it; inference, export and the demo report read it).

    <run>/config.json    the RunConfig: {"model": ModelConfig.to_dict(), "data":
                         DataConfig.to_dict(), "train": TrainConfig.to_dict()}; also a valid
                         `--config` file. `data.task` names the BraTS task the model's heads
                         predict (a file without it is of tasks.DEFAULT_TASK)
    <run>/checkpoints/   the last checkpoints, tf.train.CheckpointManager layout (a `checkpoint`
                         index file) of tf.train.Checkpoint(model=model, optimizer=..., ...)
    <run>/best/          the best checkpoint by validation mean Dice, the same object, with
                         best.json and model.keras
    <run>/model.keras    the final model (the best weights when validation ran)
    <run>/logs/          TensorBoard event files: logs/train, logs/validation

Pure Python (no TensorFlow): a command reads a run's configuration before anything heavy starts.
"""

import dataclasses
import json
import os
import shutil

from brats_rev import atomic, tasks
from brats_rev.config import DataConfig, ModelConfig, TrainConfig

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
MODEL_FILE = "model.keras"
LOGS_DIR = "logs"

SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Model, data and training configuration of one run."""

    model: ModelConfig
    data: DataConfig
    train: TrainConfig

    def to_dict(self):
        return {name: getattr(self, name).to_dict() for name in SECTIONS}


def from_dict(values):
    """The RunConfig of a `config.json` dict (as `write_config` writes it; without a data.task,
    of tasks.DEFAULT_TASK)."""
    values = {**values, "data": {"task": tasks.DEFAULT_TASK, **values["data"]}}
    return RunConfig(**{section: cls(**values[section]) for section, cls in SECTIONS.items()})


def load_json(path):
    """The JSON dict in `path`; ValueError naming the file if it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read config file {path}: {error}") from error


def write_config(run, run_dir):
    """Writes `run` (RunConfig) as `run_dir/config.json`, atomically."""
    atomic.write_text(os.path.join(run_dir, CONFIG_FILE),
                      json.dumps(run.to_dict(), indent=2, sort_keys=True) + "\n")


def read_config(run_dir):
    """The RunConfig in `run_dir/config.json`, or None if the folder has none.

    Raises:
      ValueError: naming the file, if it is not JSON or not a complete run configuration.
    """
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    values = load_json(path)
    try:
        return from_dict(values)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not a run configuration ({', '.join(SECTIONS)}): "
                         f"{type(error).__name__}: {error}") from None


def has_checkpoint(run_dir):
    """Whether `run_dir` holds a completed checkpoint (the CheckpointManager's index file)."""
    return os.path.isfile(os.path.join(run_dir, CHECKPOINTS_DIR, "checkpoint"))


def remove_unstarted(run_dir, remove_folder):
    """Removes what a run that failed before its first checkpoint wrote into `run_dir`
    (config.json, checkpoints/, best/, logs/, model.keras), and `run_dir` itself when
    `remove_folder` and nothing else is in it, so a new attempt starts afresh."""
    for name in (CONFIG_FILE, MODEL_FILE):
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            os.remove(path)
    for name in (CHECKPOINTS_DIR, BEST_DIR, LOGS_DIR):
        shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    if remove_folder and os.path.isdir(run_dir) and not os.listdir(run_dir):
        os.rmdir(run_dir)
