"""`python -m brats_rev.phantoms --task`: segmentations in the task's own numbering, and a
task the release's case names cannot hold refused in one line."""

import os
import subprocess
import sys

import nibabel as nib
import numpy as np

from brats_rev import tasks


def _run(*args):
    return subprocess.run([sys.executable, "-m", "brats_rev.phantoms", "--num_cases=1",
                           "--shape=40,40,32", *args], capture_output=True, text=True,
                          check=False)


def test_a_task_writes_its_own_label_numbers(tmp_path):
    done = _run(f"--output_dir={tmp_path}", "--release=2023", "--task=ped2024")
    assert done.returncode == 0, done.stderr
    [case_id] = os.listdir(tmp_path)
    assert case_id.startswith("BraTS-PED-")
    seg = np.asarray(nib.load(tmp_path / case_id / f"{case_id}-seg.nii.gz").dataobj)
    # Every PED 2024 class is drawn: 1 ET, 2 NETC, 3 CC, 4 ED.
    assert np.unique(seg).tolist() == sorted(tasks.CONVENTIONS["brats2024-ped"])
    assert done.stdout.startswith("wrote 1 simple 2023 cases of shape (40, 40, 32)")
    assert done.stdout.endswith("(labels of task ped2024)\n")


def test_a_task_the_release_cannot_name_is_one_line(tmp_path):
    done = _run(f"--output_dir={tmp_path / 'out'}", "--task=gli2024")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: --task=gli2024: release 2021 cases (BraTS2021_00001) cannot be of that task; "
        "use --release=2023 (--helpshort lists the flags)"]
    assert not (tmp_path / "out").exists()
