"""Peak allocator memory of one training step, per block mode.

    python -m brats_rev.bench.memory --what=stage --num_blocks=1,2,4,8 \
        --json_out=runs/memory_stage.json --plot_out=runs/memory_stage.png
    python -m brats_rev.bench.memory --what=unet \
        --json_out=runs/memory_unet.json --markdown_out=runs/memory_unet.md \
        --plot_out=runs/memory_unet.png
    python -m brats_rev.bench.memory --what=volume --modes=reversible,plain

Each point runs in a fresh process with the BFC allocator (`brats_rev.bench.isolation`).
Stage tables show the median peak in MiB and, with --repeats > 1, the min-max spread; the
summary ratios use the worst case (largest peak). Peak bytes include the resident weights,
optimizer slots and input. --what=unet searches what each mode fits in --budget_mb (the
largest patch edge, the most couplings per level, the widest base width) and plots every
point it measured; --patches, --blocks and --widths add sweeps (`brats_rev.bench.unet_sweep`).
--what=volume measures one step on the whole BraTS volume (`brats_rev.bench.volume`).
"""

from absl import app, flags

from brats_rev import atomic
from brats_rev import config as config_lib
from brats_rev.bench import isolation, output, unet_sweep, volume
from brats_rev.layers.reversible import MODES

FLAGS = flags.FLAGS
flags.DEFINE_enum("what", "stage", ["stage", "unet", "volume"], "Workload to measure: a "
                  "ReversibleStage, U-Net sweeps and budget search, or whole-volume steps.")
flags.DEFINE_list("modes", None, "Block modes to compare (default: all three for "
                  "--what=stage, reversible and plain otherwise).")
flags.DEFINE_list("num_blocks", ["1", "2", "4", "8"], "Stage: couplings per stage.")
flags.DEFINE_list("shape", ["48", "48", "48"], "Stage: input depth, height, width (voxels).")
flags.DEFINE_integer("batch", 1, "Batch size.")
flags.DEFINE_integer("filters", 32, "Stage: channels.")
flags.DEFINE_float("expand_ratio", 4, "Stage: MBConv expansion.")
flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS), "U-Net: model preset.")
flags.DEFINE_list("patches", [], "U-Net: cubic patch edges to sweep (the budget search "
                  "measures and plots its own points).")
flags.DEFINE_list("blocks", [], "U-Net: couplings per level to sweep.")
flags.DEFINE_list("widths", [], "U-Net: base widths to sweep.")
flags.DEFINE_integer("sweep_patch", 32, "U-Net: cubic patch edge of the blocks/width sweeps "
                     "and searches.")
flags.DEFINE_integer("budget_mb", 1024, "U-Net: memory budget in MiB to search (0: no "
                     "search). The default keeps a CPU run to minutes.")
flags.DEFINE_integer("max_edge", 240, "U-Net search: largest patch edge tried.")
flags.DEFINE_integer("edge_step", 16, "U-Net search: patch edge step.")
flags.DEFINE_integer("max_blocks", 8, "U-Net search: most couplings per level tried.")
flags.DEFINE_integer("width_step", 8, "U-Net search: base width step.")
flags.DEFINE_integer("max_width", 128, "U-Net search: widest base width tried.")
flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
flags.DEFINE_integer("repeats", 1, "Fresh processes per point (stage: median and spread "
                     "reported; U-Net: the worst peak counts).")
flags.DEFINE_list("volume_shape", ["240", "240", "160"], "Volume: the whole volume (BraTS "
                  "240x240x155 padded to a multiple of 16).")
flags.DEFINE_list("dtypes", ["float32", "mixed_float16"], "Volume: dtype policies.")
flags.DEFINE_list("fractions", ["0.2", "0.3", "0.4", "0.6", "1.0"], "Volume: edge fractions "
                  "measured, ascending.")
flags.DEFINE_float("max_gb", 20.0, "Volume: points predicted above this many GiB are "
                   "extrapolated, not run (keep it below the machine's free memory).")
flags.DEFINE_integer("jobs", 2, "U-Net: measuring processes run side by side (peaks do not "
                     "depend on it; only the wall time does).")
flags.DEFINE_string("json_out", None, "Write all points and the summary as JSON here.")
flags.DEFINE_string("plot_out", None, "Write a PNG plot of peak MiB here.")
flags.DEFINE_string("markdown_out", None, "U-Net: write the Markdown tables here.")


def stage_specs(modes, block_counts, shape, filters, expand_ratio, jit_compile):
    """Workload specs for every (mode, num_blocks)."""
    return [
        {
            "what": "stage",
            "mode": mode,
            "num_blocks": blocks,
            "shape": list(shape),
            "filters": filters,
            "expand_ratio": expand_ratio,
            "jit_compile": jit_compile,
        }
        for mode in modes
        for blocks in block_counts
    ]


