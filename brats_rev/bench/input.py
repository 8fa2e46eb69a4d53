"""Training input pipeline throughput: patches per second, with and without augmentation.

    python -m brats_rev.bench.input --data_dir=tfrecords/sample --patch_size=128 [--each_transform]

For each setting a fresh `build_dataset(..., "train", fold)` is timed twice: its first epoch
(as many patches as the fold has training cases, from the start of iteration: reading,
decoding, padding and caching included) and, after `--warmup` more batches, `--batches`
batches from the cache. Besides wall-clock rates it reports the process CPU time per patch
(all tf.data threads), which depends less on other jobs sharing the machine. Batches are
produced as tensors and not copied to numpy, as a trainer consumes them.
"""

import math
import time

from absl import flags

from brats_rev import atomic, program
from brats_rev import config as config_lib
from brats_rev.bench import output
from brats_rev.data import dataset as dataset_lib
from brats_rev.data import manifest

FLAGS = flags.FLAGS


def _drain(iterator, batches):
    """Takes `batches` batches; returns (wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(data_config, fold, warmup, batches, seed=0):
    """Rates of one training pipeline.

    Returns:
      {"first_epoch_patches_per_s", "patches_per_s", "cpu_seconds_per_patch",
       "first_epoch_patches", "timed_patches"}; the steady figures exclude the first epoch
      and the warm-up batches.
    """
    cases = len(manifest.split_cases(manifest.load_manifest(data_config.data_dir), "train",
                                        fold))
    first_batches = math.ceil(cases / data_config.batch_size)
    iterator = iter(dataset_lib.build_dataset(data_config, "train", fold, seed=seed))
    first_wall, _ = _drain(iterator, first_batches)
    _drain(iterator, warmup)
    wall, cpu = _drain(iterator, batches)
    timed = batches * data_config.batch_size
    return {
        "first_epoch_patches_per_s": first_batches * data_config.batch_size / first_wall,
        "patches_per_s": timed / wall,
        "cpu_seconds_per_patch": cpu / timed,
        "first_epoch_patches": first_batches * data_config.batch_size,
        "timed_patches": timed,
    }


# The `DataConfig` probabilities of each transform, for `--each_transform`.
TRANSFORMS = {
    "flips and rotation": ("flip_probability", "rotate90_probability"),
    "zoom": ("scale_probability",),
    "intensity scale and shift": ("intensity_scale_probability", "intensity_shift_probability"),
    "gamma": ("gamma_probability",),
    "noise": ("noise_probability",),
    "blur": ("blur_probability",),
}
WITHOUT = "default without "


def settings(augmented, each_transform):
    """{setting name: DataConfig}: `augmented`, no augmentation, and with `each_transform`
    `augmented` without each of `TRANSFORMS` in turn."""
    chosen = {"default augmentation": augmented,
              "no augmentation": augmented.without_augmentation()}
    if each_transform:
        chosen.update({WITHOUT + name: augmented.replace(**dict.fromkeys(fields, 0.0))
                       for name, fields in TRANSFORMS.items()})
    return chosen


def transform_costs(results):
    """{transform: CPU ms per patch it adds at its default probability}: the default
    setting's CPU time per patch minus that without the transform."""
    default = results["default augmentation"]["cpu_seconds_per_patch"]
    return {name[len(WITHOUT):]: (default - result["cpu_seconds_per_patch"]) * 1e3
            for name, result in results.items() if name.startswith(WITHOUT)}


def main(argv):
    del argv
    augmented = config_lib.DataConfig(data_dir=FLAGS.data_dir, patch_size=FLAGS.patch_size,
                                      batch_size=FLAGS.batch_size)
    results = {name: measure(config, FLAGS.fold, FLAGS.warmup, FLAGS.batches, FLAGS.seed)
               for name, config in settings(augmented, FLAGS.each_transform).items()}
    machine = output.machine_description()
    print(f"Input pipeline, {FLAGS.patch_size}^3 x 4 patches, batch {FLAGS.batch_size}, "
          f"fold {FLAGS.fold} of {FLAGS.data_dir}; {machine['cpu']}, {machine['cores']} cores:")
    rows = [[name, f"{r['first_epoch_patches_per_s']:.1f}", f"{r['patches_per_s']:.1f}",
             f"{r['cpu_seconds_per_patch'] * 1e3:.0f}"] for name, r in results.items()]
    print(output.markdown_table(
        ["setting", "first epoch patches/s", "cached patches/s", "CPU ms / patch"], rows))
    costs = transform_costs(results)
    if costs:
        print("CPU ms per patch each transform adds at its default probability:")
        print(output.markdown_table(["transform", "CPU ms / patch"],
                                    [[name, f"{ms:.1f}"] for name, ms in costs.items()]))
    if FLAGS.json_out:
        atomic.write_json(FLAGS.json_out, {
            "machine": machine,
            "data_dir": FLAGS.data_dir,
            "patch_size": FLAGS.patch_size,
            "batch_size": FLAGS.batch_size,
            "fold": FLAGS.fold,
            "results": results,
            "transform_cpu_ms_per_patch": costs,
        })


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("data_dir", config_lib.SAMPLE_DATA_DIR,
                        "Folder holding manifest.json and shards (default: the built-in sample).")
    flags.DEFINE_integer("patch_size", 128, "Cubic patch edge in voxels.", lower_bound=1)
    flags.DEFINE_integer("batch_size", 2, "Patches per batch.", lower_bound=1)
    flags.DEFINE_integer("fold", 0, "Fold held out (the training cases of the others are read).")
    flags.DEFINE_integer("warmup", 5, "Batches after the first epoch before timing.")
    flags.DEFINE_integer("batches", 30, "Timed batches.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Sampling and augmentation seed.")
    flags.DEFINE_bool("each_transform", False, "Also measure the default augmentation "
                      "without each transform in turn, and print what each one costs.")
    flags.DEFINE_string("json_out", None, "Write the results as JSON here.")


def run():
    """Entry point: `python -m brats_rev.bench.input`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
