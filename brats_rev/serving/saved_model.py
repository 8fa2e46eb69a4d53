"""Exporting a trained model for TF Serving: a versioned SavedModel with two signatures.

    <export_base>/model_config.pbtxt      example for tensorflow_model_server --model_config_file
    <export_base>/<version>/saved_model.pb, variables/
                           model.keras     the model as trained, for Keras users
                           export.json     window size, inference settings, limits

Signatures (input and output names are the request keys):

    serving_default  patches float32 (N, D, H, W, 4) -> probabilities float32 (N, D, H, W, R)
    segment          image float32 (X, Y, Z, 4), label_convention string (), tta string (),
                     return_probabilities bool ()
                     -> labels uint8 (X, Y, Z), probabilities float32 (X, Y, Z, R) or (0, 0, 0, R)

R is the number of regions of the model's task (brats_rev.tasks; GLI: 3, WT, TC, ET); the
labels are the task's, in one of its conventions (export.json names the task, its regions and
conventions).

The graph runs the plain forward pass (`models.with_block_mode(model, "plain")`: every stage and
transition rebuilt in "plain" mode with the same weights) frozen as the Predictor runs it
(`frozen_region_probabilities`: the weights are constants of one function both signatures call,
so the SavedModel has no variables and holds the weights once, and no op has a custom
gradient); it needs neither brats_rev nor Keras to load. A version is
written under a hidden temporary name in `export_base`, loaded back and checked, then renamed
to its number, so TF Serving never sees a half-written version. The number is taken at that
rename, under a lock on the base (`.export.lock`), so concurrent exports into one base get
different versions.
"""

import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from brats_rev import atomic, labels, run_folder
from brats_rev.config import InferenceConfig
from brats_rev.data import layouts
from brats_rev.inference.predictor import frozen_region_probabilities
from brats_rev.models import with_block_mode
from brats_rev.serving import model_base, segment_graph
from brats_rev.serving.model_base import DEFAULT_MAX_VOXELS, DEFAULT_MODEL_NAME

MODEL_CONFIG_NAME = "model_config.pbtxt"
METADATA_NAME = "export.json"
SIGNATURES = ("serving_default", "segment")
_TEMPORARY_PREFIX = ".export-"


def model_config_text(model_name, export_base):
    """TF Serving model server config (text proto) serving `export_base` as `model_name`."""
    return ("model_config_list {\n"
            "  config {\n"
            f'    name: "{model_name}"\n'
            f'    base_path: "{os.path.abspath(export_base)}"\n'
            '    model_platform: "tensorflow"\n'
            "  }\n"
            "}\n")


def build_archive(model, window_size, config, max_voxels, task):
    """A keras.export.ExportArchive with the `serving_default` and `segment` endpoints.

    Args:
      model: keras.Model "image" (B, D, H, W, 4) -> {"logits": ...} (any block mode).
      window_size: (wx, wy, wz) sliding window of `segment`, the training patch size.
      config: InferenceConfig: overlap, batch size, thresholds, ET minimum, crop margin.
      max_voxels: largest X * Y * Z `segment` accepts.
      task: the brats_rev.tasks.Task the model's heads predict.
    """
    channels = len(layouts.MODALITIES)
    probabilities = frozen_region_probabilities(with_block_mode(model, "plain"),
                                                (None, None, None), channels)
    archive = keras.export.ExportArchive()

    def serving_default(patches):
        # A wrong rank or channel count fails here with TF's "not compatible with expected
        # shape" message; spatial sizes the U-Net cannot take fail in its own size check.
        patches = tf.ensure_shape(patches, [None, None, None, None, channels])
        return {"probabilities": probabilities(patches)}

    def segment(image, label_convention, tta, return_probabilities):
        return segment_graph.segment(probabilities, image, label_convention, tta,
                                     return_probabilities, window_size, config, max_voxels,
                                     task)

    archive.add_endpoint("serving_default", serving_default, input_signature=[
        tf.TensorSpec(None, tf.float32, name="patches")])
    archive.add_endpoint("segment", segment, input_signature=[
        tf.TensorSpec(None, tf.float32, name="image"),
        tf.TensorSpec([], tf.string, name="label_convention"),
        tf.TensorSpec([], tf.string, name="tta"),
        tf.TensorSpec([], tf.bool, name="return_probabilities")])
    return archive


def _check_written(directory):
    """Loads the SavedModel in `directory` back; raises RuntimeError if a signature is missing."""
    missing = set(SIGNATURES) - set(tf.saved_model.load(directory).signatures)
    if missing:
        raise RuntimeError(f"The export in {directory!r} lacks signatures {sorted(missing)}.")


def _publish(temporary, export_base, version, metadata):
    """Renames the checked export folder `temporary` to its version number; returns the path.

    The number is taken (`version`, or the next free one) and export.json written under the
    base's lock, so exports racing for one base get different versions, and one that asked
    for a version another took meanwhile fails with ValueError.
    """
    with model_base.exclusive(export_base):
        version, final = model_base.free_version(export_base, version)
        with open(os.path.join(temporary, METADATA_NAME), "w", encoding="utf-8") as out:
            out.write(json.dumps({"version": version, **metadata}, indent=2) + "\n")
        os.rename(temporary, final)
    return final


def export_model(model, window_size, export_base, version=None, config=None,
                 max_voxels=DEFAULT_MAX_VOXELS, model_name=DEFAULT_MODEL_NAME, source=None,
                 task=labels.GLI):
    """Writes `export_base/<version>/` (SavedModel, model.keras, export.json) atomically and
    `export_base/model_config.pbtxt`.

    Args:
      model: keras.Model "image" (B, D, H, W, 4) -> {"logits": (B, D, H, W, R), ...}, R the
        regions of `task`.
      window_size: (wx, wy, wz) sliding window for `segment` (the training patch size).
      export_base: the folder TF Serving watches (`--model_base_path`); created if missing.
      version: positive int; default the next free one. An existing version is never replaced.
      config: InferenceConfig for `segment` (default InferenceConfig()); its tta and
        label_convention are per request instead.
      max_voxels: largest X * Y * Z `segment` accepts.
      model_name: the name in model_config.pbtxt.
      source: where the model came from, recorded in export.json.
      task: the brats_rev.tasks.Task the model predicts.
    Returns:
      The path of the version folder.
    Raises:
      ValueError: `version` is not a positive int, or already exists; the config's thresholds
        do not fit `task`.
    """
    config = config or InferenceConfig()
    config.region_thresholds(task)
    model_base.free_version(export_base, version)  # refuse a bad or taken one before the work
    os.makedirs(export_base, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=_TEMPORARY_PREFIX, dir=export_base)
    try:
        build_archive(model, window_size, config, max_voxels, task).write_out(temporary,
                                                                              verbose=False)
        model.save(os.path.join(temporary, run_folder.MODEL_FILE))
        _check_written(temporary)
        os.chmod(temporary, 0o755)  # mkdtemp creates 0700; the server may run as another user
        metadata = {"source": source, "window_size": list(window_size),
                    "max_voxels": int(max_voxels), "modalities": list(layouts.MODALITIES),
                    "task": task.name, "regions": list(task.region_names),
                    "label_conventions": list(task.conventions),
                    "inference": config.to_dict(), "signatures": list(SIGNATURES)}
        final = _publish(temporary, export_base, version, metadata)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary)
    atomic.write_text(os.path.join(export_base, MODEL_CONFIG_NAME),
                      model_config_text(model_name, export_base))
    return final
