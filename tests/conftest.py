"""Test-wide settings: quiet TensorFlow logs, float32 policy and fixed seeds per test, and the
rule that keeps the two tiers apart.

Tiers: `make test-fast` runs the tests not marked `slow` (the inner loop, < 3 min on 2 cores);
`make test` runs everything. An unmarked test whose setup or call phase takes longer than
FAST_TIER_SECONDS of wall time fails with a message saying so, so a slow test cannot creep into
the fast tier unnoticed. The limit leaves room for a loaded machine: tests are marked slow from
about 2 s on an idle one.

The longest test (the demo, a third of the full tier's wall time) runs first, so
that the other worker runs the rest beside it instead of one worker running it alone at the end.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

FAST_TIER_SECONDS = 5.0
LONGEST_FIRST = ("tests/test_demo.py::test_quick_demo_writes_every_artefact_and_learns",)


def pytest_collection_modifyitems(items):
    """Moves the LONGEST_FIRST tests to the front (pytest-xdist deals tests out in order)."""
    items.sort(key=lambda item: item.nodeid not in LONGEST_FIRST)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from seed 0 and the float32 policy, and restores the policy."""
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Fails a passing unmarked test whose setup or call took over FAST_TIER_SECONDS."""
    outcome = yield
    report = outcome.get_result()
    if (call.when in ("setup", "call") and report.passed and call.duration > FAST_TIER_SECONDS
            and item.get_closest_marker("slow") is None):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid}: {call.when} took {call.duration:.1f} s, over the "
                           f"fast tier's {FAST_TIER_SECONDS:g} s: mark it "
                           "@pytest.mark.slow or make it faster")
