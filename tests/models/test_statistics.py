"""FLOP and parameter counts on layers whose counts are known by hand."""

import json
import subprocess
import sys

import keras
import pytest

from brats_rev.models.statistics import flops_by_op, forward_flops, parameter_counts


def _model(layer, spatial, channels):
    inputs = keras.Input((*spatial, channels))
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "layer,spatial,channels,expected",
    [
        # 2 x voxels x in x out
        (keras.layers.Dense(5, use_bias=False), (2, 2, 2), 3, 2 * 8 * 3 * 5),
        # 2 x output voxels x kernel volume x in x out
        (keras.layers.Conv3D(2, 3, padding="same", use_bias=False), (4, 4, 4), 3,
         2 * 64 * 27 * 3 * 2),
        # 2 x input voxels x kernel volume x in x out (not counted by the profiler itself)
        (keras.layers.Conv3DTranspose(2, 2, strides=2, use_bias=False), (4, 4, 4), 4,
         2 * 64 * 8 * 4 * 2),
        # the same inside another layer, as in the U-Net's skip merges
        (keras.Sequential([keras.layers.Conv3DTranspose(2, 2, strides=2, use_bias=False)]),
         (4, 4, 4), 4, 2 * 64 * 8 * 4 * 2),
    ],
)
def test_forward_flops_of_single_layers(layer, spatial, channels, expected):
    assert forward_flops(_model(layer, spatial, channels)) == expected


def test_flops_by_op_name_the_ops_and_add_up_to_forward_flops():
    inputs = keras.Input((4, 4, 4, 4))
    x = keras.layers.Dense(3, use_bias=False, name="a")(inputs)
    x = keras.layers.Conv3DTranspose(2, 2, strides=2, use_bias=False, name="b")(x)
    model = keras.Model(inputs, x)
    counts = flops_by_op(model)
    assert sum(counts.values()) == forward_flops(model) == 2 * 64 * 4 * 3 + 2 * 64 * 8 * 3 * 2
    [transposed] = [name for name in counts if "/b" in name]
    assert counts[transposed] == 2 * 64 * 8 * 3 * 2


def test_forward_flops_needs_a_static_shape():
    with pytest.raises(ValueError, match="static input shape"):
        forward_flops(_model(keras.layers.Dense(2), (None, None, None), 3))


def test_parameter_counts_by_layer():
    inputs = keras.Input((4, 4, 4, 3))
    x = keras.layers.Dense(5, name="a")(inputs)
    x = keras.layers.Activation("relu", name="b")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="c")(x))
    assert parameter_counts(model) == {"a": 3 * 5 + 5, "c": 5 * 2 + 2}


@pytest.mark.slow
def test_summary_command_line(tmp_path):
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.models.summary", "--preset=tiny", "--patch=16,16,16",
         f"--json_out={out}"],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(out.read_text())
    assert summary["parameters"] == sum(summary["parameters_by_layer"].values())
    assert f"parameters: {summary['parameters']:,d}" in done.stdout
    # The stem alone is 2 x 27 x 4 x 8 FLOPs per voxel; the whole network is more.
    assert summary["forward_flops_per_voxel"] > 2 * 27 * 4 * 8
    assert summary["config"]["filters"] == [8, 16, 32]
    wider = tmp_path / "wider.json"
    subprocess.run(
        [sys.executable, "-m", "brats_rev.models.summary", "--preset=tiny", "--patch=16,16,16",
         "--filters=16,32,64", "--blocks=2", f"--json_out={wider}"],
        capture_output=True, text=True, check=True,
    )
    wider = json.loads(wider.read_text())
    assert wider["config"]["filters"] == [16, 32, 64]
    assert wider["config"]["encoder_blocks"] == [2, 2, 2]
    assert wider["config"]["decoder_blocks"] == [2, 2]
    # Twice the widths alone give about 4x the parameters; twice the couplings add to that.
    assert wider["parameters"] > 4 * summary["parameters"]
