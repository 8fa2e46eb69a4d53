"""Peak allocator bytes measured by a script run in a fresh process (BFC allocator)."""

import json
import subprocess
import sys

from brats_rev.bench import isolation


def measured_peaks(script):
    """Runs the Python `script` in a fresh interpreter with the measurement environment; the
    script prints "PEAKS" and then a JSON object, which is returned (e.g. {name: bytes})."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=isolation.measurement_environment(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("PEAKS", 1)[1])
