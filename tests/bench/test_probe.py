"""The memory probe: it refuses an unmeasurable CPU and reports why a child failed."""

import pytest

from brats_rev.bench import isolation, probe


def test_probe_refuses_cpu_measurement_without_bfc(monkeypatch):
    monkeypatch.delenv(isolation.BFC_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="TF_CPU_ALLOCATOR_USE_BFC=true"):
        probe.memory_device()


@pytest.mark.slow
def test_failed_probe_reports_its_stderr():
    with pytest.raises(RuntimeError, match="allowed: \\['stage', 'unet'\\]"):
        isolation.run_in_fresh_process({"what": "teapot"})
