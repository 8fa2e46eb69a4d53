"""A pass-through layer that rejects spatial sizes the U-Net cannot take."""

import keras
import tensorflow as tf

from brats_rev.checks import check_positive_int


@keras.saving.register_keras_serializable(package="brats_rev")
class SpatialMultipleCheck(keras.layers.Layer):
    """Returns its input unchanged after checking every spatial size is a multiple of `multiple`.

    A U-Net with L levels halves each spatial axis L - 1 times, so sizes must be multiples of
    2 ** (L - 1). Static sizes are checked when the layer is called (ValueError); sizes only
    known at run time are checked by a graph assertion (InvalidArgumentError).

    Input/output shape: (batch, depth, height, width, channels); the input is passed on in its
    own dtype (no autocast to a mixed policy's compute dtype).
    """

    def __init__(self, multiple, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.multiple = check_positive_int("multiple", multiple)

    def _message(self, shape):
        return (
            f"Every spatial input size must be a multiple of {self.multiple} "
            f"(2 ** (levels - 1) for this U-Net). Received: input shape {shape}. "
            "Pad or crop the volume to a valid size."
        )

    def build(self, input_shape):
        self._check_static(input_shape)

    def _check_static(self, shape):
        spatial = tuple(shape)[1:4]
        if any(n is not None and n % self.multiple for n in spatial):
            raise ValueError(self._message(tuple(shape)))

    def call(self, inputs):
        self._check_static(inputs.shape)
        if None not in tuple(inputs.shape)[1:4]:
            return inputs
        spatial = tf.shape(inputs)[1:4]
        check = tf.debugging.assert_equal(
            spatial % self.multiple, tf.zeros_like(spatial), message=self._message("dynamic")
        )
        with tf.control_dependencies([check]):
            return tf.identity(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}
