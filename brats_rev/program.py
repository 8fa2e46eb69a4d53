"""How every command-line program runs: absl's `app.run`, with a user's mistake as one line.

absl answers a bad flag with a two-line "FATAL Flags parsing error", and an `app.UsageError`
raised by a program with the program's whole docstring and flag list before the message.
`run_main(main)` prints either as `error: <message>` (one line on stderr, the help flags
named) and exits with USAGE_EXIT_CODE; everything else is `app.run`'s.
"""

import sys

from absl import app, flags

# The exit status of a usage mistake (a bad flag, a missing or unusable file or folder).
USAGE_EXIT_CODE = 1
_HINT = "--helpshort lists the flags"


def _fail(message):
    print(f"error: {message} ({_HINT})", file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)


def run_main(main, known_only=False):
    """Runs `main(argv)` as a program (see the module docstring).

    Args:
      main: the entry point; its return value is the exit status.
      known_only: leave flags this program does not define in argv for `main` (which may
        pass them on, as the conversion does to Beam) instead of refusing them.
    """
    def parse(argv):
        try:
            return flags.FLAGS(argv, known_only=known_only)
        except flags.Error as error:
            _fail(error)

    def guarded(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            _fail(error)

    app.run(guarded, flags_parser=parse)
