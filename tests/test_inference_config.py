"""InferenceConfig validation, normalisation and round trip."""

import pytest

from brats_rev import tasks
from brats_rev.config import InferenceConfig

GLI, PED = tasks.TASKS["gli2023"], tasks.TASKS["ped2024"]


def test_defaults_and_round_trip():
    config = InferenceConfig(thresholds=[0.4, 0.5, 0.6], tta="flips8")
    assert config.thresholds == (0.4, 0.5, 0.6)
    assert InferenceConfig(**config.to_dict()) == config
    assert config.replace(tta="none") == InferenceConfig(thresholds=(0.4, 0.5, 0.6))
    assert InferenceConfig().overlap == 0.5 and InferenceConfig().et_min_voxels == 0


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"overlap": 1.0}, "overlap=1.0"),
        ({"overlap": -0.1}, "overlap=-0.1"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"sigma_scale": 0}, "sigma_scale=0"),
        ({"tta": "flips"}, "tta='flips'"),
        ({"thresholds": ()}, "thresholds=()"),
        ({"thresholds": (0.5, 0.5, 1.0)}, "thresholds=(0.5, 0.5, 1.0)"),
        ({"et_min_voxels": -1}, "et_min_voxels=-1"),
        ({"et_min_voxels": 2.5}, "et_min_voxels=2.5"),
        ({"crop_margin": True}, "crop_margin=True"),
        ({"label_convention": 2021}, "label_convention=2021"),
    ],
)
def test_bad_values_are_rejected_with_what_was_received(changes, message):
    with pytest.raises(ValueError, match="Received") as error:
        InferenceConfig(**changes)
    assert message in str(error.value)


def test_output_convention_is_the_configured_one_else_the_cases_if_the_task_has_it():
    assert InferenceConfig().output_convention("brats2021", GLI) == "brats2021"
    assert InferenceConfig(label_convention="brats2023").output_convention("brats2021", GLI) == (
        "brats2023")
    assert InferenceConfig().output_convention("brats2023", PED) == "brats2024-ped"


def test_thresholds_and_convention_are_checked_against_the_task():
    assert InferenceConfig().region_thresholds(PED) == (0.5,) * 6
    config = InferenceConfig(thresholds=(0.4, 0.5, 0.6), label_convention="brats2021")
    config.check_task(GLI)
    with pytest.raises(ValueError, match=r"one value per region of task ped2024 \(WT, TC, ET, "
                                         r"NETC, CC, ED\)"):
        config.region_thresholds(PED)
    with pytest.raises(ValueError, match="'brats2021' is not one of task ped2024's"):
        config.replace(thresholds=None).check_task(PED)
