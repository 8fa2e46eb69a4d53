"""Peak allocator memory of one U-Net training step on the whole BraTS volume, per block mode
and dtype policy.

    python -m brats_rev.bench.memory_volume --preset=default --modes=reversible,plain \
        --json_out=runs/bench/memory_volume.json --markdown_out=runs/bench/memory_volume.md

Each (mode, dtype) is measured at growing fractions of the volume's edges, each point in a
fresh process with the BFC allocator; points predicted above --max_gb are extrapolated, not
run (`brats_rev.bench.volume`).
"""

from absl import flags

from brats_rev import atomic, program
from brats_rev import config as config_lib
from brats_rev.bench import isolation, output, volume

FLAGS = flags.FLAGS


def _printing_runner(spec):
    """Runs `spec` in a fresh process and prints its peak as soon as it is known."""
    result = isolation.run_in_fresh_process(spec)
    print(f"  {'x'.join(map(str, spec['patch']))}: {result['peak_bytes'] / output.GIB:.2f} GiB",
          flush=True)
    return result


def peak_cell(point):
    """Table cell of a volume point: measured GiB, extrapolated GiB, or why it failed."""
    peak = "-" if point["peak_bytes"] is None else f"{point['peak_bytes'] / output.GIB:.2f}"
    if point["measured"]:
        return peak
    if "failed" in point:
        return f"failed ({point['failed'][:80]}); predicted {peak}"
    return f"({peak} extrapolated)"


def measure(runner, preset_name, modes, dtypes, shape, fractions, max_bytes):
    """{"mode/dtype": `volume.volume_points`} for each of `modes` x `dtypes`: peaks at the
    edge `fractions` of `shape` (D, H, W), points predicted above `max_bytes` extrapolated."""
    multiple = config_lib.preset(preset_name).size_multiple
    results = {}
    for mode in modes:
        for dtype in dtypes:
            print(f"U-Net ({preset_name}) {mode} {dtype}:", flush=True)
            results[f"{mode}/{dtype}"] = volume.volume_points(
                runner, preset_name, mode, dtype, shape, sorted(fractions), multiple, max_bytes)
    return results


def markdown(preset_name, results):
    """The Markdown table of `measure`'s `results`: peak GiB per mode, dtype and volume."""
    rows = [[*key.split("/"), "x".join(map(str, point["shape"])), peak_cell(point)]
            for key, points in results.items() for point in points]
    return (f"U-Net preset `{preset_name}`, batch 1, one training step; peak allocator GiB "
            "(extrapolated points: least-squares line through the measured ones, not run):\n\n"
            + output.markdown_table(["mode", "dtype", "volume", "peak GiB"], rows))


def main(argv):
    del argv
    shape = tuple(int(n) for n in FLAGS.volume_shape)
    results = measure(_printing_runner, FLAGS.preset, FLAGS.modes, FLAGS.dtypes, shape,
                      [float(f) for f in FLAGS.fractions], FLAGS.max_gb * output.GIB)
    text = markdown(FLAGS.preset, results)
    print(text)
    if FLAGS.markdown_out:
        atomic.write_text(FLAGS.markdown_out, text + "\n")
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {"machine": output.machine_description(),
                                           "volume_shape": list(shape), "points": results})


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS), "Model preset.")
    flags.DEFINE_list("modes", ["reversible", "plain"], "Block modes to compare.")
    flags.DEFINE_list("volume_shape", ["240", "240", "160"], "The whole volume (BraTS "
                      "240x240x155 padded to a multiple of 16).")
    flags.DEFINE_list("dtypes", ["float32", "mixed_float16"], "Dtype policies.")
    flags.DEFINE_list("fractions", ["0.2", "0.3", "0.4", "0.6", "1.0"], "Edge fractions "
                      "measured, ascending.")
    flags.DEFINE_float("max_gb", 20.0, "Points predicted above this many GiB are "
                       "extrapolated, not run (keep it below the machine's free memory).")
    flags.DEFINE_string("json_out", None, "Write all points as JSON here.")
    flags.DEFINE_string("markdown_out", None, "Write the Markdown table here.")


def run():
    """Entry point: `python -m brats_rev.bench.memory_volume`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
