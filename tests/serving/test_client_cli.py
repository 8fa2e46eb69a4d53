"""`python -m brats_rev.serving.client` end to end on phantom cases, over gRPC and REST."""

import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from brats_rev import phantoms
from brats_rev.data.case_reader import load_case
from brats_rev.data.cases import find_cases
from tests.serving.conftest import SHAPE

# Every test here shares module fixtures that take tens of seconds: the full tier only.
pytestmark = pytest.mark.slow


def _run(*args):
    return subprocess.run([sys.executable, "-m", "brats_rev.serving.client", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """(root, case ids): three 2021 cases, the second with a truncated t1 file, and a 2023
    case."""
    root = tmp_path_factory.mktemp("input")
    ids = phantoms.write_dataset(str(root / "a"), 3, "2021", SHAPE)
    ids += phantoms.write_dataset(str(root / "b"), 1, "2023", SHAPE, seed=1, with_seg=False)
    with open(root / "a" / ids[1] / f"{ids[1]}_t1.nii.gz", "r+b") as handle:
        handle.truncate(200)
    return str(root), ids


@pytest.fixture(scope="module")
def expected(dataset, segment_directly):
    """{case id: (case, outputs of `segment` called in this process in the case's
    convention)} for the readable cases."""
    root, ids = dataset
    results = {}
    for case in find_cases(root, require_seg=False)[0]:
        if case.case_id != ids[1]:
            loaded, _ = load_case(case)
            results[case.case_id] = case, segment_directly(loaded.image, case.convention)
    return results


def test_good_cases_written_bad_case_reported(served, dataset, expected, tmp_path):
    protocol, address = served
    root, ids = dataset
    output_dir = tmp_path / "out"
    result = _run(f"--server={address}", "--model_name=brats", f"--protocol={protocol}",
                  f"--input={root}", f"--output_dir={output_dir}", "--save_probabilities",
                  "--probability_dtype=float32")
    assert result.returncode == 1, result.stderr
    assert f"3 written, 0 skipped (output exists; --overwrite replaces), 1 failed -> " \
           f"{output_dir}" in result.stdout
    assert f"failed: {ids[1]}: " in result.stdout and "unreadable t1 file" in result.stdout
    assert sorted(expected) == sorted([ids[0], ids[2], ids[3]])
    for case_id, (case, outputs) in expected.items():
        flair = nib.load(case.images[0])
        written = nib.load(str(output_dir / f"{case_id}.nii.gz"))
        assert written.get_data_dtype() == np.uint8
        np.testing.assert_array_equal(written.affine, flair.affine)
        assert written.header.get_zooms() == flair.header.get_zooms()
        np.testing.assert_array_equal(np.asarray(written.dataobj), outputs["labels"])
        probabilities = nib.load(str(output_dir / f"{case_id}_probabilities.nii.gz"))
        np.testing.assert_array_equal(probabilities.get_fdata(dtype=np.float32),
                                      outputs["probabilities"])
    # Each case in its release's convention: ET is 4 in 2021, 3 in 2023.
    assert 4 in expected[ids[0]][1]["labels"] and 3 in expected[ids[3]][1]["labels"]
    report = json.loads((output_dir / "prediction_report.json").read_text())
    assert sorted(report["written"]) == sorted(expected) and report["skipped"] == []
    assert [failure["case_id"] for failure in report["failed"]] == [ids[1]]
    assert report["server"] == address and report["protocol"] == protocol
    assert report["model"] == "model 'brats' (latest version)"
    assert sorted(os.listdir(output_dir)) == sorted(
        [f"{c}{s}" for c in expected for s in (".nii.gz", "_probabilities.nii.gz")]
        + ["prediction_report.json"])


def test_server_down_stops_after_the_first_case(dataset, tmp_path):
    root, ids = dataset
    result = _run("--server=127.0.0.1:1", "--model_name=brats", f"--input={root}",
                  f"--output_dir={tmp_path}")
    assert result.returncode == 1
    # The 2023 case comes first: "BraTS-GLI-..." sorts before "BraTS2021_...".
    stopped = f"after {ids[3]}: TF Serving at 127.0.0.1:1 is unavailable (gRPC)"
    assert f"stopped {stopped}" in result.stdout
    assert "0 written, 0 skipped (output exists; --overwrite replaces), 4 failed" in result.stdout
    assert f"failed: {ids[2]}: {os.path.join(root, 'a', ids[2])}: ServingError: not sent: " \
           f"{stopped}" in result.stdout
    assert os.listdir(tmp_path) == ["prediction_report.json"]


@pytest.mark.parametrize("flag, problem", [
    ("--output_dir={root}/predictions", "is inside --input"),
    ("--tls_ca={root}/missing.pem", "cannot read the TLS CA bundle"),
])
def test_usage_errors_write_nothing(dataset, tmp_path, flag, problem):
    root, _ = dataset
    args = [f"--output_dir={tmp_path / 'out'}", flag.format(root=root)]
    result = _run("--server=127.0.0.1:1", "--model_name=brats", f"--input={root}", *args)
    assert result.returncode != 0
    assert problem in result.stderr
    assert not os.path.exists(os.path.join(root, "predictions"))
    assert not (tmp_path / "out").exists()


def test_an_input_without_cases_is_a_usage_error_before_any_connection(tmp_path):
    """The CA bundle does not exist either: the input is refused before connecting."""
    (tmp_path / "in").mkdir()
    result = _run("--server=127.0.0.1:1", "--model_name=brats", f"--input={tmp_path / 'in'}",
                  f"--output_dir={tmp_path / 'out'}", f"--tls_ca={tmp_path / 'missing.pem'}")
    assert result.returncode == 1
    assert f"--input: no BraTS case folder under '{tmp_path / 'in'}'" in result.stderr
    assert "TLS" not in result.stderr and not (tmp_path / "out").exists()


def test_model_version_and_message_limit_reach_the_requests(grpc_address, tmp_path):
    """--model_version=1 of the stand-in labels flair > 600 (the latest, 2, labels > 300);
    --max_message_mb=1 lets the 32 x 32 x 24 case's request (384 KiB of float32) through and
    stops the 64 x 64 x 64 one's (4 MiB) in this client, naming the limit in bytes."""
    root = tmp_path / "in"
    [small] = phantoms.write_dataset(str(root), 1, "2021", SHAPE)
    [large] = phantoms.write_dataset(str(root), 1, "2021", (64, 64, 64), first_case=1)
    output_dir = tmp_path / "out"
    result = _run(f"--server={grpc_address}", "--model_name=standin", "--model_version=1",
                  "--max_message_mb=1", f"--input={root}", f"--output_dir={output_dir}")
    assert result.returncode == 1, result.stderr
    flair = np.asarray(nib.load(str(root / small / f"{small}_flair.nii.gz")).dataobj)
    expected = (flair > 600).astype(np.uint8)
    assert not np.array_equal(expected, flair > 300)  # the versions differ on this case
    written = nib.load(str(output_dir / f"{small}.nii.gz"))
    np.testing.assert_array_equal(np.asarray(written.dataobj), expected)
    report = json.loads((output_dir / "prediction_report.json").read_text())
    assert report["model"] == "model 'standin' (version 1)"
    assert report["written"] == [small]
    [failure] = report["failed"]
    assert failure["case_id"] == large
    assert "message too large for the gRPC limit of the server or of this client " \
           "(1048576 bytes)" in failure["problem"]


def test_a_tiny_timeout_fails_the_case_with_a_deadline_error(grpc_address, tmp_path):
    """The exported model takes far longer than --timeout_s=0.001 to segment a case."""
    [case_id] = phantoms.write_dataset(str(tmp_path / "in"), 1, "2021", SHAPE)
    output_dir = tmp_path / "out"
    result = _run(f"--server={grpc_address}", "--model_name=brats", "--timeout_s=0.001",
                  f"--input={tmp_path / 'in'}", f"--output_dir={output_dir}")
    assert result.returncode == 1, result.stderr
    report = json.loads((output_dir / "prediction_report.json").read_text())
    assert report["written"] == []
    [failure] = report["failed"]
    assert failure["case_id"] == case_id
    assert failure["problem"].endswith(
        f"no answer from {grpc_address} within 0.001 s (timeout_s)")
    assert not (output_dir / f"{case_id}.nii.gz").exists()
