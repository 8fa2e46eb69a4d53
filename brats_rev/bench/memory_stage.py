"""Peak allocator memory of one ReversibleStage training step against its number of couplings,
per block mode.

    python -m brats_rev.bench.memory_stage --num_blocks=1,2,4,8 --repeats=3 \
        --json_out=runs/bench/memory_stage.json --plot_out=runs/bench/memory_stage.png

Each point runs in a fresh process with the BFC allocator (`brats_rev.bench.isolation`). The
table shows the median peak in MiB and, with --repeats > 1, the min-max spread; the summary
ratios use the worst case (largest peak). Peak bytes include the resident weights, optimizer
slots and input.
"""

from absl import flags

from brats_rev import atomic, program
from brats_rev.bench import isolation, output
from brats_rev.layers.reversible import MODES

FLAGS = flags.FLAGS


def stage_specs(modes, block_counts, shape, filters, expand_ratio, jit_compile):
    """Workload specs (`brats_rev.bench.probe`) for every (mode, num_blocks); `shape` is
    (batch, depth, height, width) in voxels."""
    return [
        {"what": "stage", "mode": mode, "num_blocks": blocks, "shape": list(shape),
         "filters": filters, "expand_ratio": expand_ratio, "jit_compile": jit_compile}
        for mode in modes
        for blocks in block_counts
    ]


def measure_all(specs, repeats, runner=isolation.run_in_fresh_process):
    """{(mode, num_blocks): [peak bytes per repeat]}, each measured by `runner(spec)`.

    Repeats are interleaved (all points once, then again) so a drifting machine affects every
    point alike.
    """
    peaks = {}
    for _ in range(repeats):
        for spec in specs:
            result = runner(spec)
            key = (spec["mode"], spec["num_blocks"])
            peaks.setdefault(key, []).append(result["peak_bytes"])
            print(f"  {spec['mode']:>10} x{spec['num_blocks']}: "
                  f"{result['peak_bytes'] / output.MIB:8.1f} MiB", flush=True)
    return peaks


def summarise(peaks, modes, block_counts):
    """Growth of each mode from fewest to most blocks, and reversible/other at most blocks.

    Computed on the worst case (largest peak over repeats): a step fits a memory budget only
    if its worst schedule does. The executor's order of independent ops moves one point's
    peak between processes; the table shows that spread.
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


def main(argv):
    del argv
    block_counts = sorted(int(n) for n in FLAGS.num_blocks)
    shape = [FLAGS.batch, *(int(n) for n in FLAGS.shape)]
    specs = stage_specs(FLAGS.modes, block_counts, shape, FLAGS.filters, FLAGS.expand_ratio,
                        FLAGS.jit_compile)
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
        atomic.write_json(FLAGS.json_out, {
            "machine": output.machine_description(), "specs": specs,
            "peak_bytes": {f"{m}/{b}": v for (m, b), v in peaks.items()}, "summary": summary})
    if FLAGS.plot_out:
        series = {mode: (block_counts, [max(peaks[(mode, b)]) / output.MIB for b in block_counts])
                  for mode in FLAGS.modes}
        output.plot_panels(FLAGS.plot_out, [{
            "series": series, "xlabel": "blocks (couplings) per stage",
            "ylabel": "worst-case peak MiB per step",
            "title": f"ReversibleStage {shape[1:]}x{FLAGS.filters}, one training step",
        }])


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_list("modes", list(MODES), "Block modes to compare.")
    flags.DEFINE_list("num_blocks", ["1", "2", "4", "8"], "Couplings per stage.")
    flags.DEFINE_list("shape", ["48", "48", "48"], "Input depth, height, width (voxels).")
    flags.DEFINE_integer("batch", 1, "Batch size.")
    flags.DEFINE_integer("filters", 32, "Channels.")
    flags.DEFINE_float("expand_ratio", 4, "MBConv expansion.")
    flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_integer("repeats", 1, "Fresh processes per point (median and spread shown).")
    flags.DEFINE_string("json_out", None, "Write all points and the summary as JSON here.")
    flags.DEFINE_string("plot_out", None, "Write a PNG plot of the worst peak MiB here.")


def run():
    """Entry point: `python -m brats_rev.bench.memory_stage`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
