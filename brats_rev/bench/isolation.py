"""Run one memory measurement in a fresh process (docs/ARCHITECTURE.md, "Facts", 3).

On CPU, TensorFlow's allocator reports exact peak bytes only when the BFC allocator is
enabled with `TF_CPU_ALLOCATOR_USE_BFC=true` before TensorFlow starts, and a process that has
run other work carries its allocations and caches along. So each point runs in a child
process (`python -m brats_rev.bench.probe`) started with that environment.
"""

import json
import os
import subprocess
import sys

BFC_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"
RESULT_PREFIX = "BRATS_REV_PROBE_RESULT "


def measurement_environment():
    """A copy of `os.environ` for a measuring child process: BFC allocator, quiet logs."""
    return dict(os.environ, **{BFC_VARIABLE: "true", "TF_CPP_MIN_LOG_LEVEL": "2"})


def run_in_fresh_process(spec, timeout_s=1800):
    """Measures `spec` (a JSON-serialisable dict, see `brats_rev.bench.probe`) in a child.

    Returns:
        The child's result dict: peak and baseline bytes of one training step.

    Raises:
        RuntimeError: the child failed for another reason; the message holds its stderr tail.
    """
    command = [sys.executable, "-m", "brats_rev.bench.probe", f"--spec={json.dumps(spec)}"]
    done = subprocess.run(
        command,
        env=measurement_environment(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = "\n".join(done.stderr.splitlines()[-25:])
    raise RuntimeError(
        f"memory probe failed (exit code {done.returncode}) for spec {spec}:\n{tail}"
    )
