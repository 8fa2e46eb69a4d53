"""manifest.json: what a converted dataset holds, and the check that its shards are intact.

The manifest names the dataset's BraTS task (brats_rev.tasks; a manifest written before tasks
were recorded is of tasks.DEFAULT_TASK, `task_of`) and lists, for each shard, its file (path
relative to the manifest's folder), case ids, record count and sha256; per-case metadata;
k-fold splits; and every rejected case with its reason. `verified_shards` re-hashes each shard
before it is read, so a truncated or altered shard is an error naming the shard, never a
dataset that is silently smaller. Pure Python; no TensorFlow.

Folds: converted case ids are ordered by the sha256 of the id and dealt round-robin into
`num_folds` folds, so fold sizes differ by at most one and do not depend on the order cases
were found in (adding cases can move existing ones to another fold).
"""

import hashlib
import json
import os

from brats_rev import atomic, tasks

# The version of the record format (tfrecords/README.md) this code writes and reads; every
# record and the manifest carry it.
SCHEMA_VERSION = 2

SPLITS = ("train", "validation")

MANIFEST_NAME = "manifest.json"
REJECTED_NAME = "rejected.json"


class ShardIntegrityError(ValueError):
    """A shard is missing, or its bytes or record count differ from the manifest."""


def shard_file_name(index, num_shards):
    """File name of shard `index` (0-based) of `num_shards`: brats-00000-of-00002.tfrecord.gz."""
    return f"brats-{index:05d}-of-{num_shards:05d}.tfrecord.gz"


def sha256_file(path, chunk_bytes=1 << 20):
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def assign_folds(case_ids, num_folds):
    """List of `num_folds` sorted lists of case ids (see module docstring for the rule)."""
    if num_folds < 1:
        raise ValueError(f"`num_folds` must be >= 1. Received: num_folds={num_folds}")
    ranked = sorted(case_ids, key=lambda c: (hashlib.sha256(c.encode("utf-8")).hexdigest(), c))
    return [sorted(ranked[fold::num_folds]) for fold in range(num_folds)]


def build_manifest(schema_version, task, shards, cases, rejected, options, num_folds):
    """The manifest dict.

    Args:
      schema_version: int, the record schema version (SCHEMA_VERSION).
      task: name of the BraTS task of every case (a brats_rev.tasks.TASKS key).
      shards: list of dicts with keys file, case_ids, num_records, sha256, bytes; in order.
      cases: {case id: JSON-ready metadata dict} of the converted cases.
      rejected: list of JSON-ready problem dicts (errors) of the rejected cases.
      options: JSON-ready dict of the conversion options (recorded for reproducibility).
      num_folds: number of cross-validation folds.
    """
    return {
        "schema_version": schema_version,
        "task": task,
        "options": options,
        "num_cases": len(cases),
        "shards": shards,
        "cases": cases,
        "folds": assign_folds(sorted(cases), num_folds),
        "rejected": rejected,
    }


def task_of(manifest_dict):
    """The name of the task of the dataset a manifest dict describes."""
    return manifest_dict.get("task", tasks.DEFAULT_TASK)


def split_cases(manifest_dict, split, fold):
    """Sorted case ids (labelled cases only) of `split` ("train" or "validation") of `fold`.

    `fold=None` trains on every labelled case (and has no validation split).
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {list(SPLITS)}. Received: split={split!r}")
    folds = manifest_dict["folds"]
    if fold is None:
        if split == "validation":
            raise ValueError("fold=None trains on every case; it has no validation split.")
        chosen = [case for cases in folds for case in cases]
    else:
        if not 0 <= fold < len(folds):
            raise ValueError(f"`fold` must be in [0, {len(folds)}). Received: fold={fold!r}")
        held_out = set(folds[fold])
        chosen = folds[fold] if split == "validation" else [
            case for cases in folds for case in cases if case not in held_out]
    return sorted(case for case in chosen if manifest_dict["cases"][case]["has_label"])


def to_json(document):
    """Canonical JSON text (sorted keys, 2-space indent, trailing newline): reruns match."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_manifest(directory, manifest):
    """Writes `manifest` as `directory`/manifest.json atomically; returns the path."""
    path = os.path.join(directory, MANIFEST_NAME)
    atomic.write_text(path, to_json(manifest))
    return path


def load_manifest(path):
    """The manifest dict from `path` (a manifest.json or the folder holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, MANIFEST_NAME)
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def schema_problem(version):
    """None if records of schema `version` can be read, else why not (one sentence)."""
    if version == SCHEMA_VERSION:
        return None
    return (f"record schema version {version} is not supported; this reader reads version "
            f"{SCHEMA_VERSION} (convert the dataset again with pipelines.convert_brats)")


def check_schema(path):
    """Raises ValueError naming the manifest at `path` (file or folder) if its records are of
    another schema version than this code reads."""
    document = load_manifest(path)
    problem = schema_problem(document.get("schema_version"))
    if problem:
        raise ValueError(f"{path}: {problem}")


def verified_shards(manifest_path):
    """[(shard path, expected record count, case ids)] after checking every shard's sha256.

    Raises:
      ShardIntegrityError: a shard is missing or its sha256 differs (e.g. truncated), naming it.
    """
    directory = manifest_path if os.path.isdir(manifest_path) else os.path.dirname(manifest_path)
    manifest = load_manifest(manifest_path)
    shards = []
    for shard in manifest["shards"]:
        path = os.path.join(directory, shard["file"])
        if not os.path.isfile(path):
            raise ShardIntegrityError(f"shard {path} listed in the manifest does not exist")
        actual = sha256_file(path)
        if actual != shard["sha256"]:
            raise ShardIntegrityError(
                f"shard {path} is corrupt or truncated: sha256 {actual} != manifest "
                f"{shard['sha256']} ({os.path.getsize(path)} bytes, manifest {shard['bytes']})")
        shards.append((path, shard["num_records"], tuple(shard["case_ids"])))
    return shards
