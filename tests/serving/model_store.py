"""The core the in-test TF Serving stand-ins share: base paths, versions, signatures, errors.

Like TF Serving, a model is a base path holding one SavedModel per integer version
(`base/<version>/saved_model.pb`); a request names the model, optionally a version (default:
the highest) and a signature (default "serving_default"). Failures carry the gRPC status TF
Serving uses and a message worded like its own: unknown model or version -> NOT_FOUND
("Servable not found for request: ..."), unknown signature, input or output name, wrong dtype
or an InvalidArgumentError raised by the signature -> INVALID_ARGUMENT.
"""

import os
import threading

import grpc
import numpy as np
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"


class ServingFailure(Exception):
    """A request TF Serving would refuse: `code` (grpc.StatusCode) and the message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _versions(base_path):
    return sorted(int(name) for name in os.listdir(base_path)
                  if name.isdigit() and os.path.isfile(
                      os.path.join(base_path, name, "saved_model.pb")))


class ModelStore:
    """Serves the SavedModels under `models` ({model name: base path}), loaded on first use."""

    def __init__(self, models):
        self.models = dict(models)
        self._loaded = {}
        self._lock = threading.Lock()

    def _signature(self, name, version, signature_name):
        """The concrete function serving the request, loading its SavedModel if needed."""
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        versions = _versions(self.models[name]) if name in self.models else []
        if version is None and versions:
            version = versions[-1]
        if version not in versions:
            raise ServingFailure(grpc.StatusCode.NOT_FOUND,
                                 f"Servable not found for request: {wanted}")
        with self._lock:
            if (name, version) not in self._loaded:
                path = os.path.join(self.models[name], str(version))
                self._loaded[name, version] = tf.saved_model.load(path)
        signatures = self._loaded[name, version].signatures
        signature_name = signature_name or DEFAULT_SIGNATURE
        if signature_name not in signatures:
            raise ServingFailure(grpc.StatusCode.INVALID_ARGUMENT,
                                 f'Serving signature key "{signature_name}" not found.')
        return signatures[signature_name], version

    def input_specs(self, name, version, signature_name):
        """{input name: tf.TensorSpec} of the signature a request names (REST converts JSON
        values with these dtypes, as TF Serving does)."""
        signature, _ = self._signature(name, version, signature_name)
        return signature.structured_input_signature[1]

    def predict(self, name, version, signature_name, inputs, output_filter=()):
        """Runs a request.

        Args:
          name: model name.
          version: integer version or None (the latest).
          signature_name: signature key, "" or None for "serving_default".
          inputs: {input name: numpy array} (strings as bytes objects).
          output_filter: output names to return (empty: all).
        Returns:
          ({output name: numpy array}, the version that ran).
        Raises:
          ServingFailure.
        """
        signature, version = self._signature(name, version, signature_name)
        specs = signature.structured_input_signature[1]
        if set(inputs) != set(specs):
            raise ServingFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input size does not match signature: {len(inputs)}!={len(specs)} len({{"
                f"{','.join(sorted(inputs))}}}) != len({{{','.join(sorted(specs))}}})")
        for key, value in inputs.items():
            if np.asarray(value).dtype != specs[key].dtype.as_numpy_dtype:
                raise ServingFailure(grpc.StatusCode.INVALID_ARGUMENT,
                                     f"Expects arg[{key}] to be {specs[key].dtype.name} but "
                                     f"{tf.as_dtype(np.asarray(value).dtype).name} is provided")
        outputs = signature.structured_outputs
        unknown = sorted(set(output_filter) - set(outputs))
        if unknown:
            raise ServingFailure(grpc.StatusCode.INVALID_ARGUMENT,
                                 f"output tensor alias not found in signature: {unknown[0]}")
        try:
            results = signature(**{key: tf.constant(value) for key, value in inputs.items()})
        except tf.errors.InvalidArgumentError as error:
            raise ServingFailure(grpc.StatusCode.INVALID_ARGUMENT, error.message) from None
        wanted = output_filter or sorted(results)
        return {key: results[key].numpy() for key in wanted}, version
