"""Median step times, measured in one process so that ratios are comparable.

    python -m brats_rev.bench.speed --what=depthwise   # DepthwiseConv3D implementations
    python -m brats_rev.bench.speed --what=groupnorm   # GroupNormalization: ours vs Keras'
    python -m brats_rev.bench.speed --what=stage       # ReversibleStage modes
    python -m brats_rev.bench.speed --what=unet --preset=default   # U-Net modes

Variants are timed round-robin (one call of each per round) after warm-up, so a machine that
speeds up or slows down during the run affects all of them alike. Ratios are to the
reference variant: grouped Conv3D for depthwise, Keras' layer for group normalisation,
"plain" for stages and U-Nets. Variants of
one run share their weights and inputs (same seed).
"""

import statistics
import time

import keras
import tensorflow as tf
from absl import flags

from brats_rev import atomic, program
from brats_rev import config as config_lib
from brats_rev.bench import output, workloads
from brats_rev.layers.depthwise import DepthwiseConv3D
from brats_rev.layers.group_norm import GroupNormalization
from brats_rev.layers.reversible import MODES

FLAGS = flags.FLAGS
# Defaults of the timings (this program's flags and brats_rev.bench.gpu's): the input of the
# layer and U-Net timings (the stage's is STAGE_SHAPE), its channels, untimed and timed calls.
SHAPE = (64, 64, 64)
STAGE_SHAPE = (48, 48, 48)
CHANNELS = 32
WARMUP = 2
REPEATS = 7


def depthwise_variants(shape, channels):
    """{name: (fn, inputs)}: forward+backward of each DepthwiseConv3D implementation, and of
    the decomposed one compiled with XLA ("decomposed+xla")."""
    inputs = tf.random.stateless_normal((1, *shape, channels), seed=(0, 1))
    variants = {}
    for implementation, jit_compile in (("decomposed", False), ("grouped", False),
                                        ("decomposed", True)):
        keras.utils.set_random_seed(0)
        layer = DepthwiseConv3D(3, implementation=implementation)
        layer.build(inputs.shape)

        @tf.function(jit_compile=jit_compile)
        def forward_backward(x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.square(layer(x)))
            return tape.gradient(loss, [x, *layer.trainable_variables])

        name = implementation + ("+xla" if jit_compile else "")
        variants[name] = (forward_backward, inputs)
    return variants


def groupnorm_variants(shape, channels, groups=8):
    """{name: (fn, inputs)}: the forward pass of brats_rev's GroupNormalization ("brats_rev")
    and of Keras' ("keras"), same weights and input (groups = min(8, channels))."""
    inputs = tf.random.stateless_normal((1, *shape, channels), seed=(0, 1))
    variants = {}
    for name, layer_class in (("brats_rev", GroupNormalization),
                              ("keras", keras.layers.GroupNormalization)):
        keras.utils.set_random_seed(0)
        layer = layer_class(min(groups, channels), epsilon=1e-5)
        layer.build(inputs.shape)
        variants[name] = (tf.function(lambda x, layer=layer: layer(x)), inputs)
    return variants


def stage_variants(shape, channels, num_blocks):
    """{mode: (step, inputs)}: one training step of a ReversibleStage per mode."""
    return {
        mode: workloads.stage_workload(mode, num_blocks, (1, *shape), channels)
        for mode in MODES
    }


def unet_variants(preset, shape):
    """{mode: (step, inputs)}: one training step of the `preset` U-Net per block mode."""
    return {
        mode: workloads.unet_workload(preset, {"block_mode": mode}, tuple(shape))
        for mode in MODES
    }


def time_round_robin(variants, warmup, repeats):
    """{name: [seconds per call]} with results fetched to host inside each timing."""
    for fn, inputs in variants.values():
        for _ in range(warmup):
            tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (fn, inputs) in variants.items():
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))
            times[name].append(time.perf_counter() - start)
    return times


def summarise(times, reference):
    """(medians, table) of `time_round_robin`'s `times`: {name: median seconds}, and the
    Markdown table of each variant's median ms and its ratio to the `reference` variant's."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    rows = [[name, f"{median * 1e3:.1f}", f"{median / medians[reference]:.3f}"]
            for name, median in medians.items()]
    return medians, output.markdown_table(["variant", "median ms", f"time / {reference}"], rows)


def main(argv):
    del argv
    if FLAGS.what == "depthwise":
        shape = [int(n) for n in FLAGS.shape or SHAPE]
        variants = depthwise_variants(shape, FLAGS.channels)
        reference, title = "grouped", "DepthwiseConv3D forward+backward"
    elif FLAGS.what == "groupnorm":
        shape = [int(n) for n in FLAGS.shape or SHAPE]
        variants = groupnorm_variants(shape, FLAGS.channels)
        reference, title = "keras", "GroupNormalization forward"
    elif FLAGS.what == "stage":
        shape = [int(n) for n in FLAGS.shape or STAGE_SHAPE]
        variants = stage_variants(shape, FLAGS.channels, FLAGS.num_blocks)
        reference = "plain"
        title = f"ReversibleStage training step, {FLAGS.num_blocks} blocks"
    else:
        shape = [int(n) for n in FLAGS.shape or SHAPE]
        variants = unet_variants(FLAGS.preset, shape)
        reference = "plain"
        title = f"U-Net ({FLAGS.preset}) training step"
    times = time_round_robin(variants, FLAGS.warmup, FLAGS.repeats)
    medians, table = summarise(times, reference)
    channels = config_lib.preset(FLAGS.preset).in_channels if FLAGS.what == "unet" else (
        FLAGS.channels)
    print(f"{title}, input 1x{'x'.join(map(str, shape))}x{channels}, "
          f"median of {FLAGS.repeats}:")
    print(table)
    if FLAGS.json_out:
        atomic.write_json(
            FLAGS.json_out,
            {
                "machine": output.machine_description(),
                "what": FLAGS.what,
                "shape": shape,
                "channels": channels,
                "seconds": times,
                "median_seconds": medians,
            },
        )


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_enum("what", "depthwise", ["depthwise", "groupnorm", "stage", "unet"],
                      "What to time.")
    flags.DEFINE_list("shape", None, "Input depth,height,width (default 64^3, stage 48^3).")
    flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS),
                      "U-Net preset (--what=unet).")
    flags.DEFINE_integer("channels", CHANNELS, "Input channels.")
    flags.DEFINE_integer("num_blocks", 4, "Couplings per stage (--what=stage).")
    flags.DEFINE_integer("warmup", WARMUP, "Untimed calls per variant.")
    flags.DEFINE_integer("repeats", REPEATS, "Timed calls per variant.")
    flags.DEFINE_string("json_out", None, "Write the timings as JSON here.")


def run():
    """Entry point: `python -m brats_rev.bench.speed`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
