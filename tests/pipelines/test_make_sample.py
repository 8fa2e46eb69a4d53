"""The committed sample dataset is exactly what its regeneration command produces."""

import os
import pathlib

import pytest

from brats_rev.data import records
from pipelines import make_sample

SAMPLE_DIR = pathlib.Path(__file__).resolve().parents[2] / "tfrecords" / "sample"


@pytest.mark.slow
def test_committed_sample_regenerates_byte_identically(tmp_path):
    make_sample.make_sample(str(tmp_path), progress_stream=open(os.devnull, "w"))
    produced = sorted(os.listdir(tmp_path))
    assert produced == ["brats-00000-of-00002.tfrecord.gz", "brats-00001-of-00002.tfrecord.gz",
                        "manifest.json", "rejected.json"]
    for name in produced:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name


def test_sample_is_realistic_holds_every_class_and_stays_small():
    cases = list(records.read_cases(str(SAMPLE_DIR)))
    assert make_sample.SAMPLE.kind == "realistic"
    assert len(cases) == make_sample.SAMPLE.num_cases
    for case in cases:  # the tiny preset's 32^3 patch fits without padding
        assert min(case["image"].shape[:3]) >= 32, case["case_id"]
        assert len(case["foreground"]["ED"]) > 0, case["case_id"]
    for name in records.FOREGROUND_CLASSES:  # each class in most cases, not in all (case mix)
        present = sum(len(case["foreground"][name]) > 0 for case in cases)
        assert present >= len(cases) // 2, name
    size = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir())
    assert size < 4_000_000

