"""Ways to break a `--model`, one per mistake model loading must name in one line."""

import os
import random
import zipfile

from brats_rev import run_folder
from brats_rev.config import DataConfig, TrainConfig, preset

KINDS = ("truncated .keras", "random bytes .keras", ".keras without config.json",
         ".keras of an unknown class", "empty folder", "run folder without a model",
         "missing path")
# The model configuration of ".keras of an unknown class".
UNKNOWN_CLASS = '{"class_name": "NoSuchModel", "config": {}}'


def write(kind, folder, keras_file):
    """Writes the broken model `kind` (KINDS) into `folder` (existing); returns its path.

    `keras_file` is a good `.keras` file the broken copies start from.
    """
    path = os.path.join(folder, "model.keras")
    if kind == "truncated .keras":
        with open(keras_file, "rb") as source, open(path, "wb") as copy:
            copy.write(source.read()[: os.path.getsize(keras_file) // 2])
    elif kind == "random bytes .keras":
        with open(path, "wb") as handle:
            handle.write(random.Random(0).randbytes(4096))
    elif kind in (".keras without config.json", ".keras of an unknown class"):
        with zipfile.ZipFile(keras_file) as good, zipfile.ZipFile(path, "w") as broken:
            for member in good.namelist():
                if member != "config.json":
                    broken.writestr(member, good.read(member))
                elif kind == ".keras of an unknown class":
                    broken.writestr(member, UNKNOWN_CLASS)
    elif kind == "empty folder":
        path = os.path.join(folder, "empty")
        os.mkdir(path)
    elif kind == "run folder without a model":
        path = os.path.join(folder, "run")
        os.mkdir(path)
        run_folder.write_config(run_folder.RunConfig(preset("tiny"), DataConfig(),
                                                     TrainConfig()), path)
    elif kind == "missing path":
        path = os.path.join(folder, "missing.keras")
    else:
        raise ValueError(f"`kind` must be one of {KINDS}. Received: kind={kind!r}")
    return path
