"""`brats_rev.bench.memory_unet`: the budget search's tables on a known memory model, and the
command on real U-Net steps."""

import json
import subprocess
import sys

import pytest

from brats_rev.bench import memory_unet, unet_sweep
from tests.bench import memory_models

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LIMITS = {"sweep_patch": 32, "max_edge": 240, "edge_step": 16, "max_blocks": 8,
          "width_step": 8, "max_width": 128}


def _probe():
    return unet_sweep.UnetProbe("default", (32, 64, 128, 256, 320),
                                runner=memory_models.analytic_runner)


def test_budget_tables_on_a_known_memory_model(tmp_path):
    # 48 MiB on memory_models: plain fits 32^3 (42.5^3 voxels), 5 couplings at 32^3 and base
    # width 64; reversible 48^3 (50.4^3), every coupling count tried and width 96.
    probe = _probe()
    budget = memory_unet.search_budget(probe, ["plain", "reversible"], 48, LIMITS, jobs=2)
    assert budget["found"] == {"plain": {"patch_edge": 32, "blocks": 5, "base_width": 64},
                               "reversible": {"patch_edge": 48, "blocks": 8, "base_width": 96}}
    assert budget["largest_tried"] == {"patch_edge": 240, "blocks": 8, "base_width": 128}
    assert budget["capped"] == {"plain": [], "reversible": ["blocks"]}
    sweeps = memory_unet.run_sweeps(probe, ["plain", "reversible"],
                                    {"patch": [16], "blocks": [], "width": [8]}, 32, jobs=1)
    assert set(sweeps) == {"patch", "width"}
    assert sweeps["patch"]["peak_bytes"]["plain"] == [1000 * 32**2 + 16**3 * 32 * 20]
    text = memory_unet.markdown(probe, ["plain", "reversible"], sweeps, budget, 32)
    assert f"| 16 | {(1000 * 32**2 + 16**3 * 32 * 20) / 2**20:.0f} |" in text
    assert "| plain | 32 | 5 | 64 |" in text
    assert "| reversible | 48 | ≥ 8 (largest tried) | 96 |" in text
    assert "| voxels | 3.38x | 3.0x |" in text  # (48 / 32)^3
    assert "| depth | ≥ 1.60x | 1.25x |" in text  # reversible reached the largest tried
    assert "| width | 1.50x | 2.0x |" in text
    memory_unet.plot(str(tmp_path / "m.png"), probe, 48, 32)
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG_SIGNATURE


def test_a_ratio_is_not_shown_when_plain_reaches_the_largest_tried():
    probe = _probe()
    budget = memory_unet.search_budget(probe, ["plain", "reversible"], 48,
                                       {**LIMITS, "max_blocks": 4}, jobs=1)
    assert budget["capped"] == {"plain": ["blocks"], "reversible": ["blocks"]}
    text = memory_unet.markdown(probe, ["plain", "reversible"], {}, budget, 32)
    assert "| depth | - (raise the largest tried) | 1.25x |" in text


@pytest.mark.slow
def test_command_line_sweeps_real_steps(tmp_path):
    out = {name: tmp_path / f"unet.{name}" for name in ("json", "md", "png")}
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.memory_unet", "--preset=tiny",
         "--modes=plain,reversible", "--patches=8", "--blocks=1", "--sweep_patch=8",
         "--budget_mb=0", f"--json_out={out['json']}", f"--markdown_out={out['md']}",
         f"--plot_out={out['png']}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(out["json"].read_text())
    assert set(payload["sweeps"]) == {"patch", "blocks"} and payload["budget"] is None
    assert len(payload["points"]) == 4
    assert {point["spec"]["changes"]["block_mode"] for point in payload["points"]} == {
        "plain", "reversible"}
    plain_8 = payload["sweeps"]["patch"]["peak_bytes"]["plain"][0]
    assert 0 < plain_8 < 2**20 * 50
    markdown = out["md"].read_text()
    assert markdown in done.stdout
    assert f"| 8 | {plain_8 / 2**20:.0f} |" in markdown
    assert out["png"].read_bytes()[:8] == PNG_SIGNATURE