def measure_all(specs, repeats):
    """{(mode, num_blocks): [peak bytes per repeat]} measured in fresh processes.

    Repeats are interleaved (all points once, then again) so a drifting machine affects every
    point alike.
    """
    peaks = {}
    for _ in range(repeats):
        for spec in specs:
            result = isolation.run_in_fresh_process(spec)
            key = (spec["mode"], spec["num_blocks"])
            peaks.setdefault(key, []).append(result["peak_bytes"])
            print(f"  {spec['mode']:>10} x{spec['num_blocks']}: "
                  f"{result['peak_bytes'] / output.MIB:8.1f} MiB", flush=True)
    return peaks


def summarise(peaks, modes, block_counts):
    """Growth of each mode from fewest to most blocks, and reversible/other at most blocks.

    Computed on the worst case (largest peak over repeats): a step fits a memory budget only
    if its worst schedule does. The executor's order of independent ops moves one point's
    peak by up to ~10% between processes; the table shows that spread.
    """
    first, last = min(block_counts), max(block_counts)
    worst = {key: max(values) for key, values in peaks.items()}
    summary = {
        f"{mode}_growth_{first}_to_{last}": worst[(mode, last)] / worst[(mode, first)]
        for mode in modes
    }
    if "reversible" in modes:
        for other in modes:
            if other != "reversible":
                summary[f"reversible_over_{other}_at_{last}"] = (
                    worst[("reversible", last)] / worst[(other, last)]
                )
    return summary


def stage_main():
    """--what=stage: the ReversibleStage block-count sweep."""
    block_counts = sorted(int(n) for n in FLAGS.num_blocks)
    shape = [FLAGS.batch, *(int(n) for n in FLAGS.shape)]
    specs = stage_specs(
        FLAGS.modes, block_counts, shape, FLAGS.filters, FLAGS.expand_ratio, FLAGS.jit_compile
    )
    print(f"ReversibleStage training step, input {shape + [FLAGS.filters]}, expand "
          f"{FLAGS.expand_ratio}, jit_compile={FLAGS.jit_compile}; peak allocator MiB:")
    peaks = measure_all(specs, FLAGS.repeats)
    rows = [
        [blocks, *(output.format_spread(peaks[(m, blocks)], output.MIB, 1) for m in FLAGS.modes)]
        for blocks in block_counts
    ]
    print(output.markdown_table(["blocks", *FLAGS.modes], rows))
    summary = summarise(peaks, FLAGS.modes, block_counts)
    for name, value in summary.items():
        print(f"{name}: {value:.3f}")
    if FLAGS.json_out:
        atomic.write_json(
            FLAGS.json_out,
            {
                "machine": output.machine_description(),
                "specs": specs,
                "peak_bytes": {f"{m}/{b}": v for (m, b), v in peaks.items()},
                "summary": summary,
            },
        )
    if FLAGS.plot_out:
        series = {
            mode: (
                block_counts,
                [max(peaks[(mode, b)]) / output.MIB for b in block_counts],
            )
            for mode in FLAGS.modes
        }
        output.plot_panels(FLAGS.plot_out, [{
            "series": series, "xlabel": "blocks (couplings) per stage",
            "ylabel": "worst-case peak MiB per step",
            "title": f"ReversibleStage {shape[1:]}x{FLAGS.filters}, one training step",
        }])


AXES = {"patch": "cubic patch edge (voxels)", "blocks": "couplings per level",
        "width": "base width (channels)"}


