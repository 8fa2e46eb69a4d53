"""Quiet start-up for the command-line programs: TensorFlow's C++ notices are filtered out.

Importing TensorFlow prints INFO lines from its C++ libraries (oneDNN is on, no CUDA driver,
the CPU instruction set) before its logging is set up, so TF_CPP_MIN_LOG_LEVEL does not hide
them, and the first device listing adds an ERROR line, "failed call to cuInit", on every
machine without a GPU. A newcomer reads those as failures. `install()` arranges for the first
`import tensorflow` of the process to run with file descriptor 2 captured, followed by the
device listing; afterwards every captured line is written back to stderr except the notices
(NOTICE_PATTERNS), TensorFlow's later C++ messages are turned off (TF_CPP_MIN_LOG_LEVEL=3
unless the environment sets it), its Python logger is set to ERROR (deprecation notices
about its own internals), and INFO records that TensorFlow's or Keras' own modules send through
absl's logger (one line per checkpoint written, for instance) are dropped; the program's own
INFO lines stay. Python warnings and errors pass. Keras' optional scikit-learn wrappers, which
no program uses, find no scikit-learn, so starting Keras does not load it (docs/BENCHMARKS.md,
"Program start-up"); every other module imports scikit-learn as usual.

The programs call it first thing (the `brats_rev` and `pipelines` packages do so when the
process was started as `python -m brats_rev.<program>`, `python -m pipelines.<program>` or
as a `brats-rev-*` script, or by such a program: its worker processes, local or on a local
Dask cluster, inherit QUIET_VARIABLE); `--verbosity=1` (absl's flag) or higher shows
everything. Library code that imports brats_rev is never affected.
"""

import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
import tempfile

from absl import logging as absl_logging

# Lines that TensorFlow prints at start-up and that say nothing about the user's job.
NOTICE_PATTERNS = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"^I\d{4} [\d:.]+ +\d+ \S+:\d+\] "),  # any C++ INFO line
    re.compile(r"^To enable the following instructions: "),  # an INFO line's second line
    re.compile(r"^E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] .*cuInit"),
)
_VERBOSITY = re.compile(r"^(?:--verbosity|-v)(?:=(-?\d+))?$")
# Set by `install` for the processes a quiet program starts.
QUIET_VARIABLE = "BRATS_REV_QUIET_START"


def is_program(argv):
    """True if the process runs one of our programs or was started by a quiet one (see the
    module docstring)."""
    return (bool(argv) and (argv[0] == "-m" or os.path.basename(argv[0]).startswith("brats-rev-"))
            or os.environ.get(QUIET_VARIABLE) == "1")


def verbosity(argv):
    """The value of absl's --verbosity / -v in `argv` (0 when absent or unreadable)."""
    for i, arg in enumerate(argv):
        match = _VERBOSITY.match(arg)
        if match:
            value = match.group(1) if match.group(1) is not None else (
                argv[i + 1] if i + 1 < len(argv) else "0")
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def without_notices(text):
    """`text` without the lines that match NOTICE_PATTERNS."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(pattern.search(line) for pattern in NOTICE_PATTERNS))


# Where the modules whose INFO records are dropped live (a path part of the record's file):
# TensorFlow, Keras, and Beam and Dask, which run the conversion on a cluster.
_LIBRARY_PATH_PARTS = tuple(f"{os.sep}{name}{os.sep}" for name in (
    "tensorflow", "keras", "apache_beam", "distributed"))


# Warnings of those libraries that say nothing about the user's job (Beam's, at import).
_LIBRARY_NOTICES = ("apitools not found",)


def is_library_noise(record):
    """True for a `logging.LogRecord` of one of those libraries that is INFO or lower, or one
    of _LIBRARY_NOTICES."""
    if not any(part in record.pathname for part in _LIBRARY_PATH_PARTS):
        return False
    return record.levelno < logging.WARNING or (
        record.levelno == logging.WARNING
        and any(notice in record.getMessage() for notice in _LIBRARY_NOTICES))


class _LibraryNoiseFilter(logging.Filter):
    """Drops `is_library_noise` records."""

    def filter(self, record):
        return not is_library_noise(record)


# Keras' optional scikit-learn wrappers: they import scikit-learn if it is installed.
_KERAS_WRAPPERS = "keras.src.wrappers"


def _importer():
    """`__name__` of the module whose import statement is running (outside importlib)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("importlib", "_frozen_importlib")):
        frame = frame.f_back
    return "" if frame is None else frame.f_globals.get("__name__", "")


class _KerasWithoutScikitLearn(importlib.abc.MetaPathFinder):
    """Makes Keras' wrappers' `import sklearn` raise ImportError (Keras then leaves them
    without scikit-learn); every other importer gets scikit-learn as usual."""

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] == "sklearn" and _importer().startswith(_KERAS_WRAPPERS):
            raise ImportError(f"{fullname} is not loaded for Keras' scikit-learn wrappers")
        return None


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader, and its first device listing, with fd 2 captured."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self._loader.exec_module(module)
                module.config.list_physical_devices()
                module.get_logger().setLevel("ERROR")  # its Python deprecation notices
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                sys.stderr.write(without_notices(captured.read().decode(errors="replace")))
                sys.stderr.flush()


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as the other finders do, and hands it a _QuietLoader."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install(argv=None):
    """Quietens TensorFlow in this process unless --verbosity >= 1 (see the module doc).

    Returns True if the filter was installed (TensorFlow not yet imported, not verbose).
    """
    argv = sys.argv if argv is None else argv
    if "tensorflow" in sys.modules or verbosity(argv) >= 1:
        return False
    # TensorFlow's later C++ messages (INFO, WARNING and its ERROR-level notices such as
    # oneDNN's fallbacks): an error that stops the job is raised in Python anyway.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ[QUIET_VARIABLE] = "1"
    # On absl's logger (records logged through absl), its handler (records of the standard
    # loggers, e.g. Dask's, that reach the root logger's handler) and the root logger (records
    # logged on it directly, in processes where absl's handler is not set up).
    for target in (absl_logging.get_absl_logger(), absl_logging.get_absl_handler(),
                   logging.getLogger()):
        if not any(isinstance(f, _LibraryNoiseFilter) for f in target.filters):
            target.addFilter(_LibraryNoiseFilter())
    if not any(isinstance(finder, _TensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TensorFlowFinder())
    if "keras" not in sys.modules and not any(
            isinstance(finder, _KerasWithoutScikitLearn) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasWithoutScikitLearn())
    return True
