"""The whole brats_rev workflow as data: each stage is the command a user would type.

`stages(layout, size)` is the one table of (name, argv) that `python -m brats_rev.demo` runs:
realistic phantom training and held-out cases -> TFRecords -> mirrored training on two CPU
replicas -> prediction on the held-out cases -> evaluation -> the non-learned baselines
fitted on the same training cases and scored on the same held-out cases -> SavedModel export
for TF Serving -> the U-Net memory benchmark at a small budget.
`run_stage` runs one of them as a child process, printing the command first and timing it.
"""

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import time


@dataclasses.dataclass(frozen=True)
class DemoSize:
    """How big a demo run is.

    Attributes:
      shape: phantom grid (x, y, z) in voxels; realistic phantoms always span the BraTS field
        of view (240 x 240 x 155 mm), so the shape sets the voxel size.
      train_cases: phantoms converted to records (training and validation folds).
      heldout_cases: further phantoms (same seed, the next case numbers) for predict/evaluate.
      folds: cross-validation folds of the records; fold 0 validates during training.
      train_flags: extra `brats_rev.train` flags on top of the tiny preset.
      bench_flags: `brats_rev.bench.memory_unet` flags: preset, budget, search limits.
    """

    shape: tuple
    train_cases: int
    heldout_cases: int
    folds: int
    train_flags: tuple
    bench_flags: tuple


SIZES = {
    # 3 mm voxels, twice the tiny preset's steps (32 epochs of 25, 32^3 patches); a tiny
    # U-Net's budget search at 80 MiB, whose measured points give the memory-vs-patch and
    # memory-vs-depth curves.
    "full": DemoSize(
        shape=(80, 80, 52), train_cases=12, heldout_cases=4, folds=4,
        train_flags=("--epochs=32", "--val_every=8"),
        bench_flags=("--preset=tiny", "--budget_mb=80", "--max_edge=64", "--max_blocks=4",
                     "--max_width=40", "--sweep_patch=32")),
    # The same commands at the coarsest voxels (3.75 mm) and the fewest cases and steps at
    # which the tiny preset still learns (its own schedule: 16 epochs of 25 steps); the
    # benchmark measures one point per mode and axis instead of searching a budget (tests).
    "quick": DemoSize(
        shape=(64, 64, 42), train_cases=8, heldout_cases=3, folds=4,
        train_flags=("--val_every=16",),
        bench_flags=("--preset=tiny", "--budget_mb=0", "--patches=16", "--blocks=1",
                     "--sweep_patch=16")),
}

RELEASE = "2021"
PHANTOM_SEED = 7


@dataclasses.dataclass(frozen=True)
class DemoLayout:
    """Where a demo run puts everything, under `root`."""

    root: str

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def train_nifti(self):
        return self.path("nifti", "train")

    @property
    def heldout_nifti(self):
        return self.path("nifti", "heldout")

    @property
    def records(self):
        return self.path("records")

    @property
    def run(self):
        return self.path("run")

    @property
    def predictions(self):
        return self.path("predictions")

    @property
    def evaluation(self):
        return self.path("evaluation")

    @property
    def baselines(self):
        """`brats_rev.bench.baselines` output: `<baselines>/baselines.json` and per baseline
        its predictions and scores."""
        return self.path("baselines")

    @property
    def export(self):
        """TF Serving model base path: `<export>/<version>/saved_model.pb`."""
        return self.path("export")

    @property
    def bench(self):
        return self.path("bench")

    @property
    def bench_json(self):
        return self.path("bench", "memory_unet.json")

    @property
    def figures(self):
        return self.path("figures")

    @property
    def report(self):
        return self.path("report.md")

    @property
    def timings(self):
        return self.path("stages.json")

    def owned_paths(self):
        """Every file or folder a demo run writes directly under `root` (removed before a
        new run, so nothing resumes or is skipped from an earlier one)."""
        return [self.path("nifti"), self.records, self.run, self.predictions, self.evaluation,
                self.baselines, self.export, self.bench, self.figures, self.report, self.timings]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of the workflow: `argv` is a complete command line."""

    name: str
    argv: tuple


def stages(layout, size, python=sys.executable):
    """The workflow's stages, in order, for `layout` (DemoLayout) and `size` (DemoSize)."""
    shape = ",".join(str(n) for n in size.shape)
    phantoms = ("-m", "brats_rev.phantoms", "--kind=realistic", f"--release={RELEASE}",
                f"--shape={shape}", f"--seed={PHANTOM_SEED}")
    table = [
        ("training phantoms", (*phantoms, f"--output_dir={layout.train_nifti}",
                               f"--num_cases={size.train_cases}")),
        ("held-out phantoms", (*phantoms, f"--output_dir={layout.heldout_nifti}",
                               f"--num_cases={size.heldout_cases}",
                               f"--first_case={size.train_cases}")),
        ("convert", ("-m", "pipelines.convert_brats", f"--input_dir={layout.train_nifti}",
                     f"--output_dir={layout.records}", "--num_shards=2",
                     f"--folds={size.folds}")),
        ("train", ("-m", "brats_rev.train", "--preset=tiny", f"--data_dir={layout.records}",
                   f"--model_dir={layout.run}", "--strategy=mirrored", "--cpu_replicas=2",
                   *size.train_flags)),
        ("predict", ("-m", "brats_rev.predict", f"--model={layout.run}",
                     f"--input={layout.heldout_nifti}", f"--output_dir={layout.predictions}")),
        ("evaluate", ("-m", "brats_rev.evaluate", f"--pred_dir={layout.predictions}",
                      f"--gt_dir={layout.heldout_nifti}", f"--output_dir={layout.evaluation}")),
        ("baselines", ("-m", "brats_rev.bench.baselines", f"--train_dir={layout.train_nifti}",
                       f"--test_dir={layout.heldout_nifti}",
                       f"--output_dir={layout.baselines}")),
        ("export", ("-m", "brats_rev.export", f"--model={layout.run}",
                    f"--export_base={layout.export}")),
        ("memory benchmark", ("-m", "brats_rev.bench.memory_unet",
                              "--modes=reversible,plain", *size.bench_flags,
                              f"--json_out={layout.bench_json}",
                              f"--markdown_out={layout.path('bench', 'memory_unet.md')}")),
    ]
    return [Stage(name, (python, *argv)) for name, argv in table]


class StageFailed(RuntimeError):
    """A stage's command exited with a nonzero status."""


def shown_command(argv):
    """`argv` as a shell line, the interpreter relative to the working folder when inside it."""
    program = os.path.relpath(argv[0]) if argv[0].startswith(os.getcwd() + os.sep) else argv[0]
    return shlex.join([program, *argv[1:]])


def run_stage(stage):
    """Runs `stage` (its output goes to this process's stdout/stderr); returns wall seconds.

    Raises:
      StageFailed: naming the stage, its exit status and its command.
    """
    command = shown_command(stage.argv)
    print(f"\n== {stage.name}\n$ {command}", flush=True)
    start = time.monotonic()
    status = subprocess.run(stage.argv, check=False).returncode
    seconds = time.monotonic() - start
    if status != 0:
        raise StageFailed(f"stage '{stage.name}' failed with exit status {status} after "
                          f"{seconds:.1f} s; its command was:\n  {command}")
    print(f"-- {stage.name}: {seconds:.1f} s", flush=True)
    return seconds


def clear_previous(layout):
    """Removes what an earlier demo run wrote under `layout.root`; returns the removed paths.

    Only `layout.owned_paths()` are touched; anything else in the folder stays.
    """
    removed = []
    for path in layout.owned_paths():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
        else:
            continue
        removed.append(path)
    return removed
