"""absl flags shared by the entry points that load a model and run inference on it
(`brats_rev.predict`, `brats_rev.export`): one definition, one meaning.

Only entry points call these, from their `define_flags()`; library code takes an
InferenceConfig.
"""

from absl import flags

from brats_rev import labels
from brats_rev.config import TTA_MODES, InferenceConfig


def define_model_flags():
    """--model, --preset, --window_size: which model to load and its sliding window."""
    flags.DEFINE_string("model", None, ".keras file, training run folder or checkpoint folder.",
                        required=True)
    flags.DEFINE_string("preset", None, "Model preset for a checkpoint without config.json.")
    flags.DEFINE_list("window_size", None, "Sliding window x,y,z (default: the training patch).")


def window_size(options):
    """The --window_size flag as a tuple of 3 ints, or None for the model's own."""
    return tuple(int(w) for w in options.window_size) if options.window_size else None


def define_inference_flags(per_case_choices=True):
    """Flags of brats_rev.config.InferenceConfig.

    Args:
      per_case_choices: also define --tta and --label_convention (an exported model takes
        them with each request instead).
    """
    flags.DEFINE_float("overlap", 0.5, "Fraction of a window shared with its neighbour.")
    flags.DEFINE_integer("batch_size", 1, "Windows per model call.", lower_bound=1)
    flags.DEFINE_list("thresholds", ["0.5", "0.5", "0.5"], "Probability thresholds WT,TC,ET.")
    flags.DEFINE_integer("et_min_voxels", 0, "ET smaller than this becomes NCR (0: off).",
                         lower_bound=0)
    flags.DEFINE_integer("crop_margin", 4, "Voxels around the brain box.", lower_bound=0)
    if per_case_choices:
        flags.DEFINE_enum("tta", "none", list(TTA_MODES), "Test-time augmentation.")
        flags.DEFINE_enum("label_convention", None, sorted(labels.CONVENTIONS),
                          "Output labels (default: the convention of each case's release).")


def inference_config(options):
    """The InferenceConfig the flags of `define_inference_flags` describe."""
    per_case = {name: options[name].value for name in ("tta", "label_convention")
                if name in options}
    return InferenceConfig(
        overlap=options.overlap, batch_size=options.batch_size,
        thresholds=tuple(float(t) for t in options.thresholds),
        et_min_voxels=options.et_min_voxels, crop_margin=options.crop_margin, **per_case)
