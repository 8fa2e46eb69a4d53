"""The TF Serving client against the in-test gRPC and REST servers: answers, TLS, failures."""

import os
import socket
import time

import numpy as np
import pytest

from brats_rev import phantoms
from brats_rev.config import InferenceConfig
from brats_rev.data.cases import find_cases
from brats_rev.inference import batch
from brats_rev.serving import transport
from brats_rev.serving.client import RemoteSegmenter, check_response
from tests.serving import certificates, grpc_server, rest_server
from tests.serving.conftest import SHAPE, THRESHOLDS, phantom_image

# Every test here shares module fixtures that take tens of seconds: the full tier only.
pytestmark = pytest.mark.slow


def _segmenter(protocol, address, model_name="brats", label_convention=None, tta="none",
               return_probabilities=False, **options):
    server = transport.connect(transport.ServerOptions(address, model_name, protocol=protocol,
                                                       **options))
    config = InferenceConfig(tta=tta, label_convention=label_convention)
    return RemoteSegmenter(server, config, return_probabilities)


def _failure(segmenter, image=None):
    """The ServingError that segmenting `image` (default: phantom 0) raises."""
    with pytest.raises(transport.ServingError) as raised:
        segmenter.segment(phantom_image(0) if image is None else image, "brats2021")
    return raised.value


@pytest.fixture
def refused_address():
    """host:port on 127.0.0.1 that this test holds bound and never listens on: a connection is
    refused, and no other process can take the port while the test runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def silent_address():
    """host:port on 127.0.0.1 of a hung server: a listening socket whose connections the kernel
    completes, and that never reads a request or answers one."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"127.0.0.1:{listening.getsockname()[1]}"


@pytest.mark.parametrize("return_probabilities", [True, False])
def test_answer_equals_the_signature_called_directly(served, segment_directly,
                                                     return_probabilities):
    image = phantom_image(0)
    expected = segment_directly(image, "brats2021")
    labels, probabilities = _segmenter(*served, return_probabilities=return_probabilities
                                       ).segment(image, "brats2021")
    assert labels.dtype == np.uint8 and labels.shape == SHAPE
    np.testing.assert_array_equal(labels, expected["labels"])
    assert set(np.unique(labels)) == {0, 1, 2, 4}  # a segmentation, not a constant
    if return_probabilities:
        assert probabilities.dtype == np.float32
        np.testing.assert_array_equal(probabilities, expected["probabilities"])
    else:
        assert probabilities is None


def test_convention_and_tta_reach_the_signature(grpc_address, segment_directly):
    image = phantom_image(2)
    expected = segment_directly(image, "brats2023", tta="flips8")
    segmenter = _segmenter("grpc", grpc_address, label_convention="brats2023", tta="flips8")
    labels, _ = segmenter.segment(image, "brats2021")  # the segmenter's convention wins
    np.testing.assert_array_equal(labels, expected["labels"])
    assert 3 in labels and 4 not in labels
    assert not np.array_equal(labels, segment_directly(image, "brats2023")["labels"])


def test_model_version_latest_unless_named(served):
    image = phantom_image(0)
    for version in (None, *THRESHOLDS):
        threshold = THRESHOLDS[version or max(THRESHOLDS)]
        labels, _ = _segmenter(*served, "standin", model_version=version).segment(
            image, "brats2021")
        np.testing.assert_array_equal(labels, image[..., 0] > threshold)


def test_server_down_is_unavailable_naming_the_address(served, refused_address):
    protocol, _ = served
    address = refused_address
    error = _failure(_segmenter(protocol, address))
    assert error.kind == transport.UNAVAILABLE
    assert f"TF Serving at {address} is unavailable" in str(error)
    assert "Connection refused" in str(error)


def test_unknown_model_or_version_is_not_found(served):
    error = _failure(_segmenter(*served, model_name="glioma"))
    assert error.kind == transport.NOT_FOUND
    assert f"model 'glioma' (latest version) not found on {served[1]}: Servable not found for " \
           "request: Latest(glioma)" in str(error)
    error = _failure(_segmenter(*served, model_version=7))
    assert error.kind == transport.NOT_FOUND
    assert "model 'brats' (version 7) not found" in str(error)
    assert "Servable not found for request: Specific(brats, 7)" in str(error)


