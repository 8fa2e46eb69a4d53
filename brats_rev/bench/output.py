"""Benchmark output: machine description, Markdown tables and PNG plots (files are written with
`brats_rev.atomic`)."""

import os
import pathlib
import platform
import statistics
import sys

from brats_rev import atomic

MIB = 2**20
GIB = 2**30


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name from `cpuinfo` (Linux), else what `platform` knows."""
    path = pathlib.Path(cpuinfo)
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_description():
    """Dict describing where a benchmark ran (CPU model, cores, Python, TF/Keras versions)."""
    import keras
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpus,
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def spread(values):
    """(median, min, max) of `values`."""
    return statistics.median(values), min(values), max(values)


def format_spread(values, scale=1.0, digits=0):
    """"median" or "median (min-max)" of `values` divided by `scale`."""
    med, low, high = (v / scale for v in spread(values))
    if len(values) == 1 or low == high:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def markdown_table(headers, rows):
    """A GitHub Markdown table; `rows` are sequences of cells (converted with str)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_panels(path, panels):
    """Writes a PNG with one line plot per panel, side by side.

    Args:
        path: output .png path (parents created).
        panels: list of {"series": {label: (xs, ys)}, "xlabel", "ylabel", "title"}, each
            optionally with "limit": (y, label), drawn as a dashed horizontal line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), dpi=120,
                                squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, (xs, ys) in panel["series"].items():
            ax.plot(xs, ys, marker="o", label=label)
        if "limit" in panel:
            ax.axhline(panel["limit"][0], color="grey", linestyle="--", label=panel["limit"][1])
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.set_title(panel["title"])
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
