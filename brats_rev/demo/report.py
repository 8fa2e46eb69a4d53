"""The demo report: reads a workflow run's artefacts, writes report.md and its PNG figures.

Inputs (paths from `brats_rev.demo.workflow.DemoLayout`): the training run's TensorBoard event
files (`<run>/logs/train`, `<run>/logs/validation`), the evaluation folder written by
`brats_rev.evaluate` (summary.json, metrics.csv), `prediction_report.json` of
`brats_rev.predict`, the held-out cases and their predictions (NIfTI), `baselines.json` and the
threshold baseline's predictions of `brats_rev.bench.baselines`, `export.json` of the version
`brats_rev.export` wrote, and the JSON of `brats_rev.bench.memory_unet`.
Every file is written atomically; figures are PNGs.
"""

import csv
import dataclasses
import glob
import json
import os

import nibabel as nib
import numpy as np

from brats_rev import atomic, labels, run_folder
from brats_rev.bench import output as bench_output
from brats_rev.bench import unet_sweep
from brats_rev.data.cases import find_cases
from brats_rev.inference import outputs

# The demo trains and scores GLI phantoms: its regions.
_REGIONS = labels.GLI.region_names
# Overlay colours (RGB, 0-1) of the canonical tumour classes.
CLASS_COLOURS = {labels.NCR: (0.9, 0.1, 0.1), labels.ED: (0.1, 0.8, 0.2),
                 labels.ET: (1.0, 0.85, 0.0)}
MEMORY_AXES = {"patch": ("memory_vs_patch.png", "cubic patch edge (voxels)"),
               "blocks": ("memory_vs_depth.png", "couplings per level")}


@dataclasses.dataclass(frozen=True)
class Summary:
    """The demo's headline numbers.

    Attributes:
      dice: region -> mean Dice over the held-out cases.
      baseline_dice: baseline name -> region -> its mean Dice over the same cases.
      cases: number of held-out cases scored.
      budget_mb: the memory benchmark's budget (MiB), or None if it searched none.
      ratios: "voxels" / "depth" / "width" -> reversible / plain ratio at the budget as text
        ("≥ " when the reversible search hit its largest value, "-" when undefined); empty
        without a budget.
      predict_seconds: wall seconds of the whole predict command.
      predicted_cases: cases it wrote.
    """

    dice: dict
    baseline_dice: dict
    cases: int
    budget_mb: int
    ratios: dict
    predict_seconds: float
    predicted_cases: int

    def rows(self):
        """[(quantity, value)] for a two-column table."""
        return [
            *((f"Dice {region}, mean of {self.cases} held-out cases", f"{value:.4f}")
              for region, value in self.dice.items()),
            *((f"{name} baseline: Dice {' / '.join(dice)}",
               " / ".join(f"{value:.4f}" for value in dice.values()))
              for name, dice in self.baseline_dice.items()),
            *((f"{name} reversible / plain at {self.budget_mb} MiB", value)
              for name, value in self.ratios.items()),
            *([] if self.budget_mb else [("memory ratios", "no budget searched")]),
            ("predict: wall seconds per case (the whole command: TensorFlow start and model "
             "load included)",
             f"{self.predict_seconds / max(self.predicted_cases, 1):.1f} "
             f"({self.predict_seconds:.1f} s / {self.predicted_cases} cases)"),
        ]


def read_scalars(log_dir):
    """Scalar summaries of the TensorBoard event files in `log_dir`.

    Returns:
      {tag: (steps, values)} with steps ascending (ints) and values as floats.

    Raises:
      FileNotFoundError: `log_dir` holds no event file.
    """
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*")))
    if not files:
        raise FileNotFoundError(f"no TensorBoard event file in {log_dir}")
    points = {}
    for record in tf.data.TFRecordDataset(files):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name != "scalars":
                continue
            points.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: (sorted(by_step), [by_step[s] for s in sorted(by_step)])
            for tag, by_step in points.items()}


def plot_training(run_dir, path):
    """Training loss and validation Dice per step of the run in `run_dir`, as one PNG."""
    train = read_scalars(os.path.join(run_dir, run_folder.LOGS_DIR, "train"))
    validation = read_scalars(os.path.join(run_dir, run_folder.LOGS_DIR, "validation"))
    dice_tags = [f"dice_{region}" for region in _REGIONS] + ["mean_dice"]
    bench_output.plot_panels(path, [
        {"series": {"loss": train["loss"]}, "xlabel": "step", "ylabel": "loss",
         "title": "training loss (Dice + BCE over WT, TC, ET)"},
        {"series": {tag.replace("dice_", ""): validation[tag] for tag in dice_tags},
         "xlabel": "step", "ylabel": "Dice", "title": "validation Dice (fold 0)"},
    ])
    return validation


