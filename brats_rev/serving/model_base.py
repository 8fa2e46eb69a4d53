"""A TF Serving model base path, without TensorFlow: the export's defaults, its version
numbers (the next free one, the check that one is free) and the lock under which an export
takes one (brats_rev.serving.saved_model writes the versions).

    <export_base>/<version>/   one SavedModel per positive integer; TF Serving serves them
    <export_base>/.export.lock the lock file (`exclusive`)
"""

import contextlib
import fcntl
import os

LOCK_NAME = ".export.lock"
# Largest X * Y * Z the `segment` signature accepts: 256³ covers every BraTS release
# (240 x 240 x 155 = 8.9 M voxels) with room, and bounds the server's memory per request.
DEFAULT_MAX_VOXELS = 256 ** 3
DEFAULT_MODEL_NAME = "brats_rev"


def next_version(export_base):
    """1 + the largest integer folder name in `export_base` (1 if none or no folder)."""
    if not os.path.isdir(export_base):
        return 1
    versions = [int(name) for name in os.listdir(export_base) if name.isdigit()]
    return max(versions, default=0) + 1


def free_version(export_base, version=None):
    """(version, its folder path) for a new export into `export_base`.

    Args:
      export_base: the TF Serving model base path (need not exist yet).
      version: positive int, or None for the next free one.
    Raises:
      ValueError: `version` is not a positive int, or already exists.
    """
    version = next_version(export_base) if version is None else version
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive int. Received: version={version!r}")
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise ValueError(f"Version {version} already exists in {export_base!r}; versions are "
                         "never replaced (omit --version to take the next free one).")
    return version, final


@contextlib.contextmanager
def exclusive(export_base):
    """Holds an exclusive lock on `export_base` (its `.export.lock` file) against other
    exports, in this or another process, while the body runs."""
    with open(os.path.join(export_base, LOCK_NAME), "a", encoding="utf-8") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
