"""The conversion program: exit code on rejects, --allow_rejects, report printed, and the
--workers, --folds, --margin and --runner flags reaching the conversion."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from brats_rev import phantoms
from brats_rev.data import case_reader, manifest, prepare
from brats_rev.data.cases import find_cases
from tests.data import bad_cases
from tests.pipelines.folders import file_bytes

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.convert_brats", *args],
                          capture_output=True, text=True, check=False, env=ENV)


def _worker_processes(pid):
    """Ids of the running children of process `pid` that are multiprocessing spawn workers."""
    children = set()
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as handle:
                children.update(int(child) for child in handle.read().split())
        except OSError:  # the thread ended
            continue
    workers = set()
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as handle:
                if b"spawn_main" in handle.read():
                    workers.add(child)
        except OSError:  # the child ended
            continue
    return workers


def _run_counting_workers(*args):
    """(CompletedProcess, ids of every spawned worker process seen while it ran) of the
    program (Linux /proc)."""
    command = [sys.executable, "-m", "pipelines.convert_brats", *args]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env=ENV)
        workers = set()
        while process.poll() is None:
            workers |= _worker_processes(process.pid)
            time.sleep(0.05)
        stdout.seek(0)
        stderr.seek(0)
        result = subprocess.CompletedProcess(command, process.returncode, stdout.read(),
                                             stderr.read())
    return result, workers


@pytest.mark.slow
def test_exit_code_reflects_rejects(tmp_path):
    """Also: the failing run converts in --workers=2 processes (as quiet as the program) with
    --folds=3 and --margin=2; the allowed one runs the same conversion on Beam's DaskRunner, a
    local Dask cluster of 2 worker processes, to the same bytes, with a Beam option the local
    runner refuses. A second, complete copy of the rejected case in another folder is rejected
    too; an affine difference within the tolerance is printed as a warning."""
    ids = phantoms.write_dataset(str(tmp_path / "in"), 3, "2021", (24, 28, 20), extension=".nii")
    copies = [tmp_path / "in" / ids[1], tmp_path / "in" / "more" / ids[1]]
    shutil.copytree(copies[0], copies[1])
    os.remove(tmp_path / "in" / ids[1] / f"{ids[1]}_flair.nii")
    shifted = tmp_path / "in" / ids[2] / f"{ids[2]}_t2.nii"
    bad_cases.shift_affine(str(shifted), 5e-4)
    common = [f"--input_dir={tmp_path / 'in'}", "--num_shards=2"]
    options = ["--workers=2", "--folds=3", "--margin=2"]
    failed, workers = _run_counting_workers(*common, f"--output_dir={tmp_path / 'out'}",
                                            *options)
    assert failed.returncode == 1, failed.stderr
    assert "absl::InitializeLog" not in failed.stderr and "oneDNN" not in failed.stderr
    assert f"REJECTED {ids[1]}: " in failed.stdout and "missing modality flair" in failed.stdout
    assert "converted 2 cases into 2 shards" in failed.stdout
    for copy, other in (copies, reversed(copies)):
        assert f"REJECTED {ids[1]}: {copy}: duplicate case id: also in {other}" in failed.stdout
    assert f"WARNING {ids[2]}: {shifted}: t2 affine differs from flair" in failed.stdout
    assert "2/3 cases" not in failed.stdout and "3/3 cases" not in failed.stdout  # bar on stderr
    assert "2/2 cases, 0 rejected" in failed.stderr
    assert len(workers) == 2  # none with the default --workers=1 (converted in the program)
    document = manifest.load_manifest(str(tmp_path / "out"))
    assert document["options"]["margin"] == 2 and document["options"]["num_folds"] == 3
    set_folder = os.path.dirname(document["shards"][0]["file"])
    with open(tmp_path / "out" / set_folder / manifest.REJECTED_NAME) as report:
        duplicates = [p["file"] for p in json.load(report) if "duplicate" in p["problem"]]
    assert duplicates == [str(path) for path in copies]
    # Three folds (the default is 5) dealt from the two converted cases: one stays empty.
    assert len(document["folds"]) == 3
    assert sorted(len(fold) for fold in document["folds"]) == [0, 1, 1]
    assert sorted(sum(document["folds"], [])) == [ids[0], ids[2]]
    for case in find_cases(str(tmp_path / "in"))[0]:
        loaded, _ = case_reader.load_case(case)
        box = prepare.crop_case(loaded.image, loaded.seg, case.convention, margin=2).box
        default_box = prepare.crop_case(loaded.image, loaded.seg, case.convention).box
        assert box.tolist() != default_box.tolist()  # the margin shows in the box
        assert document["cases"][case.case_id]["crop_box"] == box.tolist()

    # A Beam pipeline option is passed on to Beam, which draws no progress bar.
    allowed, dask_workers = _run_counting_workers(
        *common, f"--output_dir={tmp_path / 'dask'}", *options,
        "--allow_rejects", "--runner=beam", "--beam_runner=DaskRunner",
        "--dask_partition_size=1")
    assert allowed.returncode == 0, allowed.stderr
    assert "cases, 0 rejected" not in allowed.stderr
    assert len(dask_workers) >= 2  # the local cluster's worker processes
    assert "absl::InitializeLog" not in allowed.stderr and "Scheduler at" not in allowed.stderr
    assert file_bytes(tmp_path / "dask") == file_bytes(tmp_path / "out")
    unknown = _run(*common, f"--output_dir={tmp_path / 'out'}", "--no_such_flag=1")
    assert unknown.returncode != 0 and "unknown arguments ['--no_such_flag=1']" in unknown.stderr


@pytest.mark.slow
def test_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL runs no clean-up in the parent; its workers notice they are orphaned and exit."""
    phantoms.write_dataset(str(tmp_path / "in"), 6, "2021", (24, 28, 20))
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.convert_brats", f"--input_dir={tmp_path / 'in'}",
         f"--output_dir={tmp_path / 'out'}", "--workers=2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    workers = set()
    while len(workers) < 2:  # both workers started (each imports TensorFlow)
        assert process.poll() is None and time.monotonic() < deadline, workers
        workers = _worker_processes(process.pid)
        time.sleep(0.05)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    try:
        while any(_is_running(worker) for worker in workers):
            assert time.monotonic() < deadline, f"workers {sorted(workers)} outlived their parent"
            time.sleep(0.1)
    finally:  # a failure leaves no process behind either
        for worker in workers:
            if _is_running(worker):
                os.kill(worker, signal.SIGKILL)


