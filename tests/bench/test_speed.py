"""The speed benchmark's command line runs every variant and reports consistent medians."""

import json
import statistics
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.parametrize(
    "what,variants", [("depthwise", {"decomposed", "grouped", "decomposed+xla"}),
                      ("groupnorm", {"brats_rev", "keras"}),
                      ("stage", {"plain", "reversible", "recompute"}),
                      ("unet", {"plain", "reversible", "recompute"})]
)
def test_command_line(what, variants, tmp_path):
    json_out = tmp_path / "speed.json"
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.speed", f"--what={what}", "--shape=8,8,8",
         "--channels=4", "--num_blocks=1", "--preset=tiny", "--warmup=1", "--repeats=3",
         f"--json_out={json_out}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(json_out.read_text())
    assert set(payload["seconds"]) == variants
    for name, values in payload["seconds"].items():
        assert len(values) == 3 and all(v > 0 for v in values)
        assert payload["median_seconds"][name] == statistics.median(values)
        assert f"| {name} |" in done.stdout
