"""`python -m brats_rev.train`: bad flags fail with a clear message, and a run that fails before
its first checkpoint leaves nothing behind; a NaN stops training with the last good checkpoint
kept."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from brats_rev import config
from brats_rev.data import manifest
from tests.training import helpers

pytestmark = pytest.mark.slow


def test_bad_flags_fail_clearly_and_leave_no_run_behind(tmp_path):
    foreign = tmp_path / "foreign"  # records of another schema version (their manifest says)
    foreign.mkdir()
    document = manifest.load_manifest(config.SAMPLE_DATA_DIR)
    (foreign / manifest.MANIFEST_NAME).write_text(json.dumps({**document, "schema_version": 1}))
    # Records damaged after conversion: found only once training has started (the model is
    # built and config.json written), when the input pipeline checks the shards.
    damaged = tmp_path / "damaged"
    shutil.copytree(config.SAMPLE_DATA_DIR, damaged)
    with open(damaged / document["shards"][0]["file"], "ab") as shard:
        shard.write(b"garbage")
    cases = [
        (["--strategy=horovod"], 1, "value should be one of"),
        (["--override=data.patch_size=30"], 2, "data.patch_size must be a multiple of 4"),
        (["--data_dir=/nonexistent/records"], 2, "must be a folder holding manifest.json"),
        (["--override=train.lr=1"], 2, "Unknown key. Received: train.lr"),
        (["--override=train.learning_rate=fast"], 2, "Received: train.learning_rate='fast'"),
        (["--cpu_replicas=2"], 2, "needs strategy 'mirrored'"),
        (["--config=/nonexistent.json"], 2, "Cannot read config file"),
        ([f"--data_dir={foreign}"], 2, "record schema version 1 is not supported"),
        (["--override=train.fold=9"], 2, "`fold` must be in [0, 4). Received: fold=9"),
        ([f"--data_dir={damaged}"], 2, "is corrupt or truncated"),
    ]
    kept = tmp_path / str(len(cases) - 1)  # a folder the user made for the run stays, empty
    kept.mkdir()
    processes = [helpers.launch("brats_rev.train", [f"--model_dir={tmp_path / str(i)}", *args])
                 for i, (args, _, _) in enumerate(cases)]
    for process, (args, code, message) in zip(processes, cases, strict=True):
        returned, output = helpers.finish(process, timeout=120)
        assert returned == code and message in output, (args, output[-2000:])
        assert "Traceback" not in output, output
    assert not any((tmp_path / str(i)).exists() for i in range(len(cases) - 1))
    assert list(kept.iterdir()) == []


def test_nan_loss_stops_with_the_last_good_checkpoint(tmp_path):
    # Three steps per epoch, two examples per step: examples 8 and 9 (step 5) are NaN.
    code, output = helpers.finish(helpers.launch(
        "tests.training.synthetic_run", [f"--model_dir={tmp_path}", "--nan_at=8"]))
    assert code == 1, output
    assert "Non-finite loss (nan" in output and "at step 5" in output
    assert "The last good checkpoint is" in output and "ckpt-3" in output
    assert tf.train.latest_checkpoint(tmp_path / "checkpoints").endswith("ckpt-3")
    assert not (tmp_path / "model.keras").exists()
    weights = helpers.model_weights(tmp_path / "checkpoints")
    assert all(np.isfinite(value).all() for value in weights.values()
               if np.issubdtype(np.asarray(value).dtype, np.floating))
    assert os.path.exists(tmp_path / "config.json")
