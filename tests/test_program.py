"""`brats_rev.program.run_main`: a bad flag or a usage error is one line and exit status 1."""

import subprocess
import sys

import pytest

from brats_rev import program

# A program defining one required flag, run the way every program runs.
SCRIPT = """
from absl import app, flags
from brats_rev import program

flags.DEFINE_string("folder", None, "A folder.", required=True)

def main(argv):
    if flags.FLAGS.folder == "missing":
        raise app.UsageError("--folder 'missing' is not a folder.")
    print("ran with", argv[1:])
    return 3

program.run_main(main, known_only={known_only})
"""


def _run(*args, known_only=False):
    return subprocess.run([sys.executable, "-c", SCRIPT.format(known_only=known_only), *args],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("args, message", [
    (["--folder=missing"], "error: --folder 'missing' is not a folder."),
    ([], "error: flag --folder=None: Flag --folder must have a value other than None."),
    (["--folder=x", "--colour=red"], "error: Unknown command line flag 'colour'"),
])
def test_a_mistake_is_one_line_and_the_usage_exit_code(args, message):
    done = _run(*args)
    assert done.returncode == program.USAGE_EXIT_CODE == 1
    assert done.stderr.splitlines() == [f"{message} (--helpshort lists the flags)"]
    assert done.stdout == ""


def test_main_runs_and_unknown_flags_can_be_passed_on():
    done = _run("--folder=x", "--colour=red", known_only=True)
    assert (done.returncode, done.stdout) == (3, "ran with ['--colour=red']\n"), done.stderr