def test_wrong_channel_count_passes_the_server_message_on(served):
    error = _failure(_segmenter(*served), phantom_image(0)[..., :3])
    assert error.kind == transport.INVALID_ARGUMENT
    assert str(error).startswith("the server rejected the input: ")
    assert "is not compatible with expected shape [?,?,?,4]" in str(error)


def test_deadline_exceeded(served):
    error = _failure(_segmenter(*served, timeout_s=1e-3))
    assert error.kind == transport.DEADLINE_EXCEEDED
    assert f"no answer from {served[1]} within 0.001 s" in str(error)


def test_malformed_answer_is_refused_before_anything_is_written(served, tmp_path):
    [case_id] = phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    cases, _ = find_cases(str(tmp_path / "in"))
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    report = batch.predict_cases(_segmenter(*served, model_name="short"), cases,
                                 str(output_dir), batch.OutputOptions())
    [failure] = report["failed"]
    assert failure["case_id"] == case_id
    assert failure["problem"] == (
        "ServingError: malformed response: labels have shape (31, 32, 24); expected "
        "(32, 32, 24) for an image of shape (32, 32, 24)")
    assert os.listdir(output_dir) == []


def test_labels_of_another_dtype_are_refused(served):
    error = _failure(_segmenter(*served, model_name="int32"))
    assert error.kind == transport.MALFORMED
    problem = {"grpc": "output 'labels' has dtype int32; expected uint8",
               "rest": "output 'labels' is not an array of uint8 values"}[served[0]]
    assert str(error) == f"malformed response: {problem}"


@pytest.mark.parametrize("options, problem", [
    ({"protocol": "http"}, "`protocol` must be one of ['grpc', 'rest']"),
    ({"timeout_s": 0}, "`timeout_s` must be positive"),
    ({"max_message_bytes": 1 << 31}, "`max_message_bytes` must be in [1, 2**31 - 1]"),
])
def test_server_options_validated(options, problem):
    with pytest.raises(ValueError) as raised:
        transport.ServerOptions("localhost:8500", "brats", **options)
    assert problem in str(raised.value)


def test_check_response():
    labels = np.array([0, 1, 2, 4], np.uint8).reshape(1, 2, 2)
    probabilities = np.zeros((1, 2, 2, 3), np.float32)
    check_response({"labels": labels, "probabilities": probabilities}, (1, 2, 2), "brats2021",
                   with_probabilities=True, num_regions=3)
    for outputs, convention, problem in [
            ({"labels": labels, "probabilities": probabilities}, "brats2023",
             "labels: convention 'brats2023': label values [4] are not allowed"),
            ({"labels": labels, "probabilities": np.zeros((1, 2, 2), np.float32)}, "brats2021",
             "probabilities have shape (1, 2, 2); expected (1, 2, 2, 3)"),
            ({"labels": labels, "probabilities": probabilities}, "brats2024-ped",
             "probabilities have shape (1, 2, 2, 3); expected (1, 2, 2, 6)")]:
        with pytest.raises(transport.ServingError, match="malformed response") as raised:
            check_response(outputs, (1, 2, 2), convention, with_probabilities=True,
                           num_regions=6 if convention == "brats2024-ped" else 3)
        assert problem in str(raised.value)


def test_message_size_limits(store):
    server, port = grpc_server.start(store, max_message_bytes=64 << 10)
    try:
        error = _failure(_segmenter("grpc", f"127.0.0.1:{port}"))
    finally:
        server.stop(None)
    assert error.kind == transport.TOO_LARGE
    assert "message too large for the gRPC limit" in str(error)
    assert "Received message larger than max" in str(error) and "vs. 65536" in str(error)


