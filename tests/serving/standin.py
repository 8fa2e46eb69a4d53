"""A tiny SavedModel with the `segment` signature of brats_rev.serving.saved_model, for fast tests.

Same signature key, input and output names and dtypes as the real export, a few ops instead
of a network: labels are 1 (NCR, valid in every convention) where the first channel exceeds
`threshold`, else 0; probabilities are the sigmoid of the first three channels (or shape
(0, 0, 0, 3) unless requested). It serves the tests the real export cannot: several versions
that answer differently, and malformed answers. `defect` makes the answer one the client
must refuse: "short" labels one voxel short along x, "int32" labels of dtype int32 with the
value 300 instead of 1.
"""

import tensorflow as tf

DEFECTS = (None, "short", "int32")


def save(path, threshold=0.0, defect=None):
    """Writes the SavedModel to `path` (a TF Serving version folder `base/<version>`)."""
    if defect not in DEFECTS:
        raise ValueError(f"`defect` must be one of {DEFECTS}. Received: defect={defect!r}")

    def segment(image, label_convention, tta, return_probabilities):
        del label_convention, tta  # accepted like the real signature; nothing to do here
        labels = tf.cast(image[..., 0] > threshold, tf.uint8)
        if defect == "short":
            labels = labels[1:]
        elif defect == "int32":
            labels = tf.cast(labels, tf.int32) * 300
        probabilities = tf.cond(return_probabilities,
                                lambda: tf.sigmoid(image[..., :3]),
                                lambda: tf.zeros([0, 0, 0, 3], tf.float32))
        return {"labels": labels, "probabilities": probabilities}

    function = tf.function(segment, input_signature=[
        tf.TensorSpec(None, tf.float32, name="image"),
        tf.TensorSpec([], tf.string, name="label_convention"),
        tf.TensorSpec([], tf.string, name="tta"),
        tf.TensorSpec([], tf.bool, name="return_probabilities")])
    module = tf.Module()
    module.segment = function
    tf.saved_model.save(module, path, signatures={"segment": function.get_concrete_function()})
