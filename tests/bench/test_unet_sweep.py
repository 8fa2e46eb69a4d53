"""U-Net sweeps and the fixed-budget search."""

import pytest

from brats_rev.bench import unet_sweep
from brats_rev.bench.search import largest_fitting
from tests.bench import memory_models


def test_largest_fitting_probes_upward_and_bisects():
    calls = []

    def fits(x):
        calls.append(x)
        return x <= 37

    assert largest_fitting(list(range(1, 101)), fits, gallop=True) == 37
    assert calls == [1, 2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]
    calls.clear()
    assert largest_fitting([16, 32, 48, 64, 80, 96], fits) == 32
    assert calls == [16, 32, 48]  # linear: never beyond the first failure
    assert largest_fitting([40, 50], fits) is None
    assert largest_fitting([1, 2, 3], lambda x: True, gallop=True) == 3


@pytest.mark.parametrize(
    "filters,base,expected",
    [((32, 64, 128, 256, 320), 48, (48, 96, 192, 384, 480)),
     ((8, 16, 32), 4, (4, 8, 16)), ((8, 16, 32), 3, (4, 6, 12))],
)
def test_scaled_filters_are_even(filters, base, expected):
    assert unet_sweep.scaled_filters(filters, base) == expected


@pytest.mark.parametrize("jobs", [1, 4])
def test_budget_search_matches_exhaustive_search_on_a_known_memory_model(jobs):
    budget, patch = 50_000_000, (32, 32, 32)
    edges, blocks, widths = list(range(16, 241, 16)), list(range(1, 33)), list(range(8, 257, 8))
    probe = unet_sweep.UnetProbe("default", (32, 64, 128, 256, 320),
                                 runner=memory_models.analytic_runner)
    found = unet_sweep.budget_search(probe, ["plain", "reversible"], budget, patch, edges,
                                     blocks, widths, jobs=jobs)
    oracle = unet_sweep.UnetProbe("default", (32, 64, 128, 256, 320),
                                  runner=memory_models.analytic_runner)

    def exhaustive(mode, values, arguments):
        fitting = [v for v in values if oracle.peak_bytes(mode, **arguments(v)) <= budget]
        return max(fitting) if fitting else None

    for mode in ("plain", "reversible"):
        assert found[mode] == {
            "patch_edge": exhaustive(mode, edges, lambda e: {"patch": (e, e, e)}),
            "blocks": exhaustive(mode, blocks, lambda n: {"patch": patch, "blocks": n}),
            "base_width": exhaustive(mode, widths, lambda w: {"patch": patch, "base_width": w}),
        }
    # Hand-checked for this memory model: plain fits 32^3, 5 blocks, width 64.
    assert found["plain"] == {"patch_edge": 32, "blocks": 5, "base_width": 64}
    assert found["reversible"] == {"patch_edge": 48, "blocks": 32, "base_width": 96}
    assert len(probe.points) < len(oracle.points) / 3  # far fewer probes than exhaustive
    ratios = unet_sweep.budget_ratios(found)
    assert ratios == pytest.approx({"voxels": 1.5**3, "depth": 32 / 5, "width": 96 / 64})


@pytest.mark.parametrize("jobs", [1, 3])
def test_sweep_keeps_values_in_order_whatever_the_jobs(jobs):
    probe = unet_sweep.UnetProbe("default", (32, 64, 128, 256, 320),
                                 runner=memory_models.analytic_runner)
    peaks = unet_sweep.sweep(probe, ["plain", "reversible"], "blocks", [1, 2, 4], (16, 16, 16),
                             jobs=jobs)
    weights, per_block = 1000 * 32**2, 16**3 * 32
    assert peaks == {
        "plain": [weights + per_block * (4 + 8 * n) for n in (1, 2, 4)],
        "reversible": [weights + per_block * 12] * 3,
    }


def test_measured_curves_sort_every_point_onto_its_axis():
    peaks = iter([500, 300, 200, 250, 900, 400, 100])
    probe = unet_sweep.UnetProbe("default", (32, 64, 128, 256, 320),
                                 runner=lambda spec: {"spec": spec, "peak_bytes": next(peaks)})
    probe.peak_bytes("plain", (48, 48, 48))
    probe.peak_bytes("plain", (32, 32, 32))
    probe.peak_bytes("plain", (32, 32, 32), blocks=1)
    probe.peak_bytes("plain", (32, 32, 32), blocks=1)  # a repeat: the worst counts
    probe.peak_bytes("plain", (32, 32, 32), blocks=4)
    probe.peak_bytes("reversible", (32, 32, 32), base_width=64)
    probe.peak_bytes("reversible", (32, 32, 32), base_width=16)
    assert unet_sweep.measured_curves(probe.points) == {
        "patch": {"plain": ([32, 48], [300, 500])},
        "blocks": {"plain": ([1, 4], [250, 900])},
        "width": {"reversible": ([16, 64], [100, 400])},
    }


def test_repeats_take_the_worst_peak():
    peaks = iter([100, 300, 200])
    probe = unet_sweep.UnetProbe("tiny", (8, 16, 32), repeats=3,
                                 runner=lambda spec: {"spec": spec, "peak_bytes": next(peaks)})
    assert probe.peak_bytes("plain", (8, 8, 8), blocks=2, base_width=4) == 300
    assert len(probe.points) == 3
    assert probe.points[0]["spec"]["changes"] == {
        "block_mode": "plain", "encoder_blocks": 2, "decoder_blocks": 2, "filters": [4, 8, 16]}


def test_budget_ratio_is_none_when_plain_fits_nothing():
    found = {"plain": {"patch_edge": None, "blocks": None, "base_width": None},
             "reversible": {"patch_edge": 32, "blocks": 2, "base_width": 16}}
    assert unet_sweep.budget_ratios(found) == {"voxels": None, "depth": None, "width": None}
