"""Config -> keras.Model: the one place that reads a `ModelConfig`."""

import dataclasses

from brats_rev.config import ModelConfig
from brats_rev.models.unet import reversible_unet


def build_model(config, spatial_shape=(None, None, None)):
    """Builds the U-Net described by `config`.

    Args:
        config: a `brats_rev.config.ModelConfig`.
        spatial_shape: (depth, height, width) of the input, None entries for any size; each
            size must be a multiple of `config.size_multiple`.

    Returns:
        keras.Model: "image" (B, D, H, W, in_channels) -> {"logits": (B, D, H, W, outputs),
        ...deep-supervision logits}.
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"build_model needs a ModelConfig. Received: {type(config).__name__}")
    fields = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    return reversible_unet(**fields, spatial_shape=tuple(spatial_shape))
