"""Served models and in-test TF Serving servers (gRPC and REST on 127.0.0.1) for the client tests.

Models in the store, by name:
  "brats"    the tiny preset (untrained, seed 0) exported by brats_rev.serving.saved_model,
             version 1;
  "standin"  the `segment` stand-in (tests.serving.standin), versions 1 and 2 with different
             thresholds;
  "short"    a stand-in whose labels are one voxel short (a malformed answer);
  "int32"    a stand-in whose labels are int32 with values 0 and 300 (a malformed answer).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import phantoms
from brats_rev.config import preset
from brats_rev.data import layouts
from brats_rev.models import build_model
from brats_rev.serving.saved_model import export_model
from tests.serving import grpc_server, rest_server, standin
from tests.serving.model_store import ModelStore

SHAPE = (32, 32, 24)
WINDOW = (16, 16, 16)
# Stand-in versions: version 1 labels brighter voxels than version 2 (the latest).
THRESHOLDS = {1: 600.0, 2: 300.0}


def phantom_image(seed, shape=SHAPE):
    """float32 (X, Y, Z, 4) raw phantom intensities in layouts.MODALITIES order."""
    phantom = phantoms.make_phantom(shape, seed)
    return np.stack([phantom.images[m] for m in layouts.MODALITIES], -1).astype(np.float32)


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    export_model(build_model(preset("tiny")), WINDOW, str(base / "brats"), version=1)
    for version, threshold in THRESHOLDS.items():
        standin.save(str(base / "standin" / str(version)), threshold)
    for defect in ("short", "int32"):
        standin.save(str(base / defect / "1"), defect=defect)
    return ModelStore({name: str(base / name) for name in ("brats", "standin", "short", "int32")})


@pytest.fixture(scope="session")
def exported(store):
    """The exported model ("brats" version 1) loaded in this process."""
    return tf.saved_model.load(os.path.join(store.models["brats"], "1"))


@pytest.fixture(scope="session")
def segment_directly(exported):
    """Calls the exported model's `segment` signature in this process:
    (image, convention, tta="none") -> {"labels", "probabilities"} numpy arrays."""
    signature = exported.signatures["segment"]

    def segment(image, convention, tta="none"):
        outputs = signature(image=tf.constant(image), label_convention=tf.constant(convention),
                            tta=tf.constant(tta), return_probabilities=tf.constant(True))
        return {key: value.numpy() for key, value in outputs.items()}
    return segment


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
