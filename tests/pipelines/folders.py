"""Comparing output folders file by file."""

import os


def file_bytes(folder):
    """{path relative to `folder`: bytes} of every file under `folder` (a pathlib.Path)."""
    found = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as stream:
                found[os.path.relpath(path, folder)] = stream.read()
    return dict(sorted(found.items()))
