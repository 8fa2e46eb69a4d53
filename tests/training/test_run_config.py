"""Run configuration: preset, file and overrides resolved and validated with clear errors."""

import json
import os

import pytest

from brats_rev import run_folder
from brats_rev.config import EXPERIMENTS, SAMPLE_DATA_DIR
from brats_rev.training import run_config


def test_default_is_the_tiny_demo_and_round_trips(tmp_path):
    run = run_config.resolve()
    assert run.model == EXPERIMENTS["tiny"].model
    assert run.data.data_dir == SAMPLE_DATA_DIR and run.data.patch_size == (32, 32, 32)
    # Found from the package, not the working folder: the default works from anywhere.
    assert os.path.isabs(run.data.data_dir)
    assert os.path.isfile(os.path.join(run.data.data_dir, "manifest.json"))
    assert run.train.epochs == 16
    run_folder.write_config(run, tmp_path)
    path = tmp_path / run_folder.CONFIG_FILE
    assert set(json.loads(path.read_text())) == {"model", "data", "train"}
    assert run_folder.read_config(tmp_path) == run
    # A run's config.json is a valid --config file.
    assert run_config.resolve("default", run_folder.load_json(path)) == run


def test_order_file_then_overrides():
    run = run_config.resolve("tiny", {"train": {"learning_rate": 0.1, "epochs": 3}},
                             ["model.filters=[8,16]", "train.learning_rate=1e-3",
                              "train.optimizer=sgd_nesterov", "data.patch_size=48",
                              "train.fold=null", "train.precision=mixed_bfloat16"])
    assert run.model.filters == (8, 16) and run.model.encoder_blocks == (1, 1)
    assert run.train.learning_rate == 1e-3 and run.train.epochs == 3
    assert run.train.optimizer == "sgd_nesterov" and run.train.fold is None
    assert run.data.patch_size == (48, 48, 48)
    assert run.model.dtype_policy == "mixed_bfloat16"


@pytest.mark.parametrize("overrides,message", [
    (["train.lr=1"], "Unknown key. Received: train.lr"),
    (["optim.lr=1"], "Unknown configuration section. Received: 'optim'"),
    (["train.learning_rate"], "section.field=value"),
    (["train.learning_rate=fast"], "train.learning_rate='fast'"),
    (["train.jit_compile=1"], "train.jit_compile=1"),
    (["train.epochs=0"], "epochs=0"),
    (["train.optimizer=adam"], "optimizer='adam'"),
    (["data.patch_size=30"], "multiple of 4"),
    (["model.filters=[8,15]"], "even"),
    (["model.dtype_policy=mixed_float16"], "train.precision"),
    (["train.warmup_steps=400"], "warmup_steps must be below"),
    (["model.deep_supervision=true", "train.deep_supervision_weights=[1,1,1]"],
     "needs 2 weights"),
])
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        run_config.resolve("tiny", overrides=overrides)


def test_unknown_preset_and_bad_file(tmp_path):
    with pytest.raises(ValueError, match="Unknown preset. Received: 'huge'"):
        run_config.resolve("huge")
    with pytest.raises(ValueError, match="sections"):
        run_config.resolve("tiny", {"optimizer": {}})


def test_a_restart_may_only_raise_epochs(tmp_path):
    run = run_config.resolve()
    run_config.prepare_model_dir(run, tmp_path, write_files=True)
    longer = run_config.resolve(overrides=["train.epochs=20"])
    run_config.prepare_model_dir(longer, tmp_path, write_files=True)
    assert run_folder.read_config(tmp_path) == longer
    other = run_config.resolve(overrides=["train.learning_rate=0.5"])
    with pytest.raises(ValueError, match="train.learning_rate: 0.003 -> 0.5"):
        run_config.prepare_model_dir(other, tmp_path, write_files=True)
    # A worker that does not write leaves no file behind.
    run_config.prepare_model_dir(run, tmp_path / "other", write_files=False)
    assert not (tmp_path / "other").exists()
