"""Test artefacts built once per test session, whatever the number of xdist workers."""

import fcntl
import os
import shutil

_COMPLETE = ".complete"


def built_once(tmp_path_factory, name, build):
    """The folder `name`, filled by `build(folder)` (a pathlib.Path) once per session.

    Under xdist every worker has its own base temporary folder inside the session's; the
    folder lives in the session's, and an exclusive lock makes one worker build it while the
    others wait. A build that failed or was interrupted (no completion mark) is redone.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _COMPLETE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / _COMPLETE).touch()
    return folder
