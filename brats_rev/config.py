"""Frozen configuration dataclasses and named presets.

Pure Python: imports only our pure-Python checks and task table, and no TensorFlow, so entry
points, pipelines and tests can read and validate a configuration before anything heavy starts.
`brats_rev.models.factory` is the only reader of `ModelConfig`.
"""

import dataclasses
import os

from brats_rev import tasks
from brats_rev.checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_int_at_least,
    check_number_at_least,
    check_per_level,
    check_probability,
    check_range,
)

BLOCK_MODES = ("reversible", "plain", "recompute")
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
DEPTHWISE_IMPLEMENTATIONS = ("auto", "decomposed", "grouped")


class _ConfigMethods:
    """`replace` and `to_dict` shared by the frozen config dataclasses."""

    def replace(self, **changes):
        """A copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """JSON-ready dict (tuples as lists); `type(self)(**d)` rebuilds the same config."""
        return {
            field.name: list(v) if isinstance(v := getattr(self, field.name), tuple) else v
            for field in dataclasses.fields(self)
        }






@dataclasses.dataclass(frozen=True)
class ModelConfig(_ConfigMethods):
    """The reversible MBConv 3D U-Net.

    Attributes:
        in_channels: input modalities (4 for BraTS: flair, t1, t1ce, t2).
        num_outputs: output region logits, one per region of the task (brats_rev.tasks; GLI: 3,
            WT, TC, ET); sigmoid, not softmax. Training sets it from the dataset's task.
        filters: channels per resolution level, finest first; each even (couplings split
            channels in halves). The number of levels is `len(filters)`.
        encoder_blocks: couplings per encoder level (int for all levels, or one per level).
        decoder_blocks: couplings per decoder level (int, or one per level except the
            coarsest, finest first).
        expand_ratio, kernel_size, se_ratio, norm_groups, activation: MBConv3D settings.
        block_mode: "reversible", "plain" or "recompute" (same weights and function).
        deep_supervision: also output logits at coarser decoder levels.
        dtype_policy: "float32", "mixed_float16" or "mixed_bfloat16".
        depthwise_implementation: "auto", "decomposed" or "grouped".
    """

    in_channels: int = 4
    num_outputs: int = 3
    filters: tuple = (32, 64, 128, 256, 320)
    encoder_blocks: int | tuple = 2
    decoder_blocks: int | tuple = 1
    expand_ratio: float = 4
    kernel_size: int = 3
    se_ratio: float = 0.0
    norm_groups: int = 8
    activation: str = "swish"
    block_mode: str = "reversible"
    deep_supervision: bool = False
    dtype_policy: str = "float32"
    depthwise_implementation: str = "auto"

    def __post_init__(self):
        filters = check_per_level("filters", tuple(self.filters), len(tuple(self.filters)))
        if len(filters) < 2 or any(f % 2 for f in filters):
            raise ValueError(
                "`filters` needs at least 2 levels of even channel counts. "
                f"Received: filters={self.filters!r}"
            )
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "encoder_blocks",
                           check_per_level("encoder_blocks", self.encoder_blocks, self.levels))
        object.__setattr__(
            self,
            "decoder_blocks",
            check_per_level("decoder_blocks", self.decoder_blocks, self.levels - 1),
        )
        check_per_level("in_channels", self.in_channels, 1)
        check_per_level("num_outputs", self.num_outputs, 1)
        check_per_level("kernel_size", self.kernel_size, 1)
        check_per_level("norm_groups", self.norm_groups, 1)
        if not self.expand_ratio >= 1:
            raise ValueError(f"`expand_ratio` must be >= 1. Received: {self.expand_ratio!r}")
        if not 0 <= self.se_ratio < 1:
            raise ValueError(f"`se_ratio` must be in [0, 1). Received: {self.se_ratio!r}")
        check_choice("block_mode", self.block_mode, BLOCK_MODES)
        check_choice("dtype_policy", self.dtype_policy, DTYPE_POLICIES)
        check_choice("depthwise_implementation", self.depthwise_implementation,
                DEPTHWISE_IMPLEMENTATIONS)

    @property
    def levels(self):
        """Resolution levels (the coarsest is the bottleneck)."""
        return len(self.filters)

    @property
    def size_multiple(self):
        """Every spatial input size must be a multiple of this (2 ** (levels - 1))."""
        return 2 ** (self.levels - 1)






@dataclasses.dataclass(frozen=True)
class DataConfig(_ConfigMethods):
    """The tf.data input pipeline: patch sampling, augmentation, batching.

    Spatial axes are the records' voxel axes (x, y, z); the axial plane is (x, y). Image values
    are z-scored intensities, so shifts and noise are in units of one standard deviation of the
    brain. Every augmentation is applied with its probability, independently per patch: flips per
    axis, intensity scale and shift per modality, noise, blur and gamma to the whole patch
    (blur and gamma with a value drawn per modality). `without_augmentation()` turns them all
    off.

    Attributes:
        data_dir: folder holding manifest.json and the shards; required by `build_dataset`.
        task: the BraTS task (brats_rev.tasks) of the dataset, whose regions the model learns;
            None until training fills in the dataset's (a run's config.json always names it;
            one written before tasks were recorded is of tasks.DEFAULT_TASK).
        patch_size: training patch (x, y, z) in voxels; an int means a cube.
        batch_size: global batch size (split over replicas by `build_dataset`'s input context).
        foreground_probability: chance that a patch is centred on a voxel of a tumour class
            (class chosen uniformly among those present), as nnU-Net's oversampling.
        cache: keep decoded cases (padded for training) in memory, images as float16: about
            26 MB per full-size BraTS case; turn off for datasets larger than RAM.
        shuffle_buffer: cases in the shuffle buffer (capped at the number of cases).
        flip_probability: per axis.
        rotate90_probability: rotation by 90, 180 or 270 degrees in the axial plane (needs
            patch_size x == y).
        scale_probability, scale_range: zoom; a factor s samples the source every s voxels
            (s > 1 zooms out), linear for the image, nearest neighbour for the label.
        intensity_scale_probability, intensity_scale_range: multiply a modality.
        intensity_shift_probability, intensity_shift_range: add to a modality.
        gamma_probability, gamma_range: x -> min + (max - min) * ((x - min) / (max - min)) ** g
            over the patch, g per modality.
        noise_probability, noise_std_range: additive Gaussian noise, all modalities.
        blur_probability, blur_sigma_range: Gaussian blur, sigma in voxels.
    """

    data_dir: str | None = None
    task: str | None = None
    patch_size: int | tuple = 128
    batch_size: int = 2
    foreground_probability: float = 0.33
    cache: bool = True
    shuffle_buffer: int = 256
    flip_probability: float = 0.5
    rotate90_probability: float = 0.5
    scale_probability: float = 0.2
    scale_range: tuple = (0.7, 1.4)
    intensity_scale_probability: float = 0.15
    intensity_scale_range: tuple = (0.75, 1.25)
    intensity_shift_probability: float = 0.15
    intensity_shift_range: tuple = (-0.1, 0.1)
    gamma_probability: float = 0.3
    gamma_range: tuple = (0.7, 1.5)
    noise_probability: float = 0.1
    noise_std_range: tuple = (0.0, 0.1)
    blur_probability: float = 0.2
    blur_sigma_range: tuple = (0.5, 1.0)

    def __post_init__(self):
        if self.task is not None:
            check_choice("task", self.task, tuple(tasks.TASKS))
        object.__setattr__(self, "patch_size", check_per_level("patch_size", self.patch_size, 3))
        check_per_level("batch_size", self.batch_size, 1)
        check_per_level("shuffle_buffer", self.shuffle_buffer, 1)
        for field in dataclasses.fields(self):
            if field.name.endswith("_probability"):
                check_probability(field.name, getattr(self, field.name))
        lowest = {"scale_range": 1e-3, "intensity_scale_range": 0.0, "gamma_range": 1e-3,
                  "noise_std_range": 0.0, "blur_sigma_range": 0.0}
        for field in dataclasses.fields(self):
            if field.name.endswith("_range"):
                value = check_range(field.name, getattr(self, field.name),
                               lowest.get(field.name, -float("inf")))
                object.__setattr__(self, field.name, value)
        if self.rotate90_probability > 0 and self.patch_size[0] != self.patch_size[1]:
            raise ValueError(
                "Axial 90-degree rotations need patch_size x == y; set rotate90_probability=0. "
                f"Received: patch_size={self.patch_size}"
            )

    def without_augmentation(self):
        """A copy with every augmentation probability 0 (sampling unchanged)."""
        return self.replace(**{
            field.name: 0.0 for field in dataclasses.fields(self)
            if field.name.endswith("_probability") and field.name != "foreground_probability"
        })


TTA_MODES = ("none", "flips8")
# Voxels kept around the brain's bounding box when a case is cropped, in conversion and at
# inference alike, so that a model sees the context it was trained with.
CROP_MARGIN = 4


@dataclasses.dataclass(frozen=True)
class InferenceConfig(_ConfigMethods):
    """Whole-case prediction: sliding window, test-time augmentation, labels, post-processing.

    Attributes:
        overlap: fraction in [0, 1) of a window shared with its neighbour per axis.
        batch_size: windows per model call.
        sigma_scale: standard deviation of the Gaussian window weighting / window length.
        tta: "none", or "flips8" (average over the 8 combinations of mirroring the 3 axes).
        thresholds: probability threshold per region of the model's task (GLI: WT, TC, ET), or
            None for 0.5 each (`region_thresholds`); a voxel is in a region when its
            probability is >= the threshold. The task's decoding then gives each voxel one
            class (GLI: ET ⊂ TC ⊂ WT imposed).
        et_min_voxels: a predicted ET with fewer voxels than this (whole case) is relabelled to
            the task's fallback class (GLI: NCR), as is usual for BraTS (a false-positive ET in
            a case without one costs a Dice of 0 and an HD95 of 373.13). 0 turns it off. Tune
            it on validation folds.
        crop_margin: voxels added around the brain bounding box before prediction (CROP_MARGIN,
            as conversion).
        label_convention: output label convention (a brats_rev.tasks.CONVENTIONS key of the
            model's task), or None for the convention of the input case's release when the
            task has it, else the task's own (`output_convention`).
    """

    overlap: float = 0.5
    batch_size: int = 1
    sigma_scale: float = 0.125
    tta: str = "none"
    thresholds: tuple | None = None
    et_min_voxels: int = 0
    crop_margin: int = CROP_MARGIN
    label_convention: str | None = None

    def __post_init__(self):
        check_fraction("overlap", self.overlap)
        check_per_level("batch_size", self.batch_size, 1)
        if not self.sigma_scale > 0:
            raise ValueError(
                f"`sigma_scale` must be > 0. Received: sigma_scale={self.sigma_scale!r}")
        check_choice("tta", self.tta, TTA_MODES)
        if self.thresholds is not None:
            thresholds = tuple(self.thresholds)
            if not thresholds or not all(0 < t < 1 for t in thresholds):
                raise ValueError("`thresholds` must be values in (0, 1), one per region, or "
                                 f"None. Received: thresholds={self.thresholds!r}")
            object.__setattr__(self, "thresholds", tuple(float(t) for t in thresholds))
        for name in ("et_min_voxels", "crop_margin"):
            check_int_at_least(name, getattr(self, name), 0)
        if self.label_convention is not None and not isinstance(self.label_convention, str):
            raise ValueError("`label_convention` must be a convention name or None. "
                             f"Received: label_convention={self.label_convention!r}")

    def region_thresholds(self, task):
        """The threshold of each region of `task` (a brats_rev.tasks.Task), in its order.

        Raises:
            ValueError: `thresholds` has another count than the task's regions.
        """
        regions = task.region_names
        if self.thresholds is None:
            return (0.5,) * len(regions)
        if len(self.thresholds) != len(regions):
            raise ValueError(f"thresholds need one value per region of task {task.name} "
                             f"({', '.join(regions)}). Received: {list(self.thresholds)}")
        return self.thresholds

    def check_task(self, task):
        """Raises ValueError unless `thresholds` and `label_convention` fit `task`."""
        self.region_thresholds(task)
        if self.label_convention is not None:
            task.check_convention(self.label_convention)

    def output_convention(self, case_convention, task):
        """The label convention of a case's output: the configured one, else the case's own
        if `task` has it, else the task's own."""
        return self.label_convention or task.output_convention(case_convention)


OPTIMIZERS = ("adamw", "sgd_nesterov")
SCHEDULES = ("poly", "cosine")








@dataclasses.dataclass(frozen=True)
class TrainConfig(_ConfigMethods):
    """The training loop: optimizer, schedule, length, precision, checkpoints, validation.

    One step is one global batch (`DataConfig.batch_size` patches over all replicas); an
    epoch is `steps_per_epoch` steps.

    Attributes:
        optimizer: "adamw" (decoupled weight decay) or "sgd_nesterov" (Nesterov momentum).
        learning_rate: peak learning rate, reached at the end of the warm-up.
        weight_decay: decoupled weight decay per step, times the learning rate.
        momentum: SGD momentum (sgd_nesterov only).
        warmup_steps: steps of linear warm-up from 0 to `learning_rate`.
        schedule: decay after the warm-up to the last step: "poly" (power `poly_power`, to 0)
            or "cosine" (to 0).
        poly_power: exponent of the polynomial decay.
        clipnorm: clip the global gradient (summed over replicas) to this L2 norm; None: off.
        epochs: total epochs; raise it to extend a finished run.
        steps_per_epoch: steps per epoch.
        val_every: validate (whole cases, sliding window) every this many epochs, and after
            the last epoch.
        val_overlap: sliding-window overlap fraction in [0, 1).
        val_batch_size: windows per forward pass in validation.
        precision: "float32", "mixed_float16" (with dynamic loss scaling) or "mixed_bfloat16";
            the model is built with this dtype policy.
        jit_compile: compile the training step with XLA.
        seed: seeds weights, patch sampling and augmentation.
        deterministic: deterministic TensorFlow ops and input order (exact resume).
        keep_checkpoints: most recent checkpoints kept (the best one is kept separately).
        fold: manifest fold held out for validation; None trains on every case and skips
            validation.
        deep_supervision_weights: loss weight per output, full resolution first, used when
            the model has deep supervision; None: 1, 1/2, 1/4, ... normalised to sum 1.
        log_every: steps between TensorBoard scalar writes.
    """

    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.99
    warmup_steps: int = 250
    schedule: str = "poly"
    poly_power: float = 0.9
    clipnorm: float | None = 12.0
    epochs: int = 1000
    steps_per_epoch: int = 250
    val_every: int = 10
    val_overlap: float = 0.5
    val_batch_size: int = 1
    precision: str = "float32"
    jit_compile: bool = False
    seed: int = 0
    deterministic: bool = True
    keep_checkpoints: int = 3
    fold: int | None = 0
    deep_supervision_weights: tuple | None = None
    log_every: int = 10

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("precision", self.precision, DTYPE_POLICIES)
        for name in ("learning_rate", "weight_decay", "momentum", "poly_power"):
            check_number_at_least(name, getattr(self, name), 0)
        if self.learning_rate == 0 or self.momentum >= 1:
            raise ValueError("`learning_rate` must be > 0 and `momentum` < 1. Received: "
                             f"learning_rate={self.learning_rate!r}, momentum={self.momentum!r}")
        for name in ("epochs", "steps_per_epoch", "val_every", "val_batch_size",
                     "keep_checkpoints", "log_every"):
            check_int_at_least(name, getattr(self, name), 1)
        for name in ("warmup_steps", "seed"):
            check_int_at_least(name, getattr(self, name), 0)
        if self.fold is not None:
            check_int_at_least("fold", self.fold, 0)
        if self.clipnorm is not None and not (
                isinstance(self.clipnorm, (int, float)) and self.clipnorm > 0):
            raise ValueError(
                f"`clipnorm` must be > 0 or None. Received: clipnorm={self.clipnorm!r}")
        check_fraction("val_overlap", self.val_overlap)
        check_bool("jit_compile", self.jit_compile)
        check_bool("deterministic", self.deterministic)
        if self.deep_supervision_weights is not None:
            weights = tuple(self.deep_supervision_weights)
            if not weights or any(isinstance(w, bool) or not isinstance(w, (int, float))
                                  or w < 0 for w in weights) or not sum(weights) > 0:
                raise ValueError("`deep_supervision_weights` must be non-negative numbers with "
                                 f"a positive sum. Received: {self.deep_supervision_weights!r}")
            object.__setattr__(self, "deep_supervision_weights", tuple(map(float, weights)))

    @property
    def total_steps(self):
        """Steps of the whole run (`epochs * steps_per_epoch`)."""
        return self.epochs * self.steps_per_epoch


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named experiment: a model and the data and training settings it trains with.

    Attributes:
      model: the ModelConfig.
      data: DataConfig fields that differ from its defaults when training this experiment.
      train: TrainConfig fields likewise.
    """

    model: ModelConfig
    data: dict = dataclasses.field(default_factory=dict)
    train: dict = dataclasses.field(default_factory=dict)


# The named experiments (`--preset`): one table for the model and its training settings;
# experiments without data / train settings train with the DataConfig / TrainConfig defaults
# (nnU-Net-like).
# The built-in sample dataset (tfrecords/sample in the source tree), found from this package
# so that the defaults work from any working folder.
SAMPLE_DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "tfrecords", "sample")

EXPERIMENTS = {
    # Our reading of Pendse et al. (BrainLes 2020): a 5-level 3D U-Net whose encoder and
    # decoder stages are reversible MBConv blocks in the EfficientNet style (expansion 4,
    # squeeze-excite 0.25, swish), trained on large crops of the 4-channel BraTS volume. The
    # paper does not list every width; these follow the usual doubling from 16 channels.
    "paper": Experiment(ModelConfig(filters=(16, 32, 64, 128, 256), encoder_blocks=2,
                                    decoder_blocks=2, expand_ratio=4, se_ratio=0.25)),
    # nnU-Net's widths with reversible MBConv stages: the configuration we train by default.
    "default": Experiment(ModelConfig(filters=(32, 64, 128, 256, 320), encoder_blocks=2,
                                      decoder_blocks=1)),
    # A 4-level model for CPU experiments and memory sweeps.
    "small": Experiment(ModelConfig(filters=(16, 32, 64, 128), encoder_blocks=2,
                                    decoder_blocks=1, expand_ratio=2)),
    # 3 levels and 8 base channels: unit tests, and the CPU demo on the built-in sample
    # dataset (`python -m brats_rev.train` with no flags).
    "tiny": Experiment(
        ModelConfig(filters=(8, 16, 32), encoder_blocks=1, decoder_blocks=1, expand_ratio=2,
                    norm_groups=4),
        data={"data_dir": SAMPLE_DATA_DIR, "patch_size": 32, "batch_size": 2},
        train={"epochs": 16, "steps_per_epoch": 25, "warmup_steps": 25, "val_every": 4,
               "learning_rate": 3e-3, "log_every": 5}),
}


def experiment(name):
    """The named Experiment; unknown names list the available ones."""
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown preset. Received: {name!r}; available: {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def preset(name, **changes):
    """The named experiment's ModelConfig with `changes` applied."""
    return experiment(name).model.replace(**changes)
