"""Peak allocator memory of one U-Net training step: sweeps along patch, depth and width, and
what each block mode fits in a fixed budget (the paper's claim).

    python -m brats_rev.bench.memory_unet --preset=default --budget_mb=1024 \
        --json_out=runs/bench/memory_unet.json --markdown_out=runs/bench/memory_unet.md \
        --plot_out=runs/bench/memory_unet.png
    python -m brats_rev.bench.memory_unet --preset=tiny --budget_mb=0 --patches=16,32 \
        --blocks=1,2,4                                   # sweeps only

Every point is one full training step in a fresh process with the BFC allocator
(`brats_rev.bench.isolation`); the worst peak over --repeats processes counts. --budget_mb
searches, per mode, the largest patch edge, the most couplings per level and the widest base
width that fit (`brats_rev.bench.unet_sweep`), and the plot shows every point measured.
"""

from absl import flags

from brats_rev import atomic, program
from brats_rev import config as config_lib
from brats_rev.bench import output, unet_sweep

FLAGS = flags.FLAGS

AXES = {"patch": "cubic patch edge (voxels)", "blocks": "couplings per level",
        "width": "base width (channels)"}
# The default search grid of `search_budget` (its `limits`), the flags' defaults.
# The memory budget searched by default (MiB): it keeps a CPU run to minutes.
BUDGET_MB = 1024
SEARCH_LIMITS = {"sweep_patch": 32, "max_edge": 240, "edge_step": 16, "max_blocks": 8,
                 "width_step": 8, "max_width": 128}


def run_sweeps(probe, modes, values_by_axis, sweep_patch, jobs):
    """{axis: {"values", "peak_bytes": {mode: [bytes per value]}}} for each axis of
    `values_by_axis` ({axis: [int]}) with values; "blocks" and "width" at `sweep_patch`^3."""
    sweeps = {}
    for axis, values in values_by_axis.items():
        if values:
            print(f"U-Net ({probe.preset}) sweep over {AXES[axis]}:", flush=True)
            sweeps[axis] = {"values": list(values), "peak_bytes": unet_sweep.sweep(
                probe, modes, axis, values, (sweep_patch,) * 3, jobs)}
    return sweeps


def search_budget(probe, modes, budget_mb, limits, jobs):
    """What each mode fits in `budget_mb` MiB.

    Args:
      probe: a UnetProbe.
      modes: block modes.
      budget_mb: the budget in MiB.
      limits: {"sweep_patch", "max_edge", "edge_step", "max_blocks", "width_step",
        "max_width"}: the search grid (patch edges are multiples of the model's size multiple).
      jobs: searches run side by side.

    Returns:
      {"budget_mb", "found": {mode: {quantity: int|None}}, "ratios": reversible / plain (or
      {}), "largest_tried": {quantity: int}, "capped": {mode: [quantities at the largest
      tried]}}.
    """
    multiple = config_lib.preset(probe.preset).size_multiple
    edges = [e for e in range(limits["edge_step"], limits["max_edge"] + 1, limits["edge_step"])
             if e % multiple == 0]
    widths = list(range(limits["width_step"], limits["max_width"] + 1, limits["width_step"]))
    print(f"Budget search at {budget_mb} MiB:", flush=True)
    found = unet_sweep.budget_search(
        probe, modes, budget_mb * output.MIB, (limits["sweep_patch"],) * 3, edges,
        list(range(1, limits["max_blocks"] + 1)), widths, jobs)
    ratios = unet_sweep.budget_ratios(found) if {"plain", "reversible"} <= set(found) else {}
    largest = {"patch_edge": edges[-1], "blocks": limits["max_blocks"], "base_width": widths[-1]}
    capped = {m: [k for k, v in found[m].items() if v == largest[k]] for m in modes}
    return {"budget_mb": budget_mb, "found": found, "ratios": ratios, "largest_tried": largest,
            "capped": capped}


def _shown_ratio(name, ratio, capped):
    """A ratio's table cell: "≥" when reversible reached the largest tried, "-" when plain
    fits nothing or reached the largest tried itself."""
    quantity = unet_sweep.RATIO_QUANTITIES[name]
    if ratio is None or quantity in capped["plain"]:
        return "- (raise the largest tried)" if ratio else "-"
    return ("≥ " if quantity in capped["reversible"] else "") + f"{ratio:.2f}x"


