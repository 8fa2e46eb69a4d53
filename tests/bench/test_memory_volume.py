"""`brats_rev.bench.memory_volume` on real U-Net steps: measured points, then one
extrapolated above the limit."""

import json
import subprocess
import sys

import pytest

from brats_rev.bench import memory_volume


def test_table_cells_say_measured_extrapolated_or_failed():
    assert memory_volume.peak_cell({"measured": True, "peak_bytes": 3 * 2**30}) == "3.00"
    assert memory_volume.peak_cell(
        {"measured": False, "peak_bytes": 2**29}) == "(0.50 extrapolated)"
    assert memory_volume.peak_cell({"measured": False, "peak_bytes": None,
                                    "failed": "killed"}) == "failed (killed); predicted -"


@pytest.mark.slow
def test_command_line_measures_then_extrapolates(tmp_path):
    json_out, markdown_out = tmp_path / "v.json", tmp_path / "v.md"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.memory_volume", "--preset=tiny",
         "--modes=plain", "--dtypes=float32", "--volume_shape=32,32,64",
         "--fractions=0.25,0.5,1.0", "--max_gb=0.001", f"--json_out={json_out}",
         f"--markdown_out={markdown_out}"],
        capture_output=True, text=True, check=True,
    )
    points = json.loads(json_out.read_text())["points"]["plain/float32"]
    assert [p["shape"] for p in points] == [[8, 8, 16], [16, 16, 32], [32, 32, 64]]
    assert [p["measured"] for p in points] == [True, True, False]
    small, large = points[0]["peak_bytes"], points[1]["peak_bytes"]
    assert 0 < small < large  # the first two run whatever the limit: the line needs two
    markdown = markdown_out.read_text()
    assert markdown in done.stdout and "extrapolated)" in markdown
