"""Sending one Predict request to TF Serving over gRPC or REST; every failure a ServingError.

    transport = connect(ServerOptions("host:8500", "brats"))            # gRPC, insecure
    outputs = transport.predict("segment", {"image": image, "tta": "none", ...},
                                {"labels": np.uint8})                     # name -> dtype
    transport.close()

gRPC uses TF Serving's PredictionService (`tensorflow_serving.apis`) with tensors as
TensorProto, message limits raised to `max_message_bytes` both ways, and a TLS channel when
`tls_ca` names a PEM CA bundle. REST posts TF Serving's columnar JSON
(`{"signature_name": ..., "inputs": {...}}`) to `/v1/models/<name>[/versions/<v>]:predict`,
over https when `tls_ca` is given. The model's latest version is used unless one is named.

Inputs are numpy arrays, `str` or `bool` scalars. Outputs come back as numpy arrays of the
requested dtypes; a missing output or one of another dtype is a "malformed" ServingError.
"""

import dataclasses
import http.client
import json
import ssl
import urllib.error
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

PROTOCOLS = ("grpc", "rest")
# A 240x240x155x4 float32 case is 143 MB; 1 GiB leaves room for probabilities coming back.
DEFAULT_MAX_MESSAGE_BYTES = 1 << 30
DEFAULT_TIMEOUT_S = 600.0

# What went wrong, as ServingError.kind.
UNAVAILABLE = "unavailable"
NOT_FOUND = "not_found"
INVALID_ARGUMENT = "invalid_argument"
DEADLINE_EXCEEDED = "deadline_exceeded"
TOO_LARGE = "too_large"
MALFORMED = "malformed"
OTHER = "other"


class ServingError(Exception):
    """A request that did not produce a usable answer.

    Attributes:
      kind: one of UNAVAILABLE, NOT_FOUND, INVALID_ARGUMENT, DEADLINE_EXCEEDED, TOO_LARGE,
        MALFORMED, OTHER.
    """

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """Where the model is served and how to reach it.

    Attributes:
      address: "host:port" of the gRPC (TF Serving default 8500) or REST (8501) port.
      model_name: the served model's name.
      model_version: integer version, or None for the latest.
      protocol: "grpc" or "rest".
      tls_ca: path of a PEM CA bundle that signed the server's certificate (TLS / https), or
        None for an insecure channel (plain http).
      timeout_s: seconds one request may take.
      max_message_bytes: largest gRPC message sent or received.
    """

    address: str
    model_name: str
    model_version: int | None = None
    protocol: str = "grpc"
    tls_ca: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"`protocol` must be one of {list(PROTOCOLS)}. "
                             f"Received: protocol={self.protocol!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be positive. Received: timeout_s={self.timeout_s}")
        if not 0 < self.max_message_bytes < 1 << 31:  # gRPC takes a 32-bit signed limit
            raise ValueError("`max_message_bytes` must be in [1, 2**31 - 1]. Received: "
                             f"max_message_bytes={self.max_message_bytes}")

    def model_description(self):
        """E.g. "model 'brats' (version 3)" or "model 'brats' (latest version)"."""
        version = "latest version" if self.model_version is None else (
            f"version {self.model_version}")
        return f"model {self.model_name!r} ({version})"


