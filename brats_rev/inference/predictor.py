"""Whole-case prediction: raw case in, BraTS label volume on the input's grid out.

    image (X, Y, Z, 4) --prepare_case (crop to brain + margin, z-score)--> (x, y, z, 4)
    --sliding window (Gaussian-weighted, batched), mirrored copies if TTA--> sigmoid
    probabilities (x, y, z, R) of the task's regions (GLI: WT/TC/ET) --thresholds, the task's
    decoding, small-ET relabelling, uncrop, output convention--> uint8 labels (X, Y, Z)
"""

import itertools

import numpy as np
import tensorflow as tf

# TensorFlow's function that freezes a tf.function's variables into constants (TF 2 has no
# `tf.*` alias for it).
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2_as_graph,
)

from brats_rev import labels as label_maps
from brats_rev.config import InferenceConfig
from brats_rev.data.prepare import prepare_case
from brats_rev.inference import postprocess
from brats_rev.inference.case_io import CaseError, Prediction, load_images
from brats_rev.inference.loading import load_model
from brats_rev.inference.sliding_window import sliding_window_predict

# The node attribute that names a custom gradient's function (set by tf.custom_gradient).
_GRADIENT_MARK = "_gradient_op_type"
# Axis subsets mirrored by TTA "flips8": every combination of the 3 spatial axes.
FLIPS = {"none": ((),), "flips8": tuple(
    axes for count in range(4) for axes in itertools.combinations((0, 1, 2), count))}


def region_probabilities(model):
    """(N, wx, wy, wz, C) windows -> float32 sigmoid of the model's "logits" output."""
    def predict(windows):
        outputs = model(windows, training=False)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs
        return tf.sigmoid(tf.cast(logits, tf.float32))
    return predict


def frozen_region_probabilities(model, window_size, in_channels):
    """`region_probabilities` of `model` as a graph with its weights folded in as constants.

    Takes windows float32 (N, *window_size, in_channels), N any, a `window_size` entry None
    for any size on that axis (another shape is an error naming the expected one). Each
    window then costs less CPU time for the same result than through the model's variables
    (docs/BENCHMARKS.md, "Inference"). Later changes to the model's weights are not seen.
    """
    shape = [None, *window_size, in_channels]
    forward = tf.function(region_probabilities(model)).get_concrete_function(
        tf.TensorSpec(shape, tf.float32))
    _, graph_def = convert_variables_to_constants_v2_as_graph(forward)
    # Ops of a custom gradient (Keras' swish is one) keep a mark naming their gradient
    # function, which the frozen graph does not carry: without the marks the graph is plain
    # forward ops, and a SavedModel of it loads without a warning about unsaved gradients.
    for node in itertools.chain(graph_def.node, *(function.node_def
                                                  for function in graph_def.library.function)):
        if _GRADIENT_MARK in node.attr:
            del node.attr[_GRADIENT_MARK]
    imported = tf.compat.v1.wrap_function(
        lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
    frozen = imported.prune(imported.graph.get_tensor_by_name(forward.inputs[0].name),
                            imported.graph.get_tensor_by_name(forward.outputs[0].name))
    # The frozen graph does not check its input: a window of another size would fail deep
    # inside the model.
    return lambda windows: frozen(tf.ensure_shape(windows, shape))


class Predictor:
    """Segments whole cases with a trained model.

    Args:
      model: keras.Model "image" (B, x, y, z, C) -> {"logits": (B, x, y, z, R)} (or the
        logits tensor itself), R the regions of `task`.
      window_size: (wx, wy, wz) sliding window, the training patch size.
      config: InferenceConfig.
      task: the brats_rev.tasks.Task the model predicts.
    Raises:
      ValueError: the config's thresholds or label convention do not fit `task`.
    """

    def __init__(self, model, window_size, config=None, task=label_maps.GLI):
        self.model = model
        self.window_size = tuple(int(w) for w in window_size)
        self.config = config or InferenceConfig()
        self.config.check_task(task)
        self.task = task
        self.in_channels = int(model.inputs[0].shape[-1])
        self.predict_windows = frozen_region_probabilities(model, self.window_size,
                                                           self.in_channels)
        self._segment = tf.function(
            self._probabilities_graph,
            input_signature=[tf.TensorSpec([None, None, None, self.in_channels], tf.float32)])

    @classmethod
    def from_path(cls, path, config=None, window_size=None, preset_name=None):
        """A Predictor for the model at `path` (see brats_rev.inference.loading.load_model)."""
        loaded = load_model(path, window_size, preset_name)
        return cls(loaded.model, loaded.window_size, config, loaded.task)

    def _probabilities_graph(self, image):
        config = self.config
        return sliding_window_predict(self.predict_windows, image, self.window_size,
                                      config.overlap, config.batch_size, config.sigma_scale)

    def _check_channels(self, image):
        if image.shape[-1] != self.in_channels:
            raise ValueError(f"the model expects {self.in_channels} input channels (modalities);"
                             f" the image has {image.shape[-1]}")

    def probabilities(self, image):
        """float32 (x, y, z, R) region probabilities of a preprocessed image (x, y, z, C)."""
        self._check_channels(image)
        image = np.asarray(image, np.float32)
        total = None
        for axes in FLIPS[self.config.tta]:
            flipped = np.ascontiguousarray(np.flip(image, axes)) if axes else image
            probabilities = np.flip(self._segment(flipped).numpy(), axes)
            total = probabilities if total is None else total + probabilities
        return np.ascontiguousarray(total / len(FLIPS[self.config.tta]))

    def predict_image(self, image, convention):
        """Segments a raw image (X, Y, Z, C) whose modalities are in layouts.MODALITIES order.

        Args:
          image: the four volumes stacked, as read from the NIfTI files (any real dtype).
          convention: label convention of the case (the output's when the config names none
            and the task has it).
        Returns:
          Prediction.
        Raises:
          ValueError: channel count differs from the model's, empty brain, constant modality.
        """
        convention = self.config.output_convention(convention, self.task)
        self._check_channels(image)
        prepared = prepare_case(image, margin=self.config.crop_margin)
        probabilities = self.probabilities(prepared.image)
        canonical = postprocess.threshold_regions(
            probabilities, self.config.region_thresholds(self.task), self.task)
        canonical = postprocess.relabel_small_enhancing(canonical, self.config.et_min_voxels,
                                                        self.task)
        labels = postprocess.to_original_grid(canonical, prepared.box, prepared.original_shape,
                                              convention)
        return Prediction(labels, convention, probabilities, prepared.box)

    def predict_case(self, case):
        """Segments one case: a brats_rev.data.cases.Case (its files are read and checked; a
        segmentation is ignored) or an already loaded brats_rev.data.case_reader.LoadedCase.

        Returns:
          (Prediction, LoadedCase) — the LoadedCase carries the affine for writing.
        Raises:
          CaseError: a file cannot be read or fails the checks, or prediction fails; the
            message names the case and the file.
        """
        loaded = load_images(case)
        case = loaded.case
        try:
            return self.predict_image(loaded.image, case.convention), loaded
        except ValueError as error:
            raise CaseError(f"{case.case_id}: {case.directory}: {error}") from None
