"""Parameters and FLOPs per voxel of a preset, optionally with other widths or couplings.

    python -m brats_rev.models.summary --preset=default [--patch=128,128,128] [--json_out=...]
    python -m brats_rev.models.summary --preset=default --filters=128,256,512,1024,1280
    python -m brats_rev.models.summary --preset=default --blocks=16
"""

import dataclasses
import json
import math

from absl import flags

from brats_rev import config as config_lib
from brats_rev import program
from brats_rev.models import build_model
from brats_rev.models.statistics import forward_flops, parameter_counts

FLAGS = flags.FLAGS


def summarise(config, patch):
    """Dict with the config, parameter counts and forward FLOPs for `patch` (D, H, W)."""
    model = build_model(config, patch)
    flops = forward_flops(model)
    voxels = math.prod(patch)
    return {
        "config": config.to_dict(),
        "patch": list(patch),
        "parameters": model.count_params(),
        "parameters_by_layer": parameter_counts(model),
        "forward_gflops": flops / 1e9,
        "forward_flops_per_voxel": flops / voxels,
    }


def main(argv):
    del argv
    changes = {}
    if FLAGS.filters:
        changes["filters"] = tuple(int(n) for n in FLAGS.filters)
    if FLAGS.blocks is not None:
        changes.update(encoder_blocks=FLAGS.blocks, decoder_blocks=FLAGS.blocks)
    config = config_lib.preset(FLAGS.preset, **changes)
    patch = tuple(int(n) for n in FLAGS.patch)
    summary = summarise(config, patch)
    print(f"preset {FLAGS.preset}: " + ", ".join(
        f"{f.name}={getattr(config, f.name)}" for f in dataclasses.fields(config)))
    for name, count in summary["parameters_by_layer"].items():
        print(f"  {name:<24} {count:>12,d}")
    print(f"parameters: {summary['parameters']:,d}")
    per_voxel = summary["forward_flops_per_voxel"]
    print(f"forward FLOPs for a {'x'.join(map(str, patch))} patch: "
          f"{summary['forward_gflops']:.2f} G ({per_voxel:,.0f} per voxel)")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(summary, f, indent=2)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_enum("preset", "default", sorted(config_lib.EXPERIMENTS), "Model preset.")
    flags.DEFINE_list("patch", ["128", "128", "128"],
                      "Input depth,height,width for the FLOP count.")
    flags.DEFINE_string("json_out", None, "Also write the summary as JSON here.")
    flags.DEFINE_list("filters", None, "Widths per level instead of the preset's.")
    flags.DEFINE_integer("blocks", None, "Encoder and decoder couplings per level instead of the "
                         "preset's (as `brats_rev.bench.memory_unet --blocks`).")


def run():
    """Entry point: `python -m brats_rev.models.summary`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