def test_client_message_limit(grpc_address):
    error = _failure(_segmenter("grpc", grpc_address, max_message_bytes=64 << 10))
    assert error.kind == transport.TOO_LARGE
    assert "this client (65536 bytes)" in str(error)
    assert "larger than max" in str(error)


@pytest.fixture(scope="module")
def tls_servers(store, tmp_path_factory):
    """{protocol: address} of a TLS gRPC server and an https REST server, and the files."""
    files = certificates.make(tmp_path_factory.mktemp("tls"))
    tls = (files.server_key, files.server_certificate)
    grpc_tls, grpc_port = grpc_server.start(store, tls=tls)
    rest_tls, rest_port = rest_server.start(store, tls=tls)
    yield {"grpc": f"localhost:{grpc_port}", "rest": f"localhost:{rest_port}"}, files
    grpc_tls.stop(None)
    rest_server.stop(rest_tls)


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_tls_with_the_ca_bundle(tls_servers, segment_directly, protocol):
    addresses, files = tls_servers
    image = phantom_image(1)
    labels, _ = _segmenter(protocol, addresses[protocol], tls_ca=files.ca).segment(
        image, "brats2021")
    np.testing.assert_array_equal(labels, segment_directly(image, "brats2021")["labels"])
    # Without the CA bundle the client speaks plain text, which the TLS server refuses.
    error = _failure(_segmenter(protocol, addresses[protocol]))
    assert error.kind == transport.UNAVAILABLE


def test_tls_with_another_ca_is_refused(tls_servers, tmp_path):
    addresses, _ = tls_servers
    other = certificates.make(tmp_path)
    for protocol in ("grpc", "rest"):
        error = _failure(_segmenter(protocol, addresses[protocol], tls_ca=other.ca))
        assert error.kind == transport.UNAVAILABLE, protocol


def test_after_unavailable_first_request_nothing_more_is_read_or_sent(tmp_path,
                                                                       refused_address):
    ids = phantoms.write_dataset(str(tmp_path / "in"), 2, "2021", SHAPE)
    cases, _ = find_cases(str(tmp_path / "in"))
    # Were the second case read, its truncated t1 would fail as unreadable.
    with open(cases[1].images[1], "r+b") as handle:
        handle.truncate(100)
    address = refused_address
    segmenter = _segmenter("grpc", address)
    report = batch.predict_cases(segmenter, cases, str(tmp_path), batch.OutputOptions())
    first, second = report["failed"]
    assert (first["case_id"], second["case_id"]) == tuple(ids)
    assert f"TF Serving at {address} is unavailable" in first["problem"]
    assert second["problem"] == f"ServingError: not sent: {segmenter.stopped}"
    assert str(segmenter.stopped).startswith(f"after {ids[0]}: TF Serving at {address} is ")
    assert segmenter.stopped.kind == transport.UNAVAILABLE
    assert report["written"] == [] and os.listdir(tmp_path) == ["in"]


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_after_a_deadline_the_other_cases_are_not_sent(tmp_path, silent_address, protocol):
    """A hung server costs one --timeout_s, not one per case: 3 cases in under 2 timeouts,
    the first failed by its deadline, the others reported as not sent."""
    timeout_s = 1.0
    ids = phantoms.write_dataset(str(tmp_path / "in"), 3, "2021", SHAPE)
    cases, _ = find_cases(str(tmp_path / "in"))
    segmenter = _segmenter(protocol, silent_address, timeout_s=timeout_s)
    start = time.monotonic()
    report = batch.predict_cases(segmenter, cases, str(tmp_path), batch.OutputOptions())
    assert time.monotonic() - start < 2 * timeout_s
    assert [failure["case_id"] for failure in report["failed"]] == ids
    deadline = f"no answer from {silent_address} within 1 s (timeout_s)"
    assert report["failed"][0]["problem"] == f"ServingError: {deadline}"
    assert str(segmenter.stopped) == f"after {ids[0]}: {deadline}"
    for failure in report["failed"][1:]:
        assert failure["problem"] == f"ServingError: not sent: after {ids[0]}: {deadline}"
    assert report["written"] == [] and os.listdir(tmp_path) == ["in"]