def unet_main():
    """--what=unet: sweeps along patch, blocks and width, then the budget search."""
    preset = config_lib.preset(FLAGS.preset)
    probe = unet_sweep.UnetProbe(FLAGS.preset, preset.filters, FLAGS.batch, FLAGS.repeats)
    fixed = (FLAGS.sweep_patch,) * 3
    sweeps = {}
    for axis, values in (("patch", FLAGS.patches), ("blocks", FLAGS.blocks),
                         ("width", FLAGS.widths)):
        values = [int(v) for v in values]
        if not values:
            continue
        print(f"U-Net ({FLAGS.preset}) sweep over {AXES[axis]}:", flush=True)
        sweeps[axis] = {"values": values,
                        "peak_bytes": unet_sweep.sweep(probe, FLAGS.modes, axis, values, fixed,
                                                       FLAGS.jobs)}
    markdown = [f"U-Net preset `{FLAGS.preset}`, batch {FLAGS.batch}, one training step; "
                f"worst peak allocator MiB over {FLAGS.repeats} process(es) per point "
                f"(blocks and width at {FLAGS.sweep_patch}^3)."]
    for axis, data in sweeps.items():
        rows = [[value, *(f"{data['peak_bytes'][m][i] / output.MIB:.0f}" for m in FLAGS.modes)]
                for i, value in enumerate(data["values"])]
        markdown += ["", output.markdown_table([AXES[axis], *FLAGS.modes], rows)]
    budget = None
    if FLAGS.budget_mb:
        edges = [e for e in range(FLAGS.edge_step, FLAGS.max_edge + 1, FLAGS.edge_step)
                 if e % preset.size_multiple == 0]
        widths = list(range(FLAGS.width_step, FLAGS.max_width + 1, FLAGS.width_step))
        print(f"Budget search at {FLAGS.budget_mb} MiB:", flush=True)
        found = unet_sweep.budget_search(
            probe, FLAGS.modes, FLAGS.budget_mb * output.MIB, fixed, edges,
            list(range(1, FLAGS.max_blocks + 1)), widths, FLAGS.jobs)
        ratios = unet_sweep.budget_ratios(found) if {"plain", "reversible"} <= set(found) else {}
        largest = {"patch_edge": edges[-1], "blocks": FLAGS.max_blocks, "base_width": widths[-1]}
        capped = {m: [k for k, v in found[m].items() if v == largest[k]] for m in FLAGS.modes}
        budget = {"budget_mb": FLAGS.budget_mb, "found": found, "ratios": ratios,
                  "largest_tried": largest, "capped": capped}
        rows = [[m, *(f"≥ {found[m][k]} (largest tried)" if k in capped[m] else found[m][k]
                      for k in largest)]
                for m in FLAGS.modes]
        markdown += ["", f"Largest that fits {FLAGS.budget_mb} MiB:", "",
                     output.markdown_table(["mode", "patch edge", "couplings per level",
                                            "base width"], rows)]
        if ratios:
            def shown(name, ratio):
                quantity = unet_sweep.RATIO_QUANTITIES[name]
                if ratio is None or quantity in capped["plain"]:
                    return "- (raise the largest tried)" if ratio else "-"
                return ("≥ " if quantity in capped["reversible"] else "") + f"{ratio:.2f}x"

            rows = [[k, shown(k, v), f"{unet_sweep.PAPER_RATIOS[k]}x"] for k, v in ratios.items()]
            markdown += ["", output.markdown_table(["reversible / plain", "measured", "paper"],
                                                   rows)]
    text = "\n".join(markdown)
    print(text)
    if FLAGS.markdown_out:
        atomic.write_text(FLAGS.markdown_out, text + "\n")
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {"machine": output.machine_description(),
                                           "sweeps": sweeps, "budget": budget,
                                           "points": probe.points})
    if FLAGS.plot_out:
        limit = {"limit": (FLAGS.budget_mb, "budget")} if FLAGS.budget_mb else {}
        output.plot_panels(FLAGS.plot_out, [
            {"series": {m: (xs, [b / output.MIB for b in ys]) for m, (xs, ys) in curves.items()},
             "xlabel": AXES[axis] + ("" if axis == "patch" else f" at {FLAGS.sweep_patch}^3"),
             "ylabel": "worst peak MiB per step", "title": f"{FLAGS.preset} U-Net vs {axis}",
             **limit}
            for axis, curves in sorted(unet_sweep.measured_curves(probe.points).items(),
                                       key=lambda item: list(AXES).index(item[0]))
        ])


def _printing_runner(spec):
    """Runs `spec` in a fresh process and prints its peak as soon as it is known."""
    result = isolation.run_in_fresh_process(spec)
    print(f"  {'x'.join(map(str, spec['patch']))}: {result['peak_bytes'] / output.GIB:.2f} GiB",
          flush=True)
    return result


def _volume_peak(point):
    """Table cell of a volume point: measured GiB, extrapolated GiB, or why it failed."""
    peak = "-" if point["peak_bytes"] is None else f"{point['peak_bytes'] / output.GIB:.2f}"
    if point["measured"]:
        return peak
    if "failed" in point:
        return f"failed ({point['failed'][:80]}); predicted {peak}"
    return f"({peak} extrapolated)"


def volume_main():
    """--what=volume: one training step on the whole volume, per mode and dtype."""
    preset = config_lib.preset(FLAGS.preset)
    shape = tuple(int(n) for n in FLAGS.volume_shape)
    fractions = sorted(float(f) for f in FLAGS.fractions)
    results = {}
    rows = []
    for mode in FLAGS.modes:
        for dtype in FLAGS.dtypes:
            print(f"U-Net ({FLAGS.preset}) {mode} {dtype}:", flush=True)
            points = volume.volume_points(
                _printing_runner, FLAGS.preset, mode, dtype, shape, fractions,
                preset.size_multiple, FLAGS.max_gb * output.GIB)
            results[f"{mode}/{dtype}"] = points
            rows += [[mode, dtype, "x".join(map(str, point["shape"])), _volume_peak(point)]
                     for point in points]
    text = (f"U-Net preset `{FLAGS.preset}`, batch 1, one training step; peak allocator GiB "
            "(extrapolated points: least-squares line through the measured ones, not run):\n\n"
            + output.markdown_table(["mode", "dtype", "volume", "peak GiB"], rows))
    print(text)
    if FLAGS.markdown_out:
        atomic.write_text(FLAGS.markdown_out, text + "\n")
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {"machine": output.machine_description(),
                                           "volume_shape": list(shape), "points": results})


def main(argv):
    del argv
    if FLAGS.modes is None:
        FLAGS.modes = list(MODES) if FLAGS.what == "stage" else ["reversible", "plain"]
    {"stage": stage_main, "unet": unet_main, "volume": volume_main}[FLAGS.what]()


if __name__ == "__main__":
    app.run(main)
