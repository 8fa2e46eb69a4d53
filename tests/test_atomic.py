"""Atomic writes: the final name appears only complete; a failure leaves the old file."""

import os

import pytest

from brats_rev import atomic


def test_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "report.json"
    atomic.write_text(str(path), "first")
    atomic.write_text(str(path), "second")
    assert path.read_text() == "second"
    assert os.listdir(tmp_path) == ["report.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_failure_keeps_previous_version(tmp_path):
    path = tmp_path / "shard"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic.atomic_path(str(path)) as temporary:
            with open(temporary, "w") as stream:
                stream.write("half")
            assert os.path.dirname(temporary) == str(tmp_path)
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["shard"]


def test_write_json_is_sorted_indented_and_creates_the_folder(tmp_path):
    path = tmp_path / "bench" / "result.json"
    atomic.write_json(str(path), {"b": 1, "a": [1.5, None]})
    assert path.read_text() == '{\n  "a": [\n    1.5,\n    null\n  ],\n  "b": 1\n}\n'
    assert os.listdir(tmp_path / "bench") == ["result.json"]
