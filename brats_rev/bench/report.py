"""Benchmark output: machine description, Markdown tables, JSON and PNG plots."""

import json
import os
import pathlib
import platform
import statistics
import sys

MIB = 2**20


def machine_description():
    """Dict describing where a benchmark ran (CPU model, cores, Python, TF/Keras versions)."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "cpu": cpu,
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


def write_json(path, payload):
    """Writes `payload` as indented JSON, creating parent directories; atomic rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def plot_lines(path, series, xlabel, ylabel, title):
    """Writes a PNG line plot.

    Args:
        path: output .png path (parents created).
        series: {label: (xs, ys)}.
        xlabel, ylabel, title: axis labels and title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    for label, (xs, ys) in series.items():
        axes.plot(xs, ys, marker="o", label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    figure.savefig(tmp)
    plt.close(figure)
    tmp.replace(path)
