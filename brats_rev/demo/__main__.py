"""Runs the whole workflow end to end on synthetic cases and writes a report.

    python -m brats_rev.demo [--output_dir=runs/demo] [--size=full|quick]

Each stage is the command a user would type (`brats_rev.demo.workflow.stages`), run as a child
process and printed before it runs: realistic phantom cases -> TFRecords -> training (tiny
preset, mirrored over 2 CPU replicas) -> prediction on held-out cases -> evaluation -> the
non-learned baselines on the same cases -> SavedModel export for TF Serving -> the U-Net
memory benchmark at a small budget. Then `report.md` with its figures, and a summary table.
Outputs of an earlier demo in --output_dir are removed first (only the demo's own paths).
Exit status 1 if a stage fails, naming it.
"""

import json
import sys
import time

from absl import flags

from brats_rev import atomic, program
from brats_rev.bench.output import markdown_table
from brats_rev.demo import report, workflow


def main(argv):
    """Entry point; returns the exit status."""
    del argv
    options = flags.FLAGS
    layout = workflow.DemoLayout(options.output_dir)
    for path in workflow.clear_previous(layout):
        print(f"removed the previous demo's {path}")
    start = time.monotonic()
    results = []
    try:
        for stage in workflow.stages(layout, workflow.SIZES[options.size]):
            seconds = workflow.run_stage(stage)
            results.append({"name": stage.name, "command": workflow.shown_command(stage.argv),
                            "seconds": round(seconds, 1)})
            atomic.write_text(layout.timings, json.dumps(results, indent=2) + "\n")
    except workflow.StageFailed as error:
        print(f"\ndemo stopped: {error}", file=sys.stderr)
        return 1
    print("\n== report", flush=True)
    report_start = time.monotonic()
    try:
        summary = report.build_report(layout, results)
    except (OSError, ValueError, KeyError) as error:
        print(f"\ndemo stopped: stage 'report' failed: {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1
    print(f"-- report: {time.monotonic() - report_start:.1f} s -> {layout.report}")
    total = time.monotonic() - start
    print(f"\nDemo finished in {total / 60:.1f} min ({options.size} size).\n")
    print(markdown_table(["stage", "seconds"], [[r["name"], r["seconds"]] for r in results]))
    print()
    print(markdown_table(["where", "what"], [
        [layout.report, "the report (figures in " + layout.figures + ")"],
        [layout.run, "training run: config.json, checkpoints/, best/, model.keras, logs/"],
        [layout.predictions, "held-out predictions (<case_id>.nii.gz)"],
        [layout.evaluation, "metrics.csv, summary.csv, summary.json, boxplot.png"],
        [layout.baselines, "baselines.json; per baseline its predictions and scores"],
        [layout.export, "SavedModel versions for TF Serving (--model_base_path)"],
        [layout.bench_json, "memory benchmark points and budget search"],
        [layout.records, "TFRecord shards and manifest.json"],
    ]))
    print()
    print(markdown_table(["quantity", "value"], summary.rows()))
    return 0


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("output_dir", "runs/demo", "Folder for every output of the demo.")
    flags.DEFINE_enum("size", "full", sorted(workflow.SIZES),
                      "full: the demo (minutes); quick: every stage at the smallest size "
                      "at which training still learns.")


def run():
    """Runs the program: `python -m brats_rev.demo` and the `brats-rev-demo` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
