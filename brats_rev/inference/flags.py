"""absl flags shared by the entry points that segment cases or load a model for it
(`brats_rev.predict`, `brats_rev.export`, `brats_rev.serving.client`): one definition, one
meaning.

Only entry points call these, from their `define_flags()` and `main()`; library code takes an
InferenceConfig and batch.OutputOptions.
"""

import errno
import os
import tempfile

from absl import app, flags

from brats_rev import tasks
from brats_rev.config import TTA_MODES, InferenceConfig
from brats_rev.inference import batch

DEFAULTS = InferenceConfig()


def define_model_flags():
    """--model, --preset, --window_size: which model to load and its sliding window."""
    flags.DEFINE_string("model", None, ".keras file, training run folder or checkpoint folder.",
                        required=True)
    flags.DEFINE_string("preset", None, "Model preset for a checkpoint without config.json.")
    flags.DEFINE_list("window_size", None, "Sliding window x,y,z (default: the training patch).")


def define_case_flags():
    """Which cases, where their results go, and the choices made per case: --input,
    --output_dir, --label_convention, --tta, --save_probabilities, --probability_dtype,
    --overwrite."""
    flags.DEFINE_string("input", None, "A case folder or a dataset root.", required=True)
    flags.DEFINE_string("output_dir", None, "Folder for <case_id>.nii.gz and the report.",
                        required=True)
    flags.DEFINE_enum("label_convention", None, sorted(tasks.CONVENTIONS),
                      "Output labels, a convention of the model's task (default: that of each "
                      "case's release if the task has it, else the task's own).")
    flags.DEFINE_enum("tta", DEFAULTS.tta, list(TTA_MODES), "Test-time augmentation.")
    flags.DEFINE_boolean("save_probabilities", False,
                         "Also write <case_id>_probabilities.nii.gz (X, Y, Z, R), one map per "
                         "region of the model's task.")
    flags.DEFINE_enum("probability_dtype", "uint8", list(batch.PROBABILITY_DTYPES),
                      "uint8 (scl_slope 1/255) or float32 probability maps.")
    flags.DEFINE_boolean("overwrite", False, "Replace existing outputs (else skip those cases).")


def define_inference_flags():
    """The sliding-window and post-processing flags of brats_rev.config.InferenceConfig."""
    flags.DEFINE_float("overlap", DEFAULTS.overlap,
                       "Fraction of a window shared with its neighbour.")
    flags.DEFINE_integer("batch_size", DEFAULTS.batch_size, "Windows per model call.",
                         lower_bound=1)
    flags.DEFINE_list("thresholds", None, "Probability threshold per region of the model's "
                      "task, e.g. 0.5,0.5,0.5 for WT,TC,ET (default: 0.5 each).")
    flags.DEFINE_integer("et_min_voxels", DEFAULTS.et_min_voxels,
                         "ET smaller than this becomes the task's fallback class (GLI: NCR; "
                         "0: off).", lower_bound=0)
    flags.DEFINE_integer("crop_margin", DEFAULTS.crop_margin, "Voxels around the brain box.",
                         lower_bound=0)


def window_size(options):
    """The --window_size flag as a tuple of 3 ints, or None for the model's own."""
    return tuple(int(w) for w in options.window_size) if options.window_size else None


def loaded_model(options):
    """The LoadedModel of `define_model_flags`; raises app.UsageError (one line, exit status 1)
    if --model holds nothing loadable (a damaged `.keras` file, ...) or its config.json is not
    a run configuration. TensorFlow starts here: the flag checks before it need none."""
    from brats_rev.inference.loading import load_model

    try:
        return load_model(options.model, window_size(options), options.preset)
    except (OSError, ValueError) as error:
        raise app.UsageError(f"--model {options.model!r}: {error}") from None


def inference_config(options):
    """The InferenceConfig of `define_inference_flags` (and of --tta and --label_convention
    when `define_case_flags` defined them)."""
    per_case = {name: options[name].value for name in ("tta", "label_convention")
                if name in options}
    return InferenceConfig(
        overlap=options.overlap, batch_size=options.batch_size,
        thresholds=tuple(float(t) for t in options.thresholds) if options.thresholds else None,
        et_min_voxels=options.et_min_voxels, crop_margin=options.crop_margin, **per_case)


def _check_writable(folder):
    """Raises app.UsageError naming --output_dir and the reason unless `folder` can be created
    and written: its nearest existing ancestor (or itself) must be a folder in which a file
    can be written (one is written and removed). Nothing else is created."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    try:
        if not os.path.isdir(existing):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), existing)
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-check-"):
            pass
    except OSError as error:
        raise app.UsageError(f"--output_dir {folder!r} cannot be written: "
                             f"{error.strerror or error} ({existing}).") from None


def output_options(options):
    """batch.OutputOptions of `define_case_flags`; raises app.UsageError if --input is not a
    folder, --output_dir lies inside it (nothing is ever written into the input) or cannot be
    written (checked before any case is read)."""
    if not os.path.isdir(options.input):
        raise app.UsageError(f"--input {options.input!r} is not a folder.")
    if batch.inside(options.output_dir, options.input):
        raise app.UsageError(f"--output_dir {options.output_dir!r} is inside --input "
                             f"{options.input!r}; predictions are never written into the input.")
    _check_writable(options.output_dir)
    return batch.OutputOptions(options.save_probabilities, options.probability_dtype,
                               options.overwrite)


def input_cases(options):
    """`batch.input_cases` of --input; an --input that holds no case is an app.UsageError (one
    line, exit status 1), found before any model or server is touched."""
    try:
        return batch.input_cases(options.input)
    except batch.NoCasesFound as error:
        raise app.UsageError(f"--input: {error}") from None
