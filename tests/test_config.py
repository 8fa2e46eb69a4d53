"""ModelConfig validation, normalisation and presets."""

import pytest

from brats_rev.config import (
    BLOCK_MODES,
    DEPTHWISE_IMPLEMENTATIONS,
    EXPERIMENTS,
    ModelConfig,
    preset,
)
from brats_rev.layers.depthwise import IMPLEMENTATIONS
from brats_rev.layers.reversible import MODES


def test_block_counts_broadcast_per_level():
    config = ModelConfig(filters=(8, 16, 32, 64), encoder_blocks=3, decoder_blocks=(1, 2, 3))
    assert config.encoder_blocks == (3, 3, 3, 3)
    assert config.decoder_blocks == (1, 2, 3)
    assert config.levels == 4 and config.size_multiple == 8


def test_round_trip_through_dict_and_replace():
    config = preset("paper", block_mode="plain")
    assert ModelConfig(**config.to_dict()) == config
    assert config.replace(block_mode="reversible") == EXPERIMENTS["paper"].model
    with pytest.raises(AttributeError):
        config.filters = (2, 4)


def test_presets_cover_the_documented_names():
    assert {"paper", "default", "small", "tiny"} <= set(EXPERIMENTS)
    assert EXPERIMENTS["default"].model.filters == (32, 64, 128, 256, 320)
    assert min(EXPERIMENTS["default"].model.encoder_blocks) >= 2
    assert EXPERIMENTS["tiny"].model.size_multiple == 4


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"filters": (8, 15)}, "even"),
        ({"filters": (8,)}, "at least 2 levels"),
        ({"encoder_blocks": (1, 2)}, "encoder_blocks=(1, 2)"),
        ({"decoder_blocks": 0}, "decoder_blocks=0"),
        ({"block_mode": "revnet"}, "block_mode='revnet'"),
        ({"dtype_policy": "float16"}, "dtype_policy='float16'"),
        ({"expand_ratio": 0.5}, "expand_ratio"),
        ({"se_ratio": 1.0}, "se_ratio"),
    ],
)
def test_bad_values_are_rejected_with_what_was_received(changes, message):
    with pytest.raises(ValueError, match="Received") as error:
        preset("tiny", **changes)
    assert message in str(error.value)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: \\['default', 'paper', 'small', 'tiny'\\]"):
        preset("huge")


def test_config_choices_match_the_layers():
    # config.py stays free of TensorFlow, so it keeps its own copies of these lists.
    assert BLOCK_MODES == MODES
    assert DEPTHWISE_IMPLEMENTATIONS == IMPLEMENTATIONS
