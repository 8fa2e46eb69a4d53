"""Served models and in-test TF Serving servers (gRPC and REST on 127.0.0.1) for the client tests.

Models in the store, by name:
  "brats"    the `segment` stand-in (tests.serving.standin), versions 1 and 2 with different
             thresholds;
  "broken"   a stand-in whose labels are one voxel short (a malformed answer).
"""

import numpy as np
import pytest

from brats_rev import phantoms
from brats_rev.data import layouts
from tests.serving import grpc_server, rest_server, standin
from tests.serving.model_store import ModelStore

SHAPE = (32, 32, 24)
# Version 1 labels brighter voxels than version 2 (the latest).
THRESHOLDS = {1: 600.0, 2: 300.0}


def phantom_image(seed, shape=SHAPE):
    """float32 (X, Y, Z, 4) raw phantom intensities in layouts.MODALITIES order."""
    phantom = phantoms.make_phantom(shape, seed)
    return np.stack([phantom.images[m] for m in layouts.MODALITIES], -1).astype(np.float32)


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    for version, threshold in THRESHOLDS.items():
        standin.save(str(base / "brats" / str(version)), threshold)
    standin.save(str(base / "broken" / "1"), crop_labels=True)
    return ModelStore({"brats": str(base / "brats"), "broken": str(base / "broken")})


@pytest.fixture(scope="session")
def grpc_address(store):
    server, port = grpc_server.start(store)
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="session")
def rest_address(store):
    server, port = rest_server.start(store)
    yield f"127.0.0.1:{port}"
    rest_server.stop(server)


@pytest.fixture(params=["grpc", "rest"])
def served(request):
    """(protocol, address) of each server in turn."""
    return request.param, request.getfixturevalue(f"{request.param}_address")