def _is_running(pid):
    """False once process `pid` has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_refusals_are_one_line_with_their_exit_code(tmp_path):
    """An --output_dir that cannot be written is a usage error (exit 1); a run that converts no
    case publishes nothing (exit 2, even with --allow_rejects). Neither writes anything."""
    [case_id] = phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", (24, 28, 20))
    os.remove(tmp_path / "in" / case_id / f"{case_id}_t1.nii.gz")
    (tmp_path / "file").write_text("not a folder")
    unwritable = _run(f"--input_dir={tmp_path / 'in'}", f"--output_dir={tmp_path / 'file'}")
    assert unwritable.returncode == 1, unwritable.stderr
    assert f"--output_dir '{tmp_path / 'file'}' is not a folder" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr and unwritable.stdout == ""
    nothing = _run(f"--input_dir={tmp_path / 'in'}", f"--output_dir={tmp_path / 'out'}",
                   "--allow_rejects")
    assert nothing.returncode == 2, nothing.stderr
    assert nothing.stdout.startswith(f"REJECTED {case_id}: ")
    assert nothing.stderr.splitlines()[-1] == (
        f"--output_dir '{tmp_path / 'out'}': no case converted (1 rejected), nothing published; "
        "any dataset there is unchanged")
    assert os.listdir(tmp_path / "out") == []
    assert (tmp_path / "file").read_text() == "not a folder"
