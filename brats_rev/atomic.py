"""Atomic file writes: write a temporary file in the target's folder, fsync, then rename.

A reader never sees a half-written file under the final name, and a crash leaves the previous
version in place. Every file the project publishes is written this way: shards, manifests,
predictions, models, reports, benchmark results and figures.
"""

import contextlib
import json
import os
import tempfile


def temporary_pattern(name, suffix=".tmp"):
    """Glob pattern of the temporary files `atomic_path` makes for a file named `name` (itself
    a name or a glob pattern): what a killed writer leaves next to the target."""
    return f".{name}.*{suffix}"


def fsync_folder(directory):
    """Makes the entries of `directory` (created, renamed, removed files) durable."""
    folder = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yields a temporary path next to `path`; on success fsyncs it, renames it to `path`
    and fsyncs the folder.

    If the body raises, the temporary file is removed and `path` is left untouched. `suffix`
    ends the temporary name (writers that check extensions, like Keras' `.keras`, need it).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix,
                                         dir=directory)
    os.close(handle)
    os.chmod(temporary, 0o644)  # mkstemp creates 0600; published files are world-readable.
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
        fsync_folder(directory)  # make the rename itself durable
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
        out.write(text)


def write_json(path, payload):
    """Writes `payload` as indented, key-sorted JSON (UTF-8) to `path` atomically."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