def plot_memory(bench, directory):
    """Memory-vs-patch and memory-vs-depth PNGs from the benchmark JSON; returns their paths.

    Every measured point counts (the budget search's as well as the sweeps'); a line per
    block mode, the budget as a dashed line.
    """
    curves = unet_sweep.measured_curves(bench["points"])
    budget = bench["budget"]
    limit = {"limit": (budget["budget_mb"], "budget")} if budget else {}
    written = {}
    for axis, (name, xlabel) in MEMORY_AXES.items():
        if axis not in curves:
            raise ValueError(f"the memory benchmark measured no point along {axis!r}; "
                             f"measured axes: {sorted(curves)}")
        path = os.path.join(directory, name)
        bench_output.plot_panels(path, [{
            "series": {mode: (xs, [b / bench_output.MIB for b in ys])
                       for mode, (xs, ys) in curves[axis].items()},
            "xlabel": xlabel, "ylabel": "peak MiB per training step",
            "title": f"U-Net training step: memory vs {xlabel.split(' (')[0]}", **limit}])
        written[axis] = path
    return written


def _canonical(path, convention):
    """Canonical labels (uint8) of the segmentation NIfTI at `path`."""
    return labels.to_canonical(np.asarray(nib.load(path).dataobj), convention)


def _tinted(flair_slice, canonical_slice):
    """RGB image (H, W, 3) in [0, 1]: FLAIR in grey, tumour classes tinted at 50%."""
    high = np.percentile(flair_slice[flair_slice > 0], 99) if np.any(flair_slice > 0) else 1.0
    grey = np.clip(flair_slice / high, 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for label, colour in CLASS_COLOURS.items():
        mask = canonical_slice == label
        rgb[mask] = 0.5 * rgb[mask] + 0.5 * np.asarray(colour)
    return rgb


def plot_case_overlay(case, predictions, path):
    """The axial slice with the most reference tumour of `case` (brats_rev.data.cases.Case):
    FLAIR with the reference (left) and each prediction overlaid, one panel each, as one PNG.

    Args:
      predictions: [(panel title, prediction NIfTI path)], in panel order.

    Returns:
      The slice index (z).

    Raises:
      ValueError: a prediction's shape or affine differs from the case's FLAIR.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    flair_image = nib.load(case.images[0])
    panels = [("reference", _canonical(case.seg, case.convention))]
    for title, prediction_path in predictions:
        predicted = nib.load(prediction_path)
        if predicted.shape != flair_image.shape or not np.allclose(predicted.affine,
                                                                   flair_image.affine):
            raise ValueError(f"{prediction_path}: shape {predicted.shape} / affine differ from "
                             f"{case.images[0]} ({flair_image.shape})")
        panels.append((title, _canonical(prediction_path, case.convention)))
    flair = np.asarray(flair_image.dataobj, dtype=np.float32)
    z = int(np.argmax((panels[0][1] > 0).sum(axis=(0, 1))))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 5.2), dpi=110)
    figure.suptitle(f"{case.case_id}, axial slice z={z}, FLAIR")
    for ax, (title, canonical) in zip(axes, panels, strict=True):
        ax.imshow(np.rot90(_tinted(flair[:, :, z], canonical[:, :, z])))
        ax.set_title(title)
        ax.axis("off")
    figure.legend(handles=[Patch(color=colour, label=labels.GLI.class_names()[label])
                           for label, colour in CLASS_COLOURS.items()],
                  loc="lower center", ncol=3)
    figure.tight_layout(rect=(0, 0.07, 1, 0.95))
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return z


def ratio_cells(budget):
    """The budget search's ratios as report text.

    Args:
      budget: the "budget" entry of the memory benchmark's JSON, or None.

    Returns:
      {"voxels", "depth", "width"} (in that order) -> "2.00x", "≥ 2.00x" when the
      reversible search fits its largest value (a lower bound), "-" when there is no ratio
      or the plain search fits its largest value; {} without a budget.
    """
    if not budget or not budget["ratios"]:
        return {}
    cells = {}
    for name, quantity in unet_sweep.RATIO_QUANTITIES.items():
        ratio = budget["ratios"][name]
        if ratio is None or quantity in budget["capped"]["plain"]:
            cells[name] = "-"
        else:
            capped = quantity in budget["capped"]["reversible"]
            cells[name] = ("≥ " if capped else "") + f"{ratio:.2f}x"
    return cells


def export_version(export_base):
    """The newest version folder (`<export_base>/<integer>`) of a TF Serving model base path.

    Raises:
      FileNotFoundError: there is none.
    """
    versions = [name for name in os.listdir(export_base)
                if name.isdigit() and os.path.isdir(os.path.join(export_base, name))]
    if not versions:
        raise FileNotFoundError(f"no exported version (integer folder) in {export_base}")
    return os.path.join(export_base, max(versions, key=int))


def export_section(export_base, heldout_dir):
    """Markdown lines on the exported model and the commands that serve it."""
    version = export_version(export_base)
    metadata = _read_json(os.path.join(version, "export.json"))
    window = "x".join(str(n) for n in metadata["window_size"])
    return [
        "## Export for TF Serving: `brats_rev.export`", "",
        f"`{version}`: SavedModel with the signatures "
        f"{', '.join(f'`{name}`' for name in metadata['signatures'])} (sliding window "
        f"{window}), plus `model.keras` and `export.json` (see docs/SERVING.md). To serve it "
        "and segment the held-out cases through the server:", "",
        "```bash",
        "tensorflow_model_server --port=8500 --rest_api_port=8501 --model_name=brats_rev "
        f"--model_base_path={os.path.abspath(export_base)}",
        "python -m brats_rev.serving.client --server=localhost:8500 --model_name=brats_rev "
        f"--input={heldout_dir} --output_dir=/tmp/served_predictions",
        "```", ""]


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _image(title, path, root):
    return f"![{title}]({os.path.relpath(path, root)})"


def memory_section(bench, pngs, root):
    """Markdown lines of the memory benchmark: the budget search's results and ratios (if it
    searched one) and the memory-vs-patch and memory-vs-depth figures `pngs` (axis -> path)."""
    preset = bench["points"][0]["spec"]["preset"]
    lines = ["## Memory: `brats_rev.bench.memory_unet`", "",
             f"U-Net preset `{preset}`, one training step per point, each in a fresh process; "
             "peak of TensorFlow's allocator (BFC, not process RSS)."]
    budget = bench["budget"]
    if budget:
        found, capped = budget["found"], budget["capped"]
        rows = [[mode, *(("≥ " if key in capped[mode] else "") + str(found[mode][key])
                         for key in ("patch_edge", "blocks", "base_width"))]
                for mode in found]
        lines += ["", f"What fits {budget['budget_mb']} MiB (≥: the largest value tried fits, so "
                  "the ratio is a lower bound):", "",
                  bench_output.markdown_table(["mode", "cubic patch edge", "couplings per level",
                                               "base width"], rows), "",
                  bench_output.markdown_table(["reversible / plain", "measured", "paper"], [
                      [name, cell, f"{unet_sweep.PAPER_RATIOS[name]}x"]
                      for name, cell in ratio_cells(budget).items()])]
    return lines + ["", _image("peak memory vs patch edge", pngs["patch"], root), "",
                    _image("peak memory vs couplings per level", pngs["blocks"], root), ""]


def build_report(layout, stage_results):
    """Writes `layout.report` and its figures (under `layout.figures`); returns the Summary.

    Args:
      layout: brats_rev.demo.workflow.DemoLayout of a finished run.
      stage_results: [{"name", "command", "seconds"}] of the stages, in order.
    """
    evaluation = _read_json(os.path.join(layout.evaluation, "summary.json"))
    baselines = _read_json(os.path.join(layout.baselines, "baselines.json"))["baselines"]
    predicted = _read_json(os.path.join(layout.predictions, "prediction_report.json"))
    bench = _read_json(layout.bench_json)
    seconds = {stage["name"]: stage["seconds"] for stage in stage_results}
    mean = evaluation["summary"]["mean"]
    summary = Summary(
        dice={region: mean[f"dice_{region}"] for region in _REGIONS},
        baseline_dice={name: {region: entry["mean"][f"dice_{region}"]
                              for region in _REGIONS}
                       for name, entry in baselines.items()},
        cases=evaluation["cases"], budget_mb=(bench["budget"] or {}).get("budget_mb"),
        ratios=ratio_cells(bench["budget"]), predict_seconds=seconds["predict"],
        predicted_cases=len(predicted["written"]))

    training_png = os.path.join(layout.figures, "training_curves.png")
    validation = plot_training(layout.run, training_png)
    memory_pngs = plot_memory(bench, layout.figures)
    cases, _ = find_cases(layout.heldout_nifti)
    case = sorted(cases, key=lambda c: c.case_id)[0]
    overlay_png = os.path.join(layout.figures, "case_overlay.png")
    z = plot_case_overlay(case, [
        ("prediction", outputs.output_path(layout.predictions, case.case_id)),
        ("threshold baseline", outputs.output_path(
            os.path.join(layout.baselines, "threshold", "predictions"), case.case_id))],
        overlay_png)

    root = layout.root
    steps, means = validation["mean_dice"]
    stats = evaluation["summary"]
    metric_rows = [[metric, *(f"{stats['mean'][f'{metric}_{r}']:.4f} ± "
                              f"{stats['std'][f'{metric}_{r}']:.4f}" for r in _REGIONS)]
                   for metric in ("dice", "hd95", "sensitivity", "specificity")]
    versus_rows = [["model", *(f"{stats['mean'][f'dice_{r}']:.4f} ± "
                               f"{stats['std'][f'dice_{r}']:.4f}" for r in _REGIONS)]]
    versus_rows.extend([f"{name} baseline", *(f"{entry['mean'][f'dice_{r}']:.4f} ± "
                                              f"{entry['std'][f'dice_{r}']:.4f}"
                                              for r in _REGIONS)]
                       for name, entry in baselines.items())
    with open(os.path.join(layout.evaluation, "metrics.csv"), encoding="utf-8") as handle:
        case_rows = [[row["case_id"], *(f"{float(row[f'dice_{r}']):.4f}" for r in _REGIONS)]
                     for row in csv.DictReader(handle)]
    machine = bench["machine"]
    lines = [
        "# brats_rev demo report", "",
        "Every number below was produced by the commands in the first table, in this run, on "
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, TensorFlow "
        f"{machine['tensorflow']}, Keras {machine['keras']}. The data are realistic synthetic "
        "cases (`brats_rev.phantoms --kind=realistic`: a real brain's anatomy, glioma-like "
        "tumours, unlabelled look-alikes, scanner effects), not BraTS images.", "",
        "## Stages", "",
        bench_output.markdown_table(["stage", "seconds", "command"], [
            [s["name"], f"{s['seconds']:.1f}", f"`{s['command']}`"] for s in stage_results]),
        "", "## Summary", "",
        bench_output.markdown_table(["quantity", "value"], summary.rows()),
        "", "## Training", "",
        f"Validation mean Dice on fold 0 (phantoms) at the last validation (step {steps[-1]}): "
        f"{means[-1]:.4f}; best {max(means):.4f}.", "",
        _image("training loss and validation Dice", training_png, root),
        "", f"## Held-out cases ({summary.cases}): `brats_rev.evaluate`", "",
        "Mean ± standard deviation over the cases (HD95 in mm):", "",
        bench_output.markdown_table(["metric", *_REGIONS], metric_rows), "",
        "Dice of the model beside non-learned baselines fitted on the same training cases "
        "(`brats_rev.bench.baselines`: predicting background everywhere; the best threshold "
        "per region; a per-voxel Gaussian classifier), mean ± standard deviation over the same "
        "held-out cases:", "",
        bench_output.markdown_table(["segmenter", *(f"Dice {r}" for r in _REGIONS)],
                                    versus_rows), "",
        bench_output.markdown_table(["case", *(f"Dice {r}" for r in _REGIONS)],
                                    case_rows), "",
        f"{case.case_id}, axial slice {z} (the most reference tumour): FLAIR with the "
        "reference labels (left), the model's prediction (middle) and the threshold "
        "baseline's (right).", "",
        _image("reference and prediction overlaid on FLAIR", overlay_png, root),
        "", *export_section(layout.export, layout.heldout_nifti),
        *memory_section(bench, memory_pngs, root),
        "## Files", "",
        bench_output.markdown_table(["what", "where"], [
            ["phantom cases (training / held-out)",
             f"`{layout.train_nifti}`, `{layout.heldout_nifti}`"],
            ["TFRecords and manifest", f"`{layout.records}`"],
            ["training run (config, checkpoints, model.keras, TensorBoard logs)",
             f"`{layout.run}`"],
            ["predictions (NIfTI) and prediction_report.json", f"`{layout.predictions}`"],
            ["metrics.csv, summary.csv, summary.json, boxplot.png", f"`{layout.evaluation}`"],
            ["baselines.json, each baseline's predictions and scores", f"`{layout.baselines}`"],
            ["SavedModel versions for TF Serving", f"`{layout.export}`"],
            ["memory benchmark JSON and tables", f"`{layout.bench}`"],
            ["figures of this report", f"`{layout.figures}`"],
        ]), "",
    ]
    atomic.write_text(layout.report, "\n".join(lines))
    return summary
