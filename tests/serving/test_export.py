"""SavedModel export: signatures, equality with `predict`, versions, atomicity, limits."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import phantoms, run_folder
from brats_rev.config import preset
from brats_rev.data import layouts
from brats_rev.models import build_model
from brats_rev.serving import model_base, saved_model
from tests.serving.conftest import EXPORT_MAX_VOXELS, EXPORT_THRESHOLDS, WINDOW

# Every test here shares module fixtures that take tens of seconds: the full tier only.
pytestmark = pytest.mark.slow

CASE_SHAPE = (40, 44, 36)
THRESHOLDS = tuple(str(t) for t in EXPORT_THRESHOLDS)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False,
                          env=ENV)


@pytest.fixture(scope="module")
def model_path(tiny_export):
    """The shared tiny reversible U-Net's `.keras` file (tests/serving/conftest.py)."""
    return tiny_export[0]


@pytest.fixture(scope="module")
def exported(tiny_export):
    """(export_base, version folder) of that model, thresholds EXPORT_THRESHOLDS."""
    return tiny_export[1], tiny_export[2]


def _signature_blocks(cli_output):
    """{signature name: its text} from `saved_model_cli show --all`."""
    blocks = {}
    for chunk in cli_output.split("signature_def['")[1:]:
        name, text = chunk.split("']", 1)
        blocks[name] = text.split("Method name is:")[0]
    return blocks


def test_saved_model_cli_lists_both_signatures_with_their_names_and_dtypes(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--all", "--dir", exported[1]], capture_output=True,
                            text=True, check=True, env=ENV)
    blocks = _signature_blocks(result.stdout)
    segment, default = blocks["segment"], blocks["serving_default"]
    for name, dtype in [("image", "DT_FLOAT"), ("label_convention", "DT_STRING"),
                        ("tta", "DT_STRING"), ("return_probabilities", "DT_BOOL")]:
        assert f"inputs['{name}'] tensor_info:\n        dtype: {dtype}" in segment
    assert "outputs['labels'] tensor_info:\n        dtype: DT_UINT8" in segment
    assert "outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT" in segment
    assert "inputs['patches'] tensor_info:\n        dtype: DT_FLOAT" in default
    assert "outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT\n        shape: " \
           "(-1, -1, -1, -1, 3)" in default


FRESH_PROCESS = textwrap.dedent("""
    import sys
    sys.modules["brats_rev"] = None  # importing brats_rev now fails
    import nibabel as nib, numpy as np, tensorflow as tf
    saved_model, case_dir, case_id, convention, out = sys.argv[1:]
    try:
        import brats_rev  # noqa
        raise SystemExit("brats_rev was importable")
    except ImportError:
        pass
    volumes = [np.asarray(nib.load(f"{case_dir}/{case_id}_{m}.nii.gz").dataobj)
               for m in ("flair", "t1", "t1ce", "t2")]
    image = tf.constant(np.stack(volumes, -1).astype(np.float32))
    segment = tf.saved_model.load(saved_model).signatures["segment"]
    results = {}
    for tta in ("none", "flips8"):
        result = segment(image=image, label_convention=tf.constant(convention),
                         tta=tf.constant(tta), return_probabilities=tf.constant(True))
        results[f"labels_{tta}"] = result["labels"].numpy()
        results[f"probabilities_{tta}"] = result["probabilities"].numpy()
    np.savez(out, **results)
""")


