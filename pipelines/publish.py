"""Publishing a conversion: the new set of shards is written beside the old, then switched to.

An output folder holds one dataset:

    manifest.json                  the dataset; shard "file" entries are relative to this folder
    records-<hash>/                the set of files it publishes:
        brats-00000-of-00004.tfrecord.gz, ...   the shards
        rejected.json                           the rejected cases

A conversion writes its set into a new staging folder `.staging-<random>/` (`start`), together
with the manifest it will publish (`conversion.finish`). `publish` then renames the complete
staging folder to `records-<hash>`, <hash> being the first 12 hex digits of a sha256 over the
set's file names and sha256s (so the same input and options give the same name whatever the
runner; an existing set of that name and content is kept and the staging copy dropped), and
replaces manifest.json atomically. That rename of manifest.json is the only switch: until it,
readers see the previous manifest and its files, untouched; after it, the new complete set.
Then every file of ours the new manifest does not reference is removed: earlier sets, staging
folders of killed runs, and the shards, rejected.json and temporary files of the flat layout
that earlier versions wrote next to manifest.json (readers still read that layout: a manifest
names its shards' paths).

One conversion at a time per output folder: `start` removes the staging folders it finds.
"""

import fnmatch
import hashlib
import os
import re
import shutil
import tempfile

from brats_rev import atomic
from brats_rev.data import manifest

STAGING_PREFIX = ".staging-"
SET_PREFIX = "records-"
SET_PATTERN = re.compile(re.escape(SET_PREFIX) + "[0-9a-f]{12}")
# The shards, report and their temporary files of the flat layout of earlier versions.
FLAT_PATTERNS = ("brats-*-of-*.tfrecord.gz", manifest.REJECTED_NAME)
TEMPORARY_PATTERNS = tuple(atomic.temporary_pattern(name)
                           for name in (manifest.MANIFEST_NAME, *FLAT_PATTERNS))


class Refused(ValueError):
    """The output folder cannot take this conversion (one line naming it and why)."""


class NothingConverted(ValueError):
    """No case was converted, so nothing was published.

    Attributes:
      document: the manifest dict the conversion would have published (its "rejected" list
        says why each case was rejected).
    """

    def __init__(self, output_dir, document):
        rejected = len({problem["case_id"] for problem in document["rejected"]})
        super().__init__(f"--output_dir {output_dir!r}: no case converted ({rejected} rejected), "
                         "nothing published; any dataset there is unchanged")
        self.document = document


def _held_case_ids(document):
    """The case ids a manifest dict accounts for: converted and rejected."""
    return set(document["cases"]) | {problem["case_id"] for problem in document["rejected"]}


def check_replaceable(output_dir, case_ids, overwrite):
    """Raises Refused unless `overwrite`, or `output_dir` holds no manifest.json, or the
    dataset it holds has exactly `case_ids` (converted and rejected; the case ids the new run
    found). Re-converting a dataset with other options or mended files so needs no flag."""
    path = os.path.join(output_dir, manifest.MANIFEST_NAME)
    if overwrite or not os.path.isfile(path):
        return
    try:
        held = _held_case_ids(manifest.load_manifest(path))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Refused(f"--output_dir {output_dir!r} holds a {manifest.MANIFEST_NAME} that cannot "
                      f"be read ({error}); pass --overwrite to replace it") from None
    found = set(case_ids)
    if held == found:
        return
    differences = [f"{len(held)} cases"]
    if held - found:
        differences.append(f"{len(held - found)} not in --input_dir, e.g. {min(held - found)}")
    if found - held:
        differences.append(f"and --input_dir has {len(found - held)} it lacks, e.g. "
                           f"{min(found - held)}")
    raise Refused(f"--output_dir {output_dir!r} holds another dataset: {', '.join(differences)}; "
                  "pass --overwrite to replace it")


def start(output_dir):
    """Creates `output_dir` if needed and a new staging folder in it, and removes the staging
    folders of earlier runs that did not finish. Returns the staging folder's path.

    Raises:
      Refused: `output_dir` is not a folder or cannot be written (nothing is created then).
    """
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise Refused(f"--output_dir {output_dir!r} is not a folder")
    try:
        os.makedirs(output_dir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output_dir)
    except OSError as error:
        raise Refused(f"--output_dir {output_dir!r} cannot be written: "
                      f"{error.strerror or error}") from None
    os.chmod(staging, 0o755)  # mkdtemp creates 0700; published folders are world-readable.
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        if name.startswith(STAGING_PREFIX) and path != staging:
            shutil.rmtree(path)
    return staging


def _set_name(digests):
    """records-<12 hex digits> for the set whose files have {name: sha256} `digests`."""
    listing = "".join(f"{name} {digest}\n" for name, digest in sorted(digests.items()))
    return SET_PREFIX + hashlib.sha256(listing.encode("utf-8")).hexdigest()[:12]


def _digests(folder):
    """{name: sha256} of the files in `folder`."""
    return {name: manifest.sha256_file(os.path.join(folder, name))
            for name in os.listdir(folder)}


def _in_folder(document, folder):
    """The manifest dict with each shard "file" and each case's "shard" under `folder`."""
    shards = [{**shard, "file": f"{folder}/{shard['file']}"} for shard in document["shards"]]
    cases = {case_id: {**metadata, "shard": f"{folder}/{metadata['shard']}"}
             for case_id, metadata in document["cases"].items()}
    return {**document, "shards": shards, "cases": cases}


def _is_ours(name):
    """True for the files and folders a conversion writes into an output folder."""
    return (name.startswith(STAGING_PREFIX) or SET_PATTERN.fullmatch(name) is not None
            or any(fnmatch.fnmatchcase(name, pattern)
                   for pattern in FLAT_PATTERNS + TEMPORARY_PATTERNS))


def _remove_unreferenced(output_dir, published):
    """Removes every entry of `output_dir` that `_is_ours` but the set folder `published`."""
    for name in sorted(os.listdir(output_dir)):
        path = os.path.join(output_dir, name)
        if name == published or not _is_ours(name):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def publish(output_dir, staging):
    """Publishes the set `conversion.finish` completed in `staging` (see the module docstring);
    returns the published manifest dict.

    Raises:
      NothingConverted: the set holds no case; `staging` is removed and nothing else changes.
    """
    staged_manifest = os.path.join(staging, manifest.MANIFEST_NAME)
    document = manifest.load_manifest(staged_manifest)
    if document["num_cases"] == 0:
        shutil.rmtree(staging)
        raise NothingConverted(output_dir, document)
    os.remove(staged_manifest)
    digests = {shard["file"]: shard["sha256"] for shard in document["shards"]}
    digests[manifest.REJECTED_NAME] = manifest.sha256_file(
        os.path.join(staging, manifest.REJECTED_NAME))
    name = _set_name(digests)
    target = os.path.join(output_dir, name)
    if os.path.isdir(target) and _digests(target) == digests:
        shutil.rmtree(staging)
    else:
        if os.path.isdir(target):  # damaged: replaced by the staged copy
            shutil.rmtree(target)
        os.rename(staging, target)
        atomic.fsync_folder(output_dir)
    published = _in_folder(document, name)
    manifest.write_manifest(output_dir, published)
    _remove_unreferenced(output_dir, name)
    return published
