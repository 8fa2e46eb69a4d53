"""A tiny SavedModel with the `segment` signature of brats_rev.serving.export, for fast tests.

Same signature key, input and output names and dtypes as the real export, a few ops instead
of a network: labels are 1 (NCR, valid in every convention) where the first channel exceeds
`threshold`, else 0; probabilities are the sigmoid of the first three channels (or shape
(0, 0, 0, 3) unless requested). A wrong channel count is an InvalidArgumentError, as in the
real graph. `crop_labels` makes the server answer labels one voxel short along x, a response
the client must refuse.
"""

import tensorflow as tf

CHANNELS = 4


def save(path, threshold=0.0, crop_labels=False):
    """Writes the SavedModel to `path` (a TF Serving version folder `base/<version>`)."""
    def segment(image, label_convention, tta, return_probabilities):
        del label_convention, tta  # accepted like the real signature; nothing to do here
        checked = tf.debugging.assert_equal(
            tf.shape(image)[-1], CHANNELS, message=f"image must have {CHANNELS} channels")
        with tf.control_dependencies([checked]):
            labels = tf.cast(image[..., 0] > threshold, tf.uint8)
        if crop_labels:
            labels = labels[1:]
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
