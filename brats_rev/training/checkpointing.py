"""Checkpoints of a run (`checkpoints/`, the last N; `best/`, the best by validation mean
Dice) and the final `.keras` model.

What is atomic. TensorFlow writes a checkpoint's data and index files under temporary names
and renames them, and `tf.train.CheckpointManager` then rewrites its `checkpoint` state file
(the list of checkpoints) atomically, after the files exist; older checkpoints are deleted
only after that. A process killed at any moment therefore leaves the state file naming
complete checkpoints only: restoring reads the newest one it names. If that one still fails to
read (a damaged disk), the next older one is used, with a warning naming the file and why.
`best/best.json` and `model.keras` are written under a temporary name in the same folder,
verified and renamed.

In a multi-worker job every worker must save (the save is a collective step); only the chief
writes under `model_dir`, the others into a scratch folder that `close()` removes.
"""

import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from brats_rev import atomic
from brats_rev.run_folder import BEST_DIR, CHECKPOINTS_DIR, MODEL_FILE


class CheckpointStore:
    """The latest-N and best checkpoint managers of one tf.train.Checkpoint.

    Args:
        checkpoint: the run's tf.train.Checkpoint (attribute `model=` is the Keras model).
        model_dir: the run directory.
        keep: checkpoints kept in `checkpoints/`.
        chief: write under `model_dir` (else into a scratch folder).
    """

    def __init__(self, checkpoint, model_dir, keep, chief):
        self._scratch = None if chief else tempfile.mkdtemp(prefix="brats_rev_worker_")
        root = model_dir if chief else self._scratch
        self.checkpoint = checkpoint
        self.latest = tf.train.CheckpointManager(checkpoint, os.path.join(root, CHECKPOINTS_DIR),
                                                 max_to_keep=keep)
        self.best = tf.train.CheckpointManager(checkpoint, os.path.join(root, BEST_DIR),
                                               max_to_keep=1)

    def restore(self):
        """Restores the newest readable checkpoint; returns its path, or None if there is none.

        Raises:
            The newest checkpoint's error when every listed checkpoint fails to read.
        """
        first_error = None
        for path in reversed(self.latest.checkpoints):
            try:
                self.checkpoint.read(path).assert_existing_objects_matched()
                return path
            except (tf.errors.OpError, ValueError, AssertionError, IndexError) as error:
                first_error = first_error or error
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                logging.warning("Checkpoint %s cannot be read (%s); trying the one before it.",
                                path, reason)
        if first_error is not None:
            raise first_error
        return None

    def save(self, step):
        """Saves a checkpoint numbered `step` into `checkpoints/`; returns its path."""
        return self.latest.save(checkpoint_number=step)

    def save_best(self, step, summary):
        """Saves the current state into `best/`, the model as best/model.keras (chief) and
        `summary` (JSON-ready) as best/best.json."""
        path = self.best.save(checkpoint_number=step)
        if self._scratch is None:
            export_keras_model(self.checkpoint.model, os.path.join(self.best.directory,
                                                                   MODEL_FILE))
        atomic.write_text(os.path.join(self.best.directory, "best.json"),
                          json.dumps({**summary, "checkpoint": os.path.basename(path)},
                                     indent=2) + "\n")
        return path

    def restore_best(self):
        """Restores the whole state of the best checkpoint; False if there is none.

        The whole checkpoint, not `tf.train.Checkpoint(model=...)` alone: with Keras 3.15 the
        TensorFlow object graph of a model does not reach sublayers kept in Python lists; the
        optimizer's variable list reaches every trainable weight.
        """
        if self.best.latest_checkpoint is None:
            return False
        self.checkpoint.read(self.best.latest_checkpoint).assert_existing_objects_matched()
        return True

    def close(self):
        """Removes a non-chief worker's scratch folder."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def export_keras_model(model, path):
    """Saves `model` as a .keras file at `path` atomically: written under a temporary name in
    the same folder, reloaded and compared weight by weight, then renamed.

    Raises:
        RuntimeError: the reloaded model's weights differ (the target is left untouched).
    """
    with atomic.atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)
        reloaded = keras.saving.load_model(temporary, compile=False)
        for saved, original in zip(reloaded.get_weights(), model.get_weights(), strict=True):
            if not np.array_equal(saved, original):
                raise RuntimeError(f"{temporary} does not reload to the saved weights.")
    return path
