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
def test_command_line_shows_the_reversible_unet_flat_in_couplings(tmp_path):
    """One training step of the tiny U-Net (levels of 8, 16, 32 channels) on a 32^3 patch at 1
    and 4 couplings per level, each point in a fresh process, two side by side: the command's
    JSON, tables and plot, and what its points show."""
    out = {name: tmp_path / f"unet.{name}" for name in ("json", "md", "png")}
    done = subprocess.run(
        [sys.executable, "-m", "brats_rev.bench.memory_unet", "--preset=tiny",
         "--modes=reversible,plain", "--blocks=1,4", "--sweep_patch=32", "--budget_mb=0",
         "--jobs=2", f"--json_out={out['json']}", f"--markdown_out={out['md']}",
         f"--plot_out={out['png']}"],
        capture_output=True, text=True, check=True,
    )
    payload = json.loads(out["json"].read_text())
    assert set(payload["sweeps"]) == {"blocks"} and payload["budget"] is None
    points = payload["points"]
    assert len(points) == 4 and all(p["step_seconds"] > 0 for p in points)
    markdown = out["md"].read_text()
    assert markdown in done.stdout
    peaks = payload["sweeps"]["blocks"]["peak_bytes"]
    assert f"| 4 | {peaks['reversible'][1] / 2**20:.0f} | {peaks['plain'][1] / 2**20:.0f} |" \
        in markdown
    assert out["png"].read_bytes()[:8] == PNG_SIGNATURE
    # What the step allocates above what it starts with (weights and Adam slots, which grow
    # with the couplings in both modes): activations, gradients and temporaries.
    step = {(p["spec"]["changes"]["block_mode"], p["spec"]["changes"]["encoder_blocks"]):
            p["peak_bytes"] - p["baseline_bytes"] for p in points}
    plain_growth = step["plain", 4] - step["plain", 1]
    reversible_growth = step["reversible", 4] - step["reversible", 1]
    # Plain keeps every coupling's activations for the backward pass: measured 44 MB at one
    # coupling and about 31 MB more per coupling (92 MB from 1 to 4).
    assert plain_growth >= 1.5 * step["plain", 1], step
    # Reversible recomputes them. Measured over 13 processes: 12.3-14.9 MB at 1 coupling,
    # 11.8-15.2 MB at 3 and 4; the executor's op order moves the peak, so one process per
    # point may see a growth of up to 3.4 MB. A reversible U-Net that kept one feature map per
    # extra coupling (each coupling's input: about 2.7 MB over the encoder and decoder levels)
    # would grow by 8.1 MB. 6% of plain's growth (about 5.5 MB) lies between the two.
    assert reversible_growth <= 0.06 * plain_growth, step
    # And at 4 couplings the whole step's peak (15% measured).
    assert peaks["reversible"][1] < 0.3 * peaks["plain"][1], peaks
