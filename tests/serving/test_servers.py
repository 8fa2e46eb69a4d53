"""The in-test TF Serving servers themselves: default signature, output filter, TF Serving's
refusals of unknown signatures, unknown inputs and wrong dtypes."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from brats_rev.serving import transport
from tests.serving.conftest import WINDOW, phantom_image

# Every test here shares module fixtures that take tens of seconds: the full tier only.
pytestmark = pytest.mark.slow


def _server(protocol, address):
    return transport.connect(transport.ServerOptions(address, "brats", protocol=protocol))


def _refusal(protocol, address, signature_name, inputs):
    with pytest.raises(transport.ServingError) as raised:
        _server(protocol, address).predict(signature_name, inputs, {"labels": np.uint8})
    assert raised.value.kind == transport.INVALID_ARGUMENT
    return str(raised.value)


def test_default_signature_is_serving_default(served, exported):
    patches = np.random.default_rng(0).normal(size=(2, *WINDOW, 4)).astype(np.float32)
    expected = exported.signatures["serving_default"](patches=tf.constant(patches))
    answer = _server(*served).predict("", {"patches": patches}, {"probabilities": np.float32})
    np.testing.assert_array_equal(answer["probabilities"], expected["probabilities"].numpy())


def test_output_filter_and_model_spec(grpc_address):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "brats"
    request.model_spec.signature_name = "segment"
    inputs = {"image": phantom_image(0), "label_convention": "brats2021", "tta": "none",
              "return_probabilities": True}
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    request.output_filter.append("labels")
    with grpc.insecure_channel(grpc_address, options=[
            ("grpc.max_receive_message_length", 1 << 30)]) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request)
    assert list(response.outputs) == ["labels"]
    assert (response.model_spec.name, response.model_spec.version.value,
            response.model_spec.signature_name) == ("brats", 1, "segment")


def test_unknown_signature(served):
    problem = _refusal(*served, "classify", {"image": phantom_image(0)})
    assert problem.endswith('Serving signature key "classify" not found.')


def test_unknown_input_name(served):
    inputs = {"image": phantom_image(0), "label_convention": "brats2021", "tta": "none",
              "return_probabilities": False, "mask": np.zeros(3, np.float32)}
    problem = _refusal(*served, "segment", inputs)
    expected = {"grpc": "input size does not match signature: 5!=4",
                "rest": "input tensor alias not found in signature: mask"}[served[0]]
    assert expected in problem


def test_wrong_dtype_over_grpc(grpc_address):
    inputs = {"image": phantom_image(0).astype(np.float64), "label_convention": "brats2021",
              "tta": "none", "return_probabilities": False}
    problem = _refusal("grpc", grpc_address, "segment", inputs)
    assert problem.endswith("Expects arg[image] to be float32 but float64 is provided")
