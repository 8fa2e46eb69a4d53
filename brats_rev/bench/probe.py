"""Child process of the memory benchmark: measures one point and prints its result as JSON.

Run through `brats_rev.bench.isolation.run_in_fresh_process`, which sets the BFC allocator
environment. The spec (JSON) names the workload:
    {"what": "stage", "mode": ..., "num_blocks": ..., "shape": [b, d, h, w], "filters": ...,
     "expand_ratio": ..., "jit_compile": false}
    {"what": "unet", "preset": ..., "changes": {ModelConfig overrides}, "patch": [d, h, w],
     "batch": 1, "jit_compile": false}
Peak bytes are those of one full training step, measured after a warm-up step (which traces
the function and creates optimizer slots) and a reset of the peak counter.
"""

import json
import os
import time

import tensorflow as tf
from absl import flags

from brats_rev import program
from brats_rev.bench import isolation, workloads

FLAGS = flags.FLAGS


def memory_device():
    """"GPU:0" when a GPU is visible, else "CPU:0" (which needs the BFC allocator)."""
    if tf.config.list_physical_devices("GPU"):
        return "GPU:0"
    if os.environ.get(isolation.BFC_VARIABLE, "").lower() != "true":
        raise RuntimeError(
            f"CPU memory is only measurable with {isolation.BFC_VARIABLE}=true set before "
            "TensorFlow starts; run through brats_rev.bench.isolation."
        )
    return "CPU:0"


def build_workload(spec):
    """(step, inputs) for `spec`."""
    if spec["what"] == "stage":
        return workloads.stage_workload(
            spec["mode"],
            spec["num_blocks"],
            tuple(spec["shape"]),
            spec["filters"],
            expand_ratio=spec.get("expand_ratio", 4),
            jit_compile=spec.get("jit_compile", False),
        )
    if spec["what"] == "unet":
        return workloads.unet_workload(
            spec["preset"],
            spec.get("changes", {}),
            tuple(spec["patch"]),
            batch=spec.get("batch", 1),
            jit_compile=spec.get("jit_compile", False),
        )
    raise ValueError(
        f"Unknown workload. Received: what={spec['what']!r}; allowed: ['stage', 'unet']"
    )


def measure(spec):
    """Peak and baseline allocator bytes of one training step of `spec`."""
    # One inter-op thread: the executor's schedule, and so the peak, is then reproducible.
    tf.config.threading.set_inter_op_parallelism_threads(1)
    device = memory_device()
    step, inputs = build_workload(spec)
    float(step(inputs))
    tf.config.experimental.reset_memory_stats(device)
    baseline = tf.config.experimental.get_memory_info(device)["current"]
    start = time.perf_counter()
    loss = float(step(inputs))
    seconds = time.perf_counter() - start
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return {
        "spec": spec,
        "device": device,
        "peak_bytes": int(peak),
        "baseline_bytes": int(baseline),
        "loss": loss,
        "step_seconds": seconds,
    }


def main(argv):
    del argv
    result = measure(json.loads(FLAGS.spec))
    print(isolation.RESULT_PREFIX + json.dumps(result), flush=True)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("spec", None, "JSON workload specification.", required=True)


def run():
    """Entry point: `python -m brats_rev.bench.probe`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
