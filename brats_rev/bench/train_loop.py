"""Overhead of the full training loop over a bare `strategy.run` of the same step, in one run.

    python -m brats_rev.bench.train_loop                 # tiny preset, 32³ patches, batch 2

"bare": the distributed step of `train_lib.build_training` called back to back on the run's
training data, nothing else. "loop": `train_lib.train` on the same configuration in a fresh
run directory (no validation): the same step plus the loss check, TensorBoard scalars,
learning rate, progress bar, peak-memory read (when measurable) and a checkpoint at the end of
every epoch. Both are timed after their first (tracing) step; measurements alternate
(bare, loop, bare, loop, ...) so that a machine whose speed drifts affects both alike.

Two ratios are printed. "A/B": median over repeats of loop time per step / bare time per step.
On a machine shared with other jobs its spread is that of the machine's speed between
measurements. "in-loop": the loop's time per step / the time its own distributed step calls
took, on the same steps; it needs no second run and is what the overhead target is about.
"""

import shutil
import statistics
import tempfile
import time

import tensorflow as tf
from absl import flags

from brats_rev import atomic, program
from brats_rev.bench import output
from brats_rev.training import run_config, train_lib

FLAGS = flags.FLAGS


def measure_bare(run, strategy, steps):
    """Seconds per step of the bare distributed step over `steps` steps (after one)."""
    _, _, train_step = train_lib.build_training(run, strategy)
    iterator = iter(strategy.distribute_datasets_from_function(
        train_lib.training_dataset_fn(run)))
    train_step(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        loss, _ = train_step(iterator)
    float(loss)
    return (time.perf_counter() - start) / steps


def measure_loop(run, strategy):
    """(seconds per step of the full loop, seconds per step inside its step calls)."""
    model_dir = tempfile.mkdtemp(prefix="brats_rev_loop_")
    try:
        result = train_lib.train(run, model_dir, strategy)
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)
    return result.loop_seconds / result.loop_steps, result.step_seconds / result.loop_steps


def main(argv):
    del argv
    run = run_config.resolve(FLAGS.preset, overrides=[
        f"data.patch_size={FLAGS.patch_size}", f"data.batch_size={FLAGS.batch_size}",
        f"train.steps_per_epoch={FLAGS.steps_per_epoch}", f"train.epochs={FLAGS.epochs}",
        "train.warmup_steps=0", "train.fold=null", *FLAGS.override])
    strategy = tf.distribute.get_strategy()
    steps = run.train.total_steps - 1
    bare, loop, inside = [], [], []
    for _ in range(FLAGS.repeats):
        bare.append(measure_bare(run, strategy, steps))
        loop_time, step_time = measure_loop(run, strategy)
        loop.append(loop_time)
        inside.append(step_time)
    ab = statistics.median(m / b for b, m in zip(bare, loop, strict=True))
    in_loop = sum(loop) / sum(inside)
    rows = [[str(i + 1), f"{b * 1e3:.1f}", f"{m * 1e3:.1f}", f"{s * 1e3:.1f}",
             f"{m / b:.3f}", f"{m / s:.4f}"]
            for i, (b, m, s) in enumerate(zip(bare, loop, inside, strict=True))]
    print(output.markdown_table(["repeat", "bare ms/step", "loop ms/step",
                                 "loop: in step calls", "A/B", "in-loop"], rows))
    print(f"A/B loop / bare = {ab:.4f} (median); in-loop loop / step calls = {in_loop:.4f}; "
          f"{steps} timed steps per measurement, {run.train.epochs} checkpoints per loop run")
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {
            "machine": output.machine_description(), "config": run.to_dict(),
            "timed_steps": steps, "bare_seconds_per_step": bare,
            "loop_seconds_per_step": loop, "loop_step_call_seconds_per_step": inside,
            "ab_ratio": ab, "in_loop_ratio": in_loop})


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("preset", "tiny", "Model preset (with its training settings).")
    flags.DEFINE_integer("patch_size", 32, "Cubic patch edge in voxels.")
    flags.DEFINE_integer("batch_size", 2, "Global batch.")
    flags.DEFINE_integer("steps_per_epoch", 25, "Steps per epoch (a checkpoint per epoch).")
    flags.DEFINE_integer("epochs", 2, "Epochs per loop measurement.")
    flags.DEFINE_integer("repeats", 3, "Alternating bare / loop measurements.")
    flags.DEFINE_multi_string("override", [], "More section.field=value settings.")
    flags.DEFINE_string("json_out", None, "Write the timings as JSON here.")


def run():
    """Entry point: `python -m brats_rev.bench.train_loop`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
