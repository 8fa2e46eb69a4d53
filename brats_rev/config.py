"""Frozen configuration dataclasses and named presets.

Pure Python: imports nothing of ours and no TensorFlow, so entry points, pipelines and tests
can read and validate a configuration before anything heavy starts. `brats_rev.models.factory`
is the only reader of `ModelConfig`.
"""

import dataclasses

BLOCK_MODES = ("reversible", "plain", "recompute")
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
DEPTHWISE_IMPLEMENTATIONS = ("auto", "decomposed", "grouped")


def _per_level(name, value, count):
    """An int broadcast to `count` levels, or a sequence of `count` positive ints, as a tuple."""
    values = (value,) * count if isinstance(value, int) else tuple(value)
    if len(values) != count or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values
    ):
        raise ValueError(
            f"`{name}` must be a positive int or {count} positive ints (one per level). "
            f"Received: {name}={value!r}"
        )
    return values


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}. Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The reversible MBConv 3D U-Net.

    Attributes:
        in_channels: input modalities (4 for BraTS: flair, t1, t1ce, t2).
        num_outputs: output region logits (3: WT, TC, ET; sigmoid, not softmax).
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
        filters = _per_level("filters", tuple(self.filters), len(tuple(self.filters)))
        if len(filters) < 2 or any(f % 2 for f in filters):
            raise ValueError(
                "`filters` needs at least 2 levels of even channel counts. "
                f"Received: filters={self.filters!r}"
            )
        object.__setattr__(self, "filters", filters)
        object.__setattr__(
            self, "encoder_blocks", _per_level("encoder_blocks", self.encoder_blocks, self.levels)
        )
        object.__setattr__(
            self,
            "decoder_blocks",
            _per_level("decoder_blocks", self.decoder_blocks, self.levels - 1),
        )
        _per_level("in_channels", self.in_channels, 1)
        _per_level("num_outputs", self.num_outputs, 1)
        _per_level("kernel_size", self.kernel_size, 1)
        _per_level("norm_groups", self.norm_groups, 1)
        if not self.expand_ratio >= 1:
            raise ValueError(f"`expand_ratio` must be >= 1. Received: {self.expand_ratio!r}")
        if not 0 <= self.se_ratio < 1:
            raise ValueError(f"`se_ratio` must be in [0, 1). Received: {self.se_ratio!r}")
        _choice("block_mode", self.block_mode, BLOCK_MODES)
        _choice("dtype_policy", self.dtype_policy, DTYPE_POLICIES)
        _choice("depthwise_implementation", self.depthwise_implementation,
                DEPTHWISE_IMPLEMENTATIONS)

    @property
    def levels(self):
        """Resolution levels (the coarsest is the bottleneck)."""
        return len(self.filters)

    @property
    def size_multiple(self):
        """Every spatial input size must be a multiple of this (2 ** (levels - 1))."""
        return 2 ** (self.levels - 1)

    def replace(self, **changes):
        """A copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """JSON-ready dict; `ModelConfig(**d)` rebuilds the same config."""
        return {
            field.name: list(v) if isinstance(v := getattr(self, field.name), tuple) else v
            for field in dataclasses.fields(self)
        }


PRESETS = {
    # Our reading of Pendse et al. (BrainLes 2020): a 5-level 3D U-Net whose encoder and
    # decoder stages are reversible MBConv blocks in the EfficientNet style (expansion 4,
    # squeeze-excite 0.25, swish), trained on large crops of the 4-channel BraTS volume. The
    # paper does not list every width; these follow the usual doubling from 16 channels.
    "paper": ModelConfig(
        filters=(16, 32, 64, 128, 256),
        encoder_blocks=2,
        decoder_blocks=2,
        expand_ratio=4,
        se_ratio=0.25,
    ),
    # nnU-Net's widths with reversible MBConv stages: the configuration we train by default.
    "default": ModelConfig(filters=(32, 64, 128, 256, 320), encoder_blocks=2, decoder_blocks=1),
    # A 4-level model for CPU experiments and memory sweeps.
    "small": ModelConfig(filters=(16, 32, 64, 128), encoder_blocks=2, decoder_blocks=1,
                         expand_ratio=2),
    # 3 levels and 8 base channels: unit tests and the CPU demo.
    "tiny": ModelConfig(filters=(8, 16, 32), encoder_blocks=1, decoder_blocks=1,
                        expand_ratio=2, norm_groups=4),
}


def preset(name, **changes):
    """The named preset with `changes` applied; unknown names list the available ones."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset. Received: {name!r}; available: {sorted(PRESETS)}")
    return PRESETS[name].replace(**changes)
