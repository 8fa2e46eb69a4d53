"""Strategy names and argument checks; which process is the chief."""

import json
import types

import pytest
import tensorflow as tf

from brats_rev.training import strategy as strategy_lib


@pytest.mark.parametrize("kwargs,message", [
    ({"name": "horovod"}, "Received: 'horovod'"),
    ({"name": "default", "cpu_replicas": 2}, "cpu_replicas=2"),
    ({"name": "mirrored", "num_gpus": 1}, "No GPU is visible"),
    ({"name": "mirrored", "cpu_replicas": 4}, "split_cpu"),
    ({"name": "one_device", "tpu": "grpc://x"}, "needs strategy 'tpu'"),
])
def test_bad_arguments_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        strategy_lib.create_strategy(**kwargs)


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        strategy_lib.create_strategy("multi_worker_mirrored")


def test_default_and_one_device():
    assert strategy_lib.create_strategy("default").num_replicas_in_sync == 1
    one = strategy_lib.create_strategy("one_device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)


def fake(task_type, task_id):
    return types.SimpleNamespace(cluster_resolver=types.SimpleNamespace(
        task_type=task_type, task_id=task_id))


@pytest.mark.parametrize("cluster,task,chief", [
    ({"worker": ["a", "b"]}, ("worker", 0), True),
    ({"worker": ["a", "b"]}, ("worker", 1), False),
    ({"chief": ["c"], "worker": ["a"]}, ("worker", 0), False),
    ({"chief": ["c"], "worker": ["a"]}, ("chief", 0), True),
])
def test_chief(monkeypatch, cluster, task, chief):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster}))
    assert strategy_lib.is_chief(fake(*task)) is chief


def test_a_single_process_is_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert strategy_lib.is_chief(tf.distribute.get_strategy())
