"""The GPU tables in one command: reversible vs plain on a GPU.

    pip install -e . "tensorflow[and-cuda]~=2.21.0"      # Linux, NVIDIA driver installed
    python -m brats_rev.bench.gpu      # writes runs/bench/gpu.md and runs/bench/gpu.json

Four tables, each from the benchmark named, on GPU:0:
  * whole-volume training step, peak memory per mode and dtype (`memory_volume.measure`);
  * what each mode fits in --budget_mb MiB and the ratios to plain
    (`memory_unet.search_budget`, the search grid `memory_unet.SEARCH_LIMITS`);
  * U-Net training step time per mode (`speed.unet_variants`);
  * DepthwiseConv3D forward+backward, grouped (cuDNN) vs decomposed (`speed.depthwise_variants`).
Memory points run first, one at a time, each in a fresh process whose probe reads
`tf.config.experimental.get_memory_info("GPU:0")` (`brats_rev.bench.probe`); this process does
not touch the GPU until they are done (a TensorFlow process reserves most of the GPU's memory
when it first uses it). The timings then run here, round-robin. A point that runs out of GPU
memory is reported as failed and the larger ones extrapolated; the report names the GPU
(`tf.config.experimental.get_device_details`) and the equivalent command of each table.

Without a visible GPU it prints one line on stderr, naming the device it looked for, writes
nothing and exits with NO_GPU_EXIT_CODE. The report and JSON are written atomically at the end:
a run that is killed or fails leaves no report behind.
"""

import sys

import tensorflow as tf
from absl import flags

from brats_rev import atomic, program
from brats_rev import config as config_lib
from brats_rev.bench import isolation, memory_unet, memory_volume, output, speed, unet_sweep

FLAGS = flags.FLAGS

DEVICE = "GPU:0"
# The exit status when no GPU is visible (a usage mistake is program.USAGE_EXIT_CODE).
NO_GPU_EXIT_CODE = 3
MODES = ("reversible", "plain")


def device_details(device):
    """`tf.config.experimental.get_device_details` of `device` ("GPU:0"): for a GPU
    {"device_name", "compute_capability"}; {} for a CPU."""
    kind, index = device.split(":")
    return tf.config.experimental.get_device_details(
        tf.config.list_physical_devices(kind)[int(index)])


def commands(settings):
    """The command of each benchmark that gives the same table as `build_report(settings)`."""
    preset, shape = settings["preset"], settings["volume_shape"]
    joined = ",".join
    limits = " ".join(f"--{name}={value}" for name, value in settings["limits"].items())
    timing = f"--warmup={settings['warmup']} --repeats={settings['repeats']}"
    return [
        f"python -m brats_rev.bench.memory_volume --preset={preset} --modes={joined(MODES)} "
        f"--volume_shape={joined(map(str, shape))} --dtypes={joined(settings['dtypes'])} "
        f"--fractions={joined(map(str, settings['fractions']))} --max_gb={settings['max_gb']}",
        f"python -m brats_rev.bench.memory_unet --preset={preset} --modes={joined(MODES)} "
        f"--budget_mb={settings['budget_mb']} {limits} --jobs=1",
        f"python -m brats_rev.bench.speed --what=unet --preset={preset} "
        f"--shape={joined(map(str, settings['time_shape']))} {timing}",
        f"python -m brats_rev.bench.speed --what=depthwise "
        f"--shape={joined(map(str, settings['depthwise_shape']))} "
        f"--channels={settings['depthwise_channels']} {timing}",
    ]


