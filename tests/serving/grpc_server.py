"""An in-test TF Serving gRPC server: the real PredictionService proto over a ModelStore.

    server, port = start(store, max_message_bytes=1 << 20, tls=(key_path, cert_path))
    ...
    server.stop(None)

Serves `PredictionService.Predict` on 127.0.0.1 at a free port: tensors in and out as
TensorProto, `output_filter` respected, failures as TF Serving's status codes and messages
(tests.serving.model_store). Messages larger than `max_message_bytes` are refused by gRPC
itself (RESOURCE_EXHAUSTED), as with TF Serving's own limit.
"""

import pathlib
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.serving.model_store import ServingFailure


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict over a tests.serving.model_store.ModelStore."""

    def __init__(self, store):
        self.store = store

    def Predict(self, request, context):  # noqa: N802 (the proto's method name)
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        try:
            outputs, version = self.store.predict(spec.name, version, spec.signature_name,
                                                  inputs, tuple(request.output_filter))
        except ServingFailure as failure:
            context.abort(failure.code, failure.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = spec.signature_name or "serving_default"
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


def start(store, max_message_bytes=1 << 30, tls=None):
    """Starts a server on 127.0.0.1 at a free port.

    Args:
      store: tests.serving.model_store.ModelStore.
      max_message_bytes: largest message the server receives or sends.
      tls: (private key PEM path, certificate chain PEM path) for TLS, or None (insecure).
    Returns:
      (grpc.Server, port); stop it with `server.stop(None)`.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(store), server)
    if tls is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        key, chain = (pathlib.Path(path).read_bytes() for path in tls)
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, chain)]))
    server.start()
    return server, port
