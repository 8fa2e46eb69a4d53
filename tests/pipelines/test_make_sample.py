"""The committed sample dataset is exactly what its regeneration command produces."""

import os
import pathlib

import pytest

from brats_rev.data import manifest, records
from pipelines import make_sample
from tests.pipelines.folders import file_bytes

SAMPLE_DIR = pathlib.Path(__file__).resolve().parents[2] / "tfrecords" / "sample"


@pytest.mark.slow
def test_committed_sample_regenerates_byte_identically(tmp_path):
    document = make_sample.make_sample(str(tmp_path), progress_stream=open(os.devnull, "w"))
    produced = file_bytes(tmp_path)
    folder = os.path.dirname(document["shards"][0]["file"])
    assert list(produced) == [manifest.MANIFEST_NAME] + [
        os.path.join(folder, name) for name in ("brats-00000-of-00002.tfrecord.gz",
                                                "brats-00001-of-00002.tfrecord.gz",
                                                manifest.REJECTED_NAME)]
    committed = {path: data for path, data in file_bytes(SAMPLE_DIR).items()
                 if path != "README.md"}
    assert produced == committed


def test_sample_is_realistic_holds_every_class_and_stays_small():
    cases = list(records.read_cases(str(SAMPLE_DIR)))
    assert make_sample.SAMPLE.kind == "realistic"
    assert len(cases) == make_sample.SAMPLE.num_cases
    for case in cases:  # the tiny preset's 32^3 patch fits without padding
        assert min(case["image"].shape[:3]) >= 32, case["case_id"]
        assert len(case["foreground"]["ED"]) > 0, case["case_id"]
    # Each class in most cases, not in all (case mix).
    for name in records.foreground_classes("gli2023"):
        present = sum(len(case["foreground"][name]) > 0 for case in cases)
        assert present >= len(cases) // 2, name
    size = sum(len(data) for data in file_bytes(SAMPLE_DIR).values())
    assert size < 4_000_000