def build_report(settings, device=DEVICE, runner=isolation.run_in_fresh_process):
    """Measures the four tables (module docstring) and returns (Markdown text, JSON payload).

    Args:
        settings: {"preset", "volume_shape" (D, H, W), "fractions", "dtypes", "max_gb",
            "budget_mb", "limits" (`memory_unet.search_budget`'s), "time_shape" (D, H, W),
            "depthwise_shape" (D, H, W), "depthwise_channels", "warmup", "repeats"}.
        device: where the timings run ("GPU:0"; the tests pass "CPU:0").
        runner: callable(spec) -> probe result with "peak_bytes", one memory point.

    Returns:
        (text, payload); payload has "machine", "device", "device_details", "commands",
        "settings", "volume", "budget", "budget_points", "unet_step_seconds",
        "unet_median_seconds", "depthwise_seconds", "depthwise_median_seconds".
    """
    preset = settings["preset"]
    details = device_details(device)
    machine = output.machine_description()
    run_commands = commands(settings)
    print(f"Device {device}: {details.get('device_name', 'no name')}; "
          f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}", flush=True)
    print("Tables as these commands give them:\n" + "\n".join(run_commands), flush=True)

    volume = memory_volume.measure(
        runner, preset, MODES, settings["dtypes"], tuple(settings["volume_shape"]),
        settings["fractions"], settings["max_gb"] * output.GIB)
    probe = unet_sweep.UnetProbe(preset, config_lib.preset(preset).filters, runner=runner)
    budget = memory_unet.search_budget(probe, MODES, settings["budget_mb"],
                                       settings["limits"], jobs=1)
    with tf.device(device):
        unet_times = speed.time_round_robin(
            speed.unet_variants(preset, settings["time_shape"]), settings["warmup"],
            settings["repeats"])
        depthwise_times = speed.time_round_robin(
            speed.depthwise_variants(settings["depthwise_shape"],
                                     settings["depthwise_channels"]),
            settings["warmup"], settings["repeats"])
    unet_medians, unet_table = speed.summarise(unet_times, "plain")
    depthwise_medians, depthwise_table = speed.summarise(depthwise_times, "grouped")

    compute = details.get("compute_capability")
    text = "\n".join([
        "# GPU benchmarks", "",
        f"Device {device}: {details.get('device_name', 'no name')}"
        + (f" (compute capability {'.'.join(map(str, compute))})" if compute else "")
        + f"; CPU {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, "
        f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}.", "",
        "Each table is the one this command gives:", "", "```bash", *run_commands, "```", "",
        "## Whole-volume training step", "", memory_volume.markdown(preset, volume), "",
        "## Fixed budget", "",
        memory_unet.markdown(probe, MODES, {}, budget, settings["limits"]["sweep_patch"]), "",
        "## Training step time", "",
        f"U-Net ({preset}) training step, input 1x{'x'.join(map(str, settings['time_shape']))}"
        f"x{config_lib.preset(preset).in_channels}, median of {settings['repeats']}:", "",
        unet_table, "",
        "## DepthwiseConv3D: grouped vs decomposed", "",
        f"Forward + backward, 1x{'x'.join(map(str, settings['depthwise_shape']))}"
        f"x{settings['depthwise_channels']}, 3x3x3, median of {settings['repeats']}:", "",
        depthwise_table,
    ])
    payload = {
        "machine": machine, "device": device, "device_details": details,
        "commands": run_commands, "settings": settings, "volume": volume, "budget": budget,
        "budget_points": probe.points, "unet_step_seconds": unet_times,
        "unet_median_seconds": unet_medians, "depthwise_seconds": depthwise_times,
        "depthwise_median_seconds": depthwise_medians,
    }
    return text, payload


def main(argv):
    del argv
    if not tf.config.list_physical_devices("GPU"):
        print(f"error: no GPU visible to TensorFlow (looked for {DEVICE}); nothing measured",
              file=sys.stderr)
        return NO_GPU_EXIT_CODE
    settings = {
        "preset": FLAGS.preset,
        "volume_shape": [int(n) for n in FLAGS.volume_shape],
        "fractions": [float(f) for f in FLAGS.fractions],
        "dtypes": FLAGS.dtypes,
        "max_gb": FLAGS.max_gb,
        "budget_mb": FLAGS.budget_mb,
        "limits": dict(memory_unet.SEARCH_LIMITS),
        "time_shape": [int(n) for n in FLAGS.time_shape],
        "depthwise_shape": [int(n) for n in FLAGS.depthwise_shape],
        "depthwise_channels": FLAGS.depthwise_channels,
        "warmup": FLAGS.warmup,
        "repeats": FLAGS.repeats,
    }
    text, payload = build_report(settings)
    print(text)
    atomic.write_text(FLAGS.markdown_out, text + "\n")
    atomic.write_json(FLAGS.json_out, payload)
    return 0


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS), "Model preset.")
    flags.DEFINE_list("volume_shape", ["240", "240", "160"], "Whole-volume table: the volume.")
    flags.DEFINE_list("fractions", ["0.2", "0.3", "0.4", "0.6", "1.0"], "Whole-volume table: "
                      "edge fractions measured.")
    flags.DEFINE_list("dtypes", ["float32", "mixed_float16"], "Whole-volume table: dtype "
                      "policies.")
    flags.DEFINE_float("max_gb", 80.0, "Whole-volume table: points predicted above this many "
                       "GiB are extrapolated, not run (a point that runs out of GPU memory is "
                       "reported as failed either way).")
    flags.DEFINE_integer("budget_mb", memory_unet.BUDGET_MB, "Fixed-budget table: the budget "
                         "in MiB (the CPU tables' default, for comparison).")
    flags.DEFINE_list("time_shape", [str(n) for n in speed.SHAPE], "Step-time table: the patch.")
    flags.DEFINE_list("depthwise_shape", [str(n) for n in speed.SHAPE],
                      "DepthwiseConv3D table: the input's depth, height, width.")
    flags.DEFINE_integer("depthwise_channels", speed.CHANNELS,
                         "DepthwiseConv3D table: input channels.")
    flags.DEFINE_integer("warmup", speed.WARMUP, "Timings: untimed calls per variant.")
    flags.DEFINE_integer("repeats", speed.REPEATS, "Timings: timed calls per variant.")
    flags.DEFINE_string("markdown_out", "runs/bench/gpu.md", "Write the report here.")
    flags.DEFINE_string("json_out", "runs/bench/gpu.json", "Write every point and timing as "
                        "JSON here.")


def run():
    """Entry point: `python -m brats_rev.bench.gpu`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
