"""The run folder's configuration file: written once, read back equal, refused when broken."""

import json

import pytest

from brats_rev import run_folder
from brats_rev.config import DataConfig, TrainConfig, preset


def _run():
    return run_folder.RunConfig(preset("tiny"), DataConfig(patch_size=48),
                                TrainConfig(epochs=3, steps_per_epoch=7, warmup_steps=2))


def test_config_round_trips_as_sorted_json(tmp_path):
    run_folder.write_config(_run(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [run_folder.CONFIG_FILE]  # no temp
    values = json.loads((tmp_path / run_folder.CONFIG_FILE).read_text())
    assert list(values) == ["data", "model", "train"] and values["data"]["patch_size"] == [48] * 3
    assert run_folder.read_config(tmp_path) == _run()


def test_a_folder_without_config_has_none(tmp_path):
    assert run_folder.read_config(tmp_path) is None


@pytest.mark.parametrize("text, message", [
    ("{not json", "Cannot read config file .*config.json"),
    ('{"model": {}, "data": {}}', "config.json is not a run configuration .*KeyError: 'train'"),
    ('{"model": {"nope": 1}, "data": {}, "train": {}}', "config.json is not a run config.*nope"),
])
def test_a_broken_config_names_the_file(tmp_path, text, message):
    (tmp_path / run_folder.CONFIG_FILE).write_text(text)
    with pytest.raises(ValueError, match=message):
        run_folder.read_config(tmp_path)