def markdown(probe, modes, sweeps, budget, sweep_patch):
    """The Markdown tables of `run_sweeps` and `search_budget` (None: no search)."""
    lines = [f"U-Net preset `{probe.preset}`, batch {probe.batch}, one training step; "
             f"worst peak allocator MiB over {probe.repeats} process(es) per point "
             f"(blocks and width at {sweep_patch}^3)."]
    for axis, data in sweeps.items():
        rows = [[value, *(f"{data['peak_bytes'][m][i] / output.MIB:.0f}" for m in modes)]
                for i, value in enumerate(data["values"])]
        lines += ["", output.markdown_table([AXES[axis], *modes], rows)]
    if budget is not None:
        found, capped = budget["found"], budget["capped"]
        rows = [[m, *(f"≥ {found[m][k]} (largest tried)" if k in capped[m] else found[m][k]
                      for k in budget["largest_tried"])]
                for m in modes]
        lines += ["", f"Largest that fits {budget['budget_mb']} MiB:", "",
                  output.markdown_table(["mode", "patch edge", "couplings per level",
                                         "base width"], rows)]
        if budget["ratios"]:
            rows = [[k, _shown_ratio(k, v, capped), f"{unet_sweep.PAPER_RATIOS[k]}x"]
                    for k, v in budget["ratios"].items()]
            lines += ["", output.markdown_table(["reversible / plain", "measured", "paper"],
                                                rows)]
    return "\n".join(lines)


def plot(path, probe, budget_mb, sweep_patch):
    """One panel per axis with every point `probe` measured; the budget as a dashed line."""
    limit = {"limit": (budget_mb, "budget")} if budget_mb else {}
    curves = sorted(unet_sweep.measured_curves(probe.points).items(),
                    key=lambda item: list(AXES).index(item[0]))
    output.plot_panels(path, [
        {"series": {m: (xs, [b / output.MIB for b in ys]) for m, (xs, ys) in by_mode.items()},
         "xlabel": AXES[axis] + ("" if axis == "patch" else f" at {sweep_patch}^3"),
         "ylabel": "worst peak MiB per step", "title": f"{probe.preset} U-Net vs {axis}",
         **limit}
        for axis, by_mode in curves])


def main(argv):
    del argv
    preset = config_lib.preset(FLAGS.preset)
    probe = unet_sweep.UnetProbe(FLAGS.preset, preset.filters, FLAGS.batch, FLAGS.repeats)
    values = {"patch": FLAGS.patches, "blocks": FLAGS.blocks, "width": FLAGS.widths}
    sweeps = run_sweeps(probe, FLAGS.modes, {axis: [int(v) for v in chosen]
                                             for axis, chosen in values.items()},
                        FLAGS.sweep_patch, FLAGS.jobs)
    budget = None
    if FLAGS.budget_mb:
        limits = {name: FLAGS[name].value for name in SEARCH_LIMITS}
        budget = search_budget(probe, FLAGS.modes, FLAGS.budget_mb, limits, FLAGS.jobs)
    text = markdown(probe, FLAGS.modes, sweeps, budget, FLAGS.sweep_patch)
    print(text)
    if FLAGS.markdown_out:
        atomic.write_text(FLAGS.markdown_out, text + "\n")
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {"machine": output.machine_description(),
                                           "sweeps": sweeps, "budget": budget,
                                           "points": probe.points})
    if FLAGS.plot_out:
        plot(FLAGS.plot_out, probe, FLAGS.budget_mb, FLAGS.sweep_patch)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS), "Model preset.")
    flags.DEFINE_list("modes", ["reversible", "plain"], "Block modes to compare.")
    flags.DEFINE_integer("batch", 1, "Batch size.")
    flags.DEFINE_list("patches", [], "Cubic patch edges to sweep (the budget search measures "
                      "and plots its own points).")
    flags.DEFINE_list("blocks", [], "Couplings per level to sweep.")
    flags.DEFINE_list("widths", [], "Base widths to sweep.")
    flags.DEFINE_integer("sweep_patch", SEARCH_LIMITS["sweep_patch"], "Cubic patch edge of "
                         "the blocks and width sweeps and searches.")
    flags.DEFINE_integer("budget_mb", BUDGET_MB, "Memory budget in MiB to search (0: no "
                         "search).")
    flags.DEFINE_integer("max_edge", SEARCH_LIMITS["max_edge"],
                         "Search: largest patch edge tried.")
    flags.DEFINE_integer("edge_step", SEARCH_LIMITS["edge_step"], "Search: patch edge step.")
    flags.DEFINE_integer("max_blocks", SEARCH_LIMITS["max_blocks"],
                         "Search: most couplings per level tried.")
    flags.DEFINE_integer("width_step", SEARCH_LIMITS["width_step"], "Search: base width step.")
    flags.DEFINE_integer("max_width", SEARCH_LIMITS["max_width"],
                         "Search: widest base width tried.")
    flags.DEFINE_integer("repeats", 1, "Fresh processes per point; the worst peak counts.")
    flags.DEFINE_integer("jobs", 2, "Measuring processes run side by side (peaks do not "
                         "depend on it; only the wall time does).")
    flags.DEFINE_string("json_out", None, "Write all points, sweeps and the search as JSON here.")
    flags.DEFINE_string("plot_out", None, "Write a PNG plot of every measured point here.")
    flags.DEFINE_string("markdown_out", None, "Write the Markdown tables here.")


def run():
    """Entry point: `python -m brats_rev.bench.memory_unet`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
