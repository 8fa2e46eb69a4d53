"""Distribution: mirrored over 2 logical CPU devices and two workers on 127.0.0.1 train to the
same weights as one device with the same global batch (gradient clipping active)."""

import json
import os
import socket

import pytest

from tests.training import helpers

pytestmark = pytest.mark.slow
RUN = "tests.training.synthetic_run"


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_two_cpu_replicas_match_one_device(tmp_path):
    one = helpers.launch(RUN, [f"--model_dir={tmp_path / 'one'}"])
    two = helpers.launch(RUN, [f"--model_dir={tmp_path / 'two'}", "--strategy=mirrored",
                               "--cpu_replicas=2"])
    for process in (one, two):
        code, output = helpers.finish(process)
        assert code == 0, output
    single = helpers.model_weights(tmp_path / "one" / "checkpoints")
    mirrored = helpers.model_weights(tmp_path / "two" / "checkpoints")
    assert helpers.max_difference(single, mirrored) < 1e-5
    # The last epoch's steps moved the weights: the agreement is not trivial.
    first_epoch = helpers.model_weights(tmp_path / "one" / "checkpoints" / "ckpt-3")
    assert helpers.max_difference(single, first_epoch) > 1e-4


def test_two_workers_match_one_worker_and_only_the_chief_writes(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    workers = [
        helpers.launch(RUN, [f"--model_dir={tmp_path / f'worker{index}'}",
                             "--strategy=multi_worker_mirrored"],
                       env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {
                           "type": "worker", "index": index}}), "TMPDIR": str(scratch)})
        for index in range(2)]
    single = helpers.launch(RUN, [f"--model_dir={tmp_path / 'single'}"])
    for process in (*workers, single):
        code, output = helpers.finish(process)
        assert code == 0, output
    distributed = helpers.model_weights(tmp_path / "worker0" / "checkpoints")
    reference = helpers.model_weights(tmp_path / "single" / "checkpoints")
    assert helpers.max_difference(distributed, reference) < 1e-5
    assert sorted(os.listdir(tmp_path / "worker0")) == [
        "checkpoints", "config.json", "logs", "model.keras"]
    assert not (tmp_path / "worker1").exists()
    assert os.listdir(scratch) == []  # worker 1's scratch checkpoints were removed