def test_a_process_without_brats_rev_segments_like_predict_voxel_for_voxel(
        exported, model_path, tmp_path):
    [case_id] = phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", CASE_SHAPE, seed=5)
    case_dir = str(tmp_path / "in" / case_id)
    script = tmp_path / "serve.py"
    script.write_text(FRESH_PROCESS)
    served = _run(str(script), exported[1], case_dir, case_id, "brats2021",
                  str(tmp_path / "served.npz"))
    assert served.returncode == 0, served.stderr
    # The graph holds plain ops only: TensorFlow warns when it imports custom gradients.
    assert "custom gradients" not in served.stderr, served.stderr[-2000:]
    result = np.load(tmp_path / "served.npz")
    for tta in ("none", "flips8"):
        output_dir = tmp_path / tta
        predicted = _run("-m", "brats_rev.predict", f"--model={model_path}",
                         f"--input={case_dir}", f"--output_dir={output_dir}",
                         "--window_size=16,16,16", f"--thresholds={','.join(THRESHOLDS)}",
                         f"--tta={tta}", "--save_probabilities", "--probability_dtype=float32")
        assert predicted.returncode == 0, predicted.stderr
        expected = nib.load(str(output_dir / f"{case_id}.nii.gz"))
        np.testing.assert_array_equal(result[f"labels_{tta}"], np.asarray(expected.dataobj))
        assert set(np.unique(result[f"labels_{tta}"])) == {0, 1, 2, 4}  # non-trivial
        probabilities = nib.load(str(output_dir / f"{case_id}_probabilities.nii.gz"))
        np.testing.assert_array_equal(result[f"probabilities_{tta}"],
                                      probabilities.get_fdata(dtype=np.float32))
    assert not np.array_equal(result["probabilities_none"], result["probabilities_flips8"])


@pytest.fixture(scope="module")
def signatures(exported):
    """The exported version's signatures, loaded once."""
    loaded = tf.saved_model.load(exported[1])
    return loaded, loaded.signatures


def _segment(signatures, image, convention="brats2023", tta="none", probabilities=False):
    return signatures[1]["segment"](
        image=tf.constant(image), label_convention=tf.constant(convention),
        tta=tf.constant(tta), return_probabilities=tf.constant(probabilities))


def _phantom_image(shape, seed=0):
    phantom = phantoms.make_phantom(shape, seed)
    return np.stack([phantom.images[m] for m in layouts.MODALITIES], -1).astype(np.float32)


def test_segment_labels_follow_the_requested_convention_and_probabilities_are_optional(
        signatures):
    image = _phantom_image(CASE_SHAPE)
    in_2023 = _segment(signatures, image, "brats2023")
    in_2020 = _segment(signatures, image, "brats2020")
    assert set(np.unique(in_2023["labels"].numpy())) == {0, 1, 2, 3}
    np.testing.assert_array_equal(np.where(in_2023["labels"] == 3, 4, in_2023["labels"]),
                                  in_2020["labels"])
    assert in_2023["labels"].shape == CASE_SHAPE and in_2023["labels"].dtype == tf.uint8
    assert in_2023["probabilities"].shape == (0, 0, 0, 3)