def _read_ca(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise ValueError(f"cannot read the TLS CA bundle {path!r}: {error}") from None


def _checked_output(name, value, dtype):
    """`value` as an array of `dtype`; MALFORMED if it has another dtype."""
    array = np.asarray(value)
    if array.dtype != np.dtype(dtype):
        raise ServingError(MALFORMED, f"malformed response: output {name!r} has dtype "
                           f"{array.dtype}; expected {np.dtype(dtype)}")
    return array


def _deadline_exceeded(options):
    return ServingError(DEADLINE_EXCEEDED, f"no answer from {options.address} within "
                        f"{options.timeout_s:g} s (timeout_s)")


def _missing_outputs(outputs, wanted):
    missing = sorted(set(wanted) - set(outputs))
    if missing:
        raise ServingError(MALFORMED, f"malformed response: outputs {missing} are missing; "
                           f"it has {sorted(outputs)}")


class GrpcTransport:
    """PredictionService.Predict over one gRPC channel (reused for every request)."""

    def __init__(self, options):
        self.options = options
        limits = [("grpc.max_send_message_length", options.max_message_bytes),
                  ("grpc.max_receive_message_length", options.max_message_bytes)]
        if options.tls_ca:
            credentials = grpc.ssl_channel_credentials(root_certificates=_read_ca(options.tls_ca))
            self._channel = grpc.secure_channel(options.address, credentials, options=limits)
        else:
            self._channel = grpc.insecure_channel(options.address, options=limits)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _error(self, error):
        """The ServingError for a grpc.RpcError."""
        options, code, details = self.options, error.code(), error.details()
        if code == grpc.StatusCode.UNAVAILABLE:
            return ServingError(UNAVAILABLE, f"TF Serving at {options.address} is unavailable "
                                f"(gRPC): {details}")
        if code == grpc.StatusCode.NOT_FOUND:
            return ServingError(NOT_FOUND, f"{options.model_description()} not found on "
                                f"{options.address}: {details}")
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return ServingError(INVALID_ARGUMENT, f"the server rejected the input: {details}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return _deadline_exceeded(options)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return ServingError(TOO_LARGE, f"message too large for the gRPC limit of the server "
                                f"or of this client ({options.max_message_bytes} bytes): "
                                f"{details}")
        return ServingError(OTHER, f"TF Serving at {options.address} failed: {code.name}: "
                            f"{details}")

    def predict(self, signature_name, inputs, outputs):
        """Runs `signature_name` on `inputs` ({name: array or scalar}).

        Args:
          signature_name: the SavedModel signature key.
          inputs: {input name: numpy array, str or bool}; arrays keep their dtype.
          outputs: {output name: numpy dtype} to request (as the output filter) and check.
        Returns:
          {output name: numpy array of its dtype}.
        Raises:
          ServingError: see the module docstring.
        """
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.options.model_name
        request.model_spec.signature_name = signature_name
        if self.options.model_version is not None:
            request.model_spec.version.value = self.options.model_version
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(outputs)
        try:
            response = self._stub.Predict(request, timeout=self.options.timeout_s)
        except grpc.RpcError as error:
            raise self._error(error) from None
        _missing_outputs(response.outputs, outputs)
        return {name: _checked_output(name, tf.make_ndarray(response.outputs[name]), dtype)
                for name, dtype in outputs.items()}

    def close(self):
        self._channel.close()


def _json_value(value):
    """An input as TF Serving's JSON expects it: nested lists, a string or a bool."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _array_from_json(name, value, dtype):
    """A JSON output as an array of `dtype`; MALFORMED unless it is a numeric array whose
    values fit.

    Integer dtypes need exact whole values in range. Float values are rounded to `dtype`: TF
    Serving writes a float32 as the shortest decimal that reads back as the same float32
    (0.2, not 0.200000003), so the float64 that JSON parses is not the float32 itself.
    """
    dtype = np.dtype(dtype)
    try:
        array = np.asarray(value)
        converted = array.astype(dtype)
        fits = array.dtype.kind in "biuf" and (
            dtype.kind == "f" or np.array_equal(converted, array))
    except (TypeError, ValueError, OverflowError):
        fits = False
    if not fits:
        raise ServingError(MALFORMED, f"malformed response: output {name!r} is not an array "
                           f"of {dtype} values")
    return converted


class RestTransport:
    """TF Serving's REST predict API (columnar format) with the standard library's urllib."""

    def __init__(self, options):
        self.options = options
        scheme = "https" if options.tls_ca else "http"
        version = "" if options.model_version is None else f"/versions/{options.model_version}"
        self.url = f"{scheme}://{options.address}/v1/models/{options.model_name}{version}:predict"
        self._context = None
        if options.tls_ca:
            self._context = ssl.create_default_context(cadata=_read_ca(options.tls_ca).decode())

    def _http_error(self, error):
        """The ServingError for an HTTP error status, with TF Serving's {"error": ...} text."""
        body = error.read().decode("utf-8", "replace")
        try:
            details = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            details = body.strip() or error.reason
        if error.code == 404:
            return ServingError(NOT_FOUND, f"{self.options.model_description()} not found on "
                                f"{self.options.address}: {details}")
        if error.code == 400:
            return ServingError(INVALID_ARGUMENT, f"the server rejected the input: {details}")
        return ServingError(OTHER, f"TF Serving at {self.options.address} failed: HTTP "
                            f"{error.code}: {details}")

    def predict(self, signature_name, inputs, outputs):
        """Same contract as GrpcTransport.predict (REST has no output filter: the other
        outputs are dropped)."""
        body = json.dumps({"signature_name": signature_name,
                           "inputs": {k: _json_value(v) for k, v in inputs.items()}})
        request = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.options.timeout_s,
                                        context=self._context) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_error(error) from None
        except TimeoutError:
            raise _deadline_exceeded(self.options) from None
        except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            if isinstance(reason, TimeoutError):
                raise _deadline_exceeded(self.options) from None
            raise ServingError(UNAVAILABLE, f"TF Serving at {self.options.address} is "
                               f"unavailable (REST): {reason}") from None
        try:
            answer = json.loads(text)["outputs"]
        except (ValueError, KeyError, TypeError):
            answer = None
        if not isinstance(answer, dict):
            raise ServingError(MALFORMED, "malformed response: expected a JSON object with an "
                               "\"outputs\" object")
        _missing_outputs(answer, outputs)
        return {name: _array_from_json(name, answer[name], dtype)
                for name, dtype in outputs.items()}

    def close(self):
        """Nothing to release: every request opens its own connection."""


def connect(options):
    """The transport for `options.protocol` (a GrpcTransport or RestTransport)."""
    return GrpcTransport(options) if options.protocol == "grpc" else RestTransport(options)
