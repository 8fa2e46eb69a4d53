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


def test_mirrored_and_two_workers_match_one_device_and_only_the_chief_writes(tmp_path):
    """One single-device run is the reference of both distributed runs."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    single = helpers.launch(RUN, [f"--model_dir={tmp_path / 'single'}"])
    mirrored = helpers.launch(RUN, [f"--model_dir={tmp_path / 'mirrored'}",
                                    "--strategy=mirrored", "--cpu_replicas=2"])
    workers = [
        helpers.launch(RUN, [f"--model_dir={tmp_path / f'worker{index}'}",
                             "--strategy=multi_worker_mirrored"],
                       env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {
                           "type": "worker", "index": index}}), "TMPDIR": str(scratch)})
        for index in range(2)]
    for process in (single, mirrored, *workers):
        code, output = helpers.finish(process)
        assert code == 0, output
    reference = helpers.model_weights(tmp_path / "single" / "checkpoints")
    # The last epoch's steps moved the weights: the agreement below is not trivial.
    first_epoch = helpers.model_weights(tmp_path / "single" / "checkpoints" / "ckpt-3")
    assert helpers.max_difference(reference, first_epoch) > 1e-4
    for run in ("mirrored", "worker0"):
        trained = helpers.model_weights(tmp_path / run / "checkpoints")
        assert helpers.max_difference(trained, reference) < 1e-5, run
    assert sorted(os.listdir(tmp_path / "worker0")) == [
        "checkpoints", "config.json", "logs", "model.keras"]
    assert not (tmp_path / "worker1").exists()
    assert os.listdir(scratch) == []  # worker 1's scratch checkpoints were removed
