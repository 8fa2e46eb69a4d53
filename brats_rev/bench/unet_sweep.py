"""U-Net memory sweeps and the fixed-budget search (the paper's claim).

Every point is one full training step of the U-Net (loss on every output, backward, Adam
update) measured in a fresh process (`brats_rev.bench.isolation`).

Three ways to spend memory, as in Pendse et al.:
  * voxels: the largest cubic patch edge (step 16 by default);
  * depth: the most couplings per level (encoder and decoder levels alike);
  * width: the widest base width, every level's channels scaled with it (step 8).
"""

from concurrent.futures import ThreadPoolExecutor

from brats_rev.bench import isolation
from brats_rev.bench.search import largest_fitting

PAPER_RATIOS = {"voxels": 3.0, "depth": 1.25, "width": 2.0}
# Which searched quantity each ratio compares (voxels: the cube of the patch edge ratio).
RATIO_QUANTITIES = {"voxels": "patch_edge", "depth": "blocks", "width": "base_width"}


def scaled_filters(filters, base):
    """`filters` rescaled so that the first level has `base` channels (even, at least 2)."""
    return tuple(max(2, 2 * round(f * base / filters[0] / 2)) for f in filters)


class UnetProbe:
    """Measures U-Net training steps of one preset, remembering every point it ran.

    Args:
        preset: a `brats_rev.config.EXPERIMENTS` name.
        base_filters: that preset's `filters` (for width scaling).
        batch: batch size of every step.
        repeats: fresh processes per point; the worst (largest) peak counts, since the
            executor's order of independent ops moves a U-Net's peak between processes.
        runner: callable(spec) -> result dict (default: a fresh process per point).
    """

    def __init__(self, preset, base_filters, batch=1, repeats=1,
                 runner=isolation.run_in_fresh_process):
        self.preset = preset
        self.base_filters = tuple(base_filters)
        self.batch = batch
        self.repeats = repeats
        self.runner = runner
        self.points = []

    def peak_bytes(self, mode, patch, blocks=None, base_width=None):
        """Worst peak bytes of one step over `repeats` processes; `blocks` sets encoder and
        decoder couplings per level, `base_width` rescales the widths (None keeps the
        preset's)."""
        changes = {"block_mode": mode}
        if blocks is not None:
            changes.update(encoder_blocks=blocks, decoder_blocks=blocks)
        if base_width is not None:
            changes["filters"] = list(scaled_filters(self.base_filters, base_width))
        spec = {"what": "unet", "preset": self.preset, "changes": changes,
                "patch": list(patch), "batch": self.batch}
        peaks = []
        for _ in range(self.repeats):
            result = self.runner(spec)
            self.points.append(result)
            peaks.append(result["peak_bytes"])
        print(f"  {mode:>10} patch {'x'.join(map(str, patch))} blocks {blocks or '-'} "
              f"width {base_width or '-'}: {max(peaks) / 2**20:8.1f} MiB", flush=True)
        return max(peaks)


def _run_concurrently(tasks, jobs):
    """Results of the zero-argument callables `tasks`, in order, `jobs` at a time.

    Each task waits on fresh measuring processes, so threads suffice; peaks are per process
    and do not change when processes run side by side (only their times do).
    """
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda task: task(), tasks))


def budget_search(probe, modes, budget_bytes, search_patch, edges, block_counts, widths, jobs=1):
    """For each mode, the largest patch edge, most blocks and widest base under the budget.

    Args:
        probe: a UnetProbe.
        modes: block modes to search.
        budget_bytes: the memory budget.
        search_patch: (D, H, W) used for the depth and width searches.
        edges: ascending cubic patch edges to try.
        block_counts: ascending couplings per level to try.
        widths: ascending base widths to try.
        jobs: searches (one per mode and quantity) run side by side.

    Returns:
        {mode: {"patch_edge": int|None, "blocks": int|None, "base_width": int|None}}.
    """
    searches = {
        "patch_edge": lambda m: largest_fitting(
            edges, lambda e: probe.peak_bytes(m, (e, e, e)) <= budget_bytes
        ),
        "blocks": lambda m: largest_fitting(
            block_counts,
            lambda n: probe.peak_bytes(m, search_patch, blocks=n) <= budget_bytes,
            gallop=True,
        ),
        "base_width": lambda m: largest_fitting(
            widths,
            lambda w: probe.peak_bytes(m, search_patch, base_width=w) <= budget_bytes,
            gallop=True,
        ),
    }
    keys = [(mode, key) for mode in modes for key in searches]
    results = _run_concurrently(
        [lambda m=mode, k=key: searches[k](m) for mode, key in keys], jobs
    )
    found = {mode: {} for mode in modes}
    for (mode, key), result in zip(keys, results, strict=True):
        found[mode][key] = result
    return found


def budget_ratios(found, mode="reversible", reference="plain"):
    """{"voxels", "depth", "width"}: what `mode` fits relative to `reference` (None if the
    reference fits nothing)."""
    ours, theirs = found[mode], found[reference]

    def ratio(key, power=1):
        if not theirs[key] or ours[key] is None:
            return None
        return (ours[key] / theirs[key]) ** power

    return {name: ratio(key, 3 if name == "voxels" else 1)
            for name, key in RATIO_QUANTITIES.items()}


def measured_curves(points):
    """Every measured point of a UnetProbe, as curves of worst peak bytes along each axis.

    A point belongs to the "blocks" axis if it set the couplings, to "width" if it set the
    filters, else to "patch" (its cubic edge), so sweeps and budget searches both contribute.

    Returns:
        {axis: {mode: (sorted values, worst peak bytes at each)}}.
    """
    worst = {}
    for point in points:
        changes = point["spec"]["changes"]
        if "encoder_blocks" in changes:
            axis, value = "blocks", changes["encoder_blocks"]
        elif "filters" in changes:
            axis, value = "width", changes["filters"][0]
        else:
            axis, value = "patch", point["spec"]["patch"][0]
        key = (axis, changes["block_mode"], value)
        worst[key] = max(worst.get(key, 0), point["peak_bytes"])
    curves = {}
    for (axis, mode, value), peak in sorted(worst.items()):
        xs, ys = curves.setdefault(axis, {}).setdefault(mode, ([], []))
        xs.append(value)
        ys.append(peak)
    return curves


def sweep(probe, modes, axis, values, fixed_patch, jobs=1):
    """Peak bytes along one axis for each mode.

    Args:
        probe: a UnetProbe.
        modes: block modes.
        axis: "patch" (cubic edges), "blocks" (couplings per level) or "width" (base width).
        values: the values along the axis.
        fixed_patch: (D, H, W) for the "blocks" and "width" axes.
        jobs: points measured side by side.

    Returns:
        {mode: [peak bytes per value]}.
    """
    measure = {
        "patch": lambda m, v: probe.peak_bytes(m, (v, v, v)),
        "blocks": lambda m, v: probe.peak_bytes(m, fixed_patch, blocks=v),
        "width": lambda m, v: probe.peak_bytes(m, fixed_patch, base_width=v),
    }[axis]
    peaks = _run_concurrently(
        [lambda m=mode, v=value: measure(m, v) for mode in modes for value in values], jobs
    )
    return {mode: peaks[i * len(values):(i + 1) * len(values)] for i, mode in enumerate(modes)}
