"""tf.distribute strategies by name, and which process of a multi-worker job writes files.

    default                 no distribution (the current device)
    one_device              GPU:0 when a GPU is visible, else CPU:0
    mirrored                all-reduce over the visible GPUs (`num_gpus` of them), or, on a
                            host without GPUs, over `cpu_replicas` logical CPU devices
    multi_worker_mirrored   one or more replicas per worker, cluster from TF_CONFIG
    tpu                     TPUStrategy on the TPU at `tpu` (plumbing only: untested here)

GPU placement has not been measured on a GPU; on this project's CPU hosts `mirrored` runs over
logical CPU devices, which is what the tests use.
"""

import json
import os

import tensorflow as tf

from brats_rev.training.strategy_names import check_arguments


def split_cpu(replicas):
    """Splits the first physical CPU into `replicas` logical devices (CPU:0 .. CPU:n-1).

    Must run before TensorFlow initialises its devices (before any op runs).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])


def _mirrored_devices(num_gpus, cpu_replicas):
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        count = len(gpus) if num_gpus is None else num_gpus
        if not 1 <= count <= len(gpus):
            raise ValueError(f"`num_gpus` must be in [1, {len(gpus)}] (visible GPUs). "
                             f"Received: num_gpus={num_gpus!r}")
        return [device.name for device in gpus[:count]]
    if num_gpus:
        raise ValueError(f"No GPU is visible. Received: num_gpus={num_gpus!r}")
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < cpu_replicas:
        raise ValueError(f"{cpu_replicas} CPU replicas need `split_cpu({cpu_replicas})` before "
                         f"TensorFlow starts; {len(cpus)} logical CPU devices exist.")
    return [device.name for device in cpus[:cpu_replicas]]


def create_strategy(name, num_gpus=None, cpu_replicas=1, tpu=None):
    """The tf.distribute.Strategy called `name` (see module docstring).

    Args:
        name: one of strategy_names.STRATEGIES.
        num_gpus: GPUs for "mirrored" (None: all visible).
        cpu_replicas: logical CPU replicas for "mirrored" on a host without GPUs; call
            `split_cpu(cpu_replicas)` first.
        tpu: TPU name or grpc:// address for "tpu" ("" for a local TPU VM).

    Raises:
        ValueError: unknown name, inconsistent arguments, or no TF_CONFIG for multi-worker.
    """
    check_arguments(name, cpu_replicas, tpu)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(
            "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(_mirrored_devices(num_gpus, cpu_replicas))
    if name == "multi_worker_mirrored":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("Strategy 'multi_worker_mirrored' reads the cluster from the "
                             "TF_CONFIG environment variable, which is not set.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task(strategy):
    """(task type, task index) of this process; ("worker", 0) without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "worker", 0
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """True for the process that writes checkpoints, summaries, the config and the model:
    the "chief" task, or worker 0 of a cluster without one, or the only process."""
    task_type, task_id = task(strategy)
    if task_type == "chief":
        return True
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return task_type == "worker" and task_id == 0 and "chief" not in cluster
