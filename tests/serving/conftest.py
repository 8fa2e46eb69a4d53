"""Served models and in-test TF Serving servers (gRPC and REST on 127.0.0.1) for the client tests.

The tiny reversible U-Net (untrained, seed 3), its `.keras` file and its export are built once
per test session (`tests.shared.built_once`) and shared by the export and the client tests.

Models in the store, by name:
  "brats"    that export (brats_rev.serving.saved_model), version 1;
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
from brats_rev.config import InferenceConfig, preset
from brats_rev.data import layouts
from brats_rev.inference.loading import load_model
from brats_rev.models import build_model
from brats_rev.serving import saved_model
from tests.serving import grpc_server, rest_server, standin
from tests.serving.model_store import ModelStore
from tests.shared import built_once

SHAPE = (32, 32, 24)
WINDOW = (16, 16, 16)
# The untrained tiny model's probabilities sit near 0.5; these thresholds give all four labels.
EXPORT_THRESHOLDS = (0.5, 0.5, 0.52)
EXPORT_MAX_VOXELS = 70000
# Stand-in versions: version 1 labels brighter voxels than version 2 (the latest).
THRESHOLDS = {1: 600.0, 2: 300.0}


def phantom_image(seed, shape=SHAPE):
    """float32 (X, Y, Z, 4) raw phantom intensities in layouts.MODALITIES order."""
    phantom = phantoms.make_phantom(shape, seed)
    return np.stack([phantom.images[m] for m in layouts.MODALITIES], -1).astype(np.float32)


def _build_tiny(folder):
    keras.utils.set_random_seed(3)
    model_path = str(folder / "tiny.keras")
    build_model(preset("tiny", block_mode="reversible")).save(model_path)
    saved_model.export_model(
        load_model(model_path, WINDOW).model, WINDOW, str(folder / "brats"), version=1,
        config=InferenceConfig(thresholds=EXPORT_THRESHOLDS), max_voxels=EXPORT_MAX_VOXELS,
        source=model_path)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """(`.keras` path, export base, version-1 folder) of the shared tiny model."""
    folder = built_once(tmp_path_factory, "tiny_export", _build_tiny)
    return str(folder / "tiny.keras"), str(folder / "brats"), str(folder / "brats" / "1")


def _build_standins(folder):
    for version, threshold in THRESHOLDS.items():
        standin.save(str(folder / "standin" / str(version)), threshold)
    for defect in ("short", "int32"):
        standin.save(str(folder / defect / "1"), defect=defect)


@pytest.fixture(scope="session")
def store(tiny_export, tmp_path_factory):
    folder = built_once(tmp_path_factory, "standins", _build_standins)
    return ModelStore({"brats": tiny_export[1],
                       **{name: str(folder / name) for name in ("standin", "short", "int32")}})


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
