"""The tf.distribute strategies a run can name, and the checks of their arguments that need no
TensorFlow (so a wrong flag fails before TensorFlow starts). `strategy.create_strategy` builds
them; its module docstring says what each name means."""

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "tpu")


def check_arguments(name, cpu_replicas=1, tpu=None):
    """Raises ValueError if `name` is unknown or the other arguments do not fit it.

    Args:
        name: one of STRATEGIES.
        cpu_replicas: logical CPU replicas (more than 1 only for "mirrored").
        tpu: TPU name or address (only for "tpu"), or None.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {list(STRATEGIES)}. Received: {name!r}")
    if cpu_replicas < 1 or (cpu_replicas > 1 and name != "mirrored"):
        raise ValueError("`cpu_replicas` > 1 needs strategy 'mirrored'. "
                         f"Received: strategy={name!r}, cpu_replicas={cpu_replicas!r}")
    if tpu is not None and name != "tpu":
        raise ValueError(f"`tpu` needs strategy 'tpu'. Received: strategy={name!r}")
