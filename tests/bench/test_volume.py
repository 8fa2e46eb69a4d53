"""Whole-volume memory: scaled shapes, the affine fit, and which points are run."""

import math

import pytest

from brats_rev.bench import volume


@pytest.mark.parametrize(
    "fraction,expected",
    [(1.0, (240, 240, 160)), (0.2, (48, 48, 32)), (0.4, (96, 96, 64)), (0.01, (16, 16, 16))],
)
def test_scaled_shape_rounds_each_edge_to_the_multiple(fraction, expected):
    assert volume.scaled_shape((240, 240, 160), fraction, 16) == expected


def test_affine_fit_recovers_a_line():
    intercept, slope = volume.affine_fit([10, 20, 40], [1030, 1060, 1120])
    assert intercept == pytest.approx(1000) and slope == pytest.approx(3)


def _runner(calls):
    def run(spec):
        calls.append(spec)
        return {"peak_bytes": 1_000 + 10 * math.prod(spec["patch"])}
    return run


def test_points_above_the_limit_are_extrapolated_and_never_run():
    calls = []
    points = volume.volume_points(_runner(calls), "default", "plain", "float32",
                                  (160, 160, 160), [0.1, 0.2, 0.3, 0.5, 1.0], 16,
                                  max_bytes=2_000_000)
    run_shapes = [tuple(spec["patch"]) for spec in calls]
    assert run_shapes == [(16, 16, 16), (32, 32, 32), (48, 48, 48)]
    assert calls[0]["changes"] == {"block_mode": "plain", "dtype_policy": "float32"}
    assert [p["measured"] for p in points] == [True, True, True, False, False]
    # 80^3 would need 5.12e6 bytes > 2e6: predicted from the line, exactly on this model.
    assert points[3] == {"shape": [80, 80, 80], "voxels": 80**3,
                         "peak_bytes": 1_000 + 10 * 80**3, "measured": False}
    assert points[4]["peak_bytes"] == 1_000 + 10 * 160**3


def test_everything_is_measured_under_a_generous_limit_and_duplicates_collapse():
    calls = []
    points = volume.volume_points(_runner(calls), "tiny", "reversible", "mixed_float16",
                                  (64, 64, 32), [0.1, 0.2, 1.0], 16, max_bytes=10**12)
    assert [tuple(spec["patch"]) for spec in calls] == [(16, 16, 16), (64, 64, 32)]
    assert all(p["measured"] for p in points)
    assert points[-1]["peak_bytes"] == 1_000 + 10 * 64 * 64 * 32


def test_a_failed_point_is_reported_and_the_larger_ones_extrapolated():
    calls = []
    good = _runner(calls)

    def runner(spec):
        if spec["patch"] == [48, 48, 48]:
            calls.append(spec)
            raise RuntimeError("memory probe failed (exit code -9) for spec ...\nstderr tail")
        return good(spec)

    points = volume.volume_points(runner, "default", "reversible", "float32", (160, 160, 160),
                                  [0.1, 0.2, 0.3, 1.0], 16, max_bytes=10**12)
    assert [tuple(spec["patch"]) for spec in calls] == [(16, 16, 16), (32, 32, 32), (48, 48, 48)]
    assert points[2] == {"shape": [48, 48, 48], "voxels": 48**3, "measured": False,
                         "peak_bytes": 1_000 + 10 * 48**3,
                         "failed": "memory probe failed (exit code -9) for spec ..."}
    assert points[3]["measured"] is False and "failed" not in points[3]
    assert points[3]["peak_bytes"] == 1_000 + 10 * 160**3


def test_nothing_larger_runs_after_an_early_failure():
    calls = []

    def runner(spec):
        calls.append(spec)
        raise RuntimeError("memory probe failed (exit code -9)")

    points = volume.volume_points(runner, "default", "plain", "float32", (160, 160, 160),
                                  [0.1, 0.2, 1.0], 16, max_bytes=10**12)
    assert len(calls) == 1
    assert [p["measured"] for p in points] == [False, False, False]
    assert points[0]["failed"] == "memory probe failed (exit code -9)"
    assert [p["peak_bytes"] for p in points] == [None, None, None]
