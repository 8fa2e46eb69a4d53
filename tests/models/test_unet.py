"""The U-Net: shapes, mode equivalence (outputs and gradients), size checks, saving."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev.config import preset
from brats_rev.layers import ReversibleStage
from brats_rev.layers.recompute import RecomputedLayer
from brats_rev.models import build_model


def _image(shape, seed=0):
    return tf.random.stateless_normal((*shape, 4), seed=(seed, 1))


@pytest.mark.parametrize("deep_supervision", [False, True])
@pytest.mark.parametrize("spatial", [(16, 16, 16), (8, 20, 12)])
def test_output_shapes(spatial, deep_supervision):
    config = preset("tiny", deep_supervision=deep_supervision)
    outputs = build_model(config)(_image((2, *spatial)))
    expected = {"logits": (2, *spatial, 3)}
    if deep_supervision:  # tiny has 3 levels: one extra head at half resolution
        expected["logits_level_1"] = (2, *(n // 2 for n in spatial), 3)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == expected
    assert all(v.dtype == tf.float32 for v in outputs.values())


def test_static_input_shape_model_reports_its_output_shape():
    model = build_model(preset("small"), (32, 48, 16))
    assert tuple(model.output["logits"].shape) == (None, 32, 48, 16, 3)


@pytest.mark.parametrize("spatial", [(10, 16, 16), (16, 16, 6)])
def test_bad_input_size_names_the_valid_multiple(spatial):
    model = build_model(preset("tiny"))
    with pytest.raises(ValueError, match="must be a multiple of 4"):
        model(_image((1, *spatial)))
    with pytest.raises(ValueError, match="must be a multiple of 8"):
        build_model(preset("small"), (12, 16, 16))


@pytest.mark.slow
def test_dynamic_input_size_is_checked_at_run_time():
    model = build_model(preset("tiny"))
    serve = tf.function(model, input_signature=[tf.TensorSpec((None, None, None, None, 4))])
    assert tuple(serve(_image((1, 8, 12, 4)))["logits"].shape) == (1, 8, 12, 4, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of 4"):
        serve(_image((1, 8, 10, 4)))


def _models_with_shared_weights(**changes):
    models = {m: build_model(preset("tiny", block_mode=m, **changes))
              for m in ("plain", "reversible", "recompute")}
    weights = models["plain"].get_weights()
    # Perturb so every weight matters (e.g. GroupNorm beta away from zero).
    weights = [w + 0.05 * np.sin(np.arange(w.size).reshape(w.shape) + i)
               for i, w in enumerate(weights)]
    for model in models.values():
        model.set_weights(weights)
    return models


def test_block_modes_have_identical_weight_lists_and_outputs():
    models = _models_with_shared_weights()
    layout = {m: [(w.path, w.shape) for w in model.weights] for m, model in models.items()}
    assert layout["plain"] == layout["reversible"] == layout["recompute"]
    x = _image((1, 8, 12, 8))
    want = models["plain"](x)["logits"].numpy()
    for mode in ("reversible", "recompute"):
        np.testing.assert_allclose(models[mode](x)["logits"].numpy(), want, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_reversible_unet_gradients_equal_plain():
    models = _models_with_shared_weights(deep_supervision=True)
    x = _image((2, 8, 12, 8))

    def step(model):
        with tf.GradientTape() as tape:
            outputs = model(x)
            loss = sum(tf.reduce_mean(tf.square(v - 0.3)) for v in outputs.values())
        return tape.gradient(loss, model.trainable_variables)

    plain = tf.function(lambda: step(models["plain"]))()
    for mode in ("reversible", "recompute"):
        grads = tf.function(lambda mode=mode: step(models[mode]))()
        assert len(grads) == len(plain) == len(models[mode].trainable_variables)
        for want, got in zip(plain, grads, strict=True):
            scale = float(tf.reduce_max(tf.abs(want)))
            assert scale > 0
            assert float(tf.reduce_max(tf.abs(want - got))) / scale < 1e-4


@pytest.mark.parametrize("mode", ["reversible", "recompute", "plain"])
def test_recomputation_is_placed_at_full_resolution(mode):
    model = build_model(preset("tiny", block_mode=mode, deep_supervision=True))
    transitions = {layer.name: layer.mode for layer in model.layers
                   if isinstance(layer, RecomputedLayer)}
    assert transitions == {"down_0": mode, "down_1": "plain", "merge_1": "plain",
                           "head_level_1": "plain", "merge_0": mode, "head": mode}
    stages = {layer.name: (layer.mode, layer.checkpoint_expansion) for layer in model.layers
              if isinstance(layer, ReversibleStage)}
    assert stages == {name: (mode, name == "decoder_0") for name in
                      ("encoder_0", "encoder_1", "encoder_2", "decoder_1", "decoder_0")}


def test_mixed_precision_model_keeps_float32_weights_and_logits():
    model = build_model(preset("tiny", dtype_policy="mixed_float16"))
    outputs = model(_image((1, 8, 8, 8)))
    assert outputs["logits"].dtype == tf.float32
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model.get_layer("stem").compute_dtype == "float16"


def test_a_global_mixed_policy_does_not_change_a_float32_model():
    """Every layer takes the config's policy: building a float32 model while the global policy
    is mixed gives the same layers' policies and the same logits (the size check passes its
    input on unrounded)."""
    config = preset("tiny")
    image = _image((1, 16, 16, 16))
    keras.utils.set_random_seed(4)
    expected = build_model(config)(image)["logits"].numpy()
    keras.config.set_dtype_policy("mixed_float16")  # the autouse fixture restores it
    keras.utils.set_random_seed(4)
    model = build_model(config)
    assert {layer.dtype_policy.name for layer in model.layers[1:]} == {"float32"}
    np.testing.assert_array_equal(model(image)["logits"].numpy(), expected)


@pytest.mark.slow
def test_keras_file_reloads_in_a_fresh_process(tmp_path):
    model = build_model(preset("tiny", se_ratio=0.25, deep_supervision=True))
    model.set_weights([w + 0.01 * i for i, w in enumerate(model.get_weights())])
    x = np.random.default_rng(0).normal(size=(1, 8, 12, 8, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0)["logits"])
    model.save(tmp_path / "model.keras")
    script = (
        "import sys, numpy as np, keras\n"
        "import brats_rev.layers  # registers the custom layers\n"
        "d = sys.argv[1]\n"
        "m = keras.models.load_model(d + '/model.keras')\n"
        "got = m.predict(np.load(d + '/x.npy'), verbose=0)['logits']\n"
        "np.testing.assert_array_equal(got, np.load(d + '/want.npy'))\n"
        "print('RELOADED', len(m.weights))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"RELOADED {len(model.weights)}" in done.stdout
    assert keras.saving.get_registered_name(type(model.get_layer("encoder_0"))) == (
        "brats_rev>ReversibleStage")


@pytest.mark.slow
def test_tensorflow_checkpoint_holds_and_restores_every_weight(tmp_path):
    config = preset("tiny", encoder_blocks=2, decoder_blocks=2)
    keras.utils.set_random_seed(1)
    trained = build_model(config)
    prefix = tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))
    stored = [name for name in tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
              if name.startswith("model/") and name.endswith("VARIABLE_VALUE")]
    assert len(stored) == len(trained.weights)
    keras.utils.set_random_seed(2)
    fresh = build_model(config)
    coupling_kernel = "encoder_0/coupling_1/g/expand/kernel"
    assert coupling_kernel in [w.path for w in fresh.weights]

    def kernel(model):
        return next(w.numpy() for w in model.weights if w.path == coupling_kernel)

    assert not np.array_equal(kernel(fresh), kernel(trained))
    tf.train.Checkpoint(model=fresh).read(prefix).assert_existing_objects_matched()
    np.testing.assert_array_equal(kernel(fresh), kernel(trained))
    for restored, original in zip(fresh.weights, trained.weights, strict=True):
        np.testing.assert_array_equal(restored.numpy(), original.numpy())