@pytest.mark.parametrize("image, message", [
    (np.ones((20, 20, 20, 3), np.float32), "not compatible with expected shape"),
    (np.ones((20, 20, 20), np.float32), "not compatible with expected shape"),
    (np.ones((50, 40, 36, 4), np.float32), f"more than {EXPORT_MAX_VOXELS} voxels"),
    (np.zeros((20, 20, 20, 4), np.float32), "brain mask is empty"),
])
def test_segment_rejects_bad_input_with_a_message(signatures, image, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _segment(signatures, image)


def test_segment_rejects_an_unknown_tta_mode(signatures):
    with pytest.raises(tf.errors.InvalidArgumentError, match="tta must be one of flips8, none"):
        _segment(signatures, _phantom_image((20, 20, 20)), tta="flips4")


def test_serving_default_gives_the_model_probabilities_and_checks_shapes(signatures, model_path):
    patches = np.random.default_rng(0).normal(size=(2, 16, 16, 32, 4)).astype(np.float32)
    signature = signatures[1]["serving_default"]
    served = signature(patches=tf.constant(patches))["probabilities"].numpy()
    model = keras.saving.load_model(model_path, compile=False)
    expected = tf.sigmoid(model(patches)["logits"]).numpy()
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
        signature(patches=tf.constant(patches[..., :2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of 4"):
        signature(patches=tf.constant(patches[:, :, :, :18]))


def _op_types(signature):
    """Op types in the graph of `signature` and in every function of its library."""
    graph = signature.graph.as_graph_def()
    return {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def}


def test_both_signatures_run_the_model_with_its_weights_as_constants(signatures):
    """As the Predictor's frozen model: no variable is read per window, which cost `segment`
    about 1.3x predict's CPU time (docs/BENCHMARKS.md, "Inference")."""
    loaded, found = signatures
    for name in saved_model.SIGNATURES:
        assert "ReadVariableOp" not in _op_types(found[name]), name
    assert not loaded.variables


def test_the_version_folder_holds_the_keras_model_metadata_and_a_server_config(
        exported, model_path):
    base, version_dir = exported
    assert os.path.basename(version_dir) == "1"
    keras_model = keras.saving.load_model(os.path.join(version_dir, run_folder.MODEL_FILE),
                                          compile=False, safe_mode=True)
    original = keras.saving.load_model(model_path, compile=False)
    images = np.random.default_rng(2).normal(size=(1, 16, 16, 16, 4)).astype(np.float32)
    np.testing.assert_array_equal(keras_model(images)["logits"], original(images)["logits"])
    metadata = json.loads(open(os.path.join(version_dir, saved_model.METADATA_NAME)).read())
    assert metadata["window_size"] == [16, 16, 16] and metadata["max_voxels"] == EXPORT_MAX_VOXELS
    assert metadata["inference"]["thresholds"] == [0.5, 0.5, 0.52]
    assert metadata["source"] == model_path
    config_text = open(os.path.join(base, saved_model.MODEL_CONFIG_NAME)).read()
    assert 'name: "brats_rev"' in config_text
    assert f'base_path: "{os.path.abspath(base)}"' in config_text
    assert sorted(os.listdir(base)) == [".export.lock", "1", saved_model.MODEL_CONFIG_NAME]


def test_the_cli_takes_the_next_version_and_never_replaces_one(model_path, tmp_path):
    """Also: --max_voxels reaches export.json and the `segment` signature's check (the
    default, 256**3, would accept the 21 x 20 x 20 = 8400 voxel image)."""
    base = tmp_path / "models"
    os.makedirs(base / "3")  # an existing version (maybe not ours): the next one is 4
    os.makedirs(base / ".export-7-leftover")
    args = ("-m", "brats_rev.export", f"--model={model_path}", f"--export_base={base}",
            "--window_size=16,16,16", "--model_name=glioma", "--max_voxels=8000")
    # Two exports racing for the base: each takes its own version, export.json says which.
    racing = [subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
    printed = []
    for process in racing:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        printed.append(stdout.strip().rsplit(" ", 1)[-1])
    assert sorted(printed) == [str(base / "4"), str(base / "5")]
    for version in (4, 5):
        written = json.loads((base / str(version) / saved_model.METADATA_NAME).read_text())
        assert written["version"] == version
    loaded = tf.saved_model.load(str(base / "4"))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="image has more than 8000 voxels, this model") as refused:
        _segment((loaded, loaded.signatures), _phantom_image((21, 20, 20)))
    assert "limit (set by `python -m brats_rev.export --max_voxels`)" in str(refused.value)
    metadata = json.loads((base / "4" / saved_model.METADATA_NAME).read_text())
    assert metadata["max_voxels"] == 8000
    assert 'name: "glioma"' in (base / saved_model.MODEL_CONFIG_NAME).read_text()
    # Refused before the model is loaded: a --model that does not exist is not reached.
    again = _run(*[a for a in args if not a.startswith("--model=")],
                 f"--model={tmp_path / 'missing.keras'}", "--version=4")
    assert again.returncode == 1
    assert "Version 4 already exists" in again.stderr and "missing.keras" not in again.stderr
    assert sorted(os.listdir(base)) == [".export-7-leftover", ".export.lock", "3", "4", "5",
                                        saved_model.MODEL_CONFIG_NAME]


def test_an_export_killed_midway_leaves_no_version_behind(model_path, tmp_path):
    base = tmp_path / "models"
    process = subprocess.Popen(
        [sys.executable, "-m", "brats_rev.export", f"--model={model_path}",
         f"--export_base={base}", "--window_size=16,16,16"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while not (base.is_dir() and any(n.startswith(".export-") for n in os.listdir(base))):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # the graph is being traced and written
    process.send_signal(signal.SIGKILL)
    process.wait()
    names = os.listdir(base)
    assert not [name for name in names if name.isdigit()]
    assert saved_model.MODEL_CONFIG_NAME not in names  # written only after a version landed
    assert model_base.next_version(str(base)) == 1


def test_a_bad_version_is_refused(tmp_path):
    with pytest.raises(ValueError, match="positive int"):
        saved_model.export_model(build_model(preset("tiny")), WINDOW, str(tmp_path), version=0)
    assert os.listdir(tmp_path) == []
