"""Programs start quietly: TensorFlow's C++ start-up notices are filtered, nothing else is."""

import logging
import os
import subprocess
import sys

import pytest

from brats_rev import startup

NOTICES = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796296402.152140    7361 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796296402.218266    7361 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
E0000 00:00:1796296404.326282   31424 cuda_platform.cc:52] failed call to cuInit: INTERNAL: (303)
"""
KEPT = """\
W0000 00:00:1796296404.1    7361 allocator.cc:10] Allocation of 400000000 exceeds 10% of memory.
E0000 00:00:1796296404.2    7361 cuda_dnn.cc:8579] Unable to register cuDNN factory
/x.py:3: UserWarning: something the user should see
"""


def test_notices_are_dropped_and_everything_else_kept_in_order():
    mixed = NOTICES.splitlines(keepends=True)
    kept = KEPT.splitlines(keepends=True)
    text = "".join([mixed[0], kept[0], *mixed[1:3], kept[1], *mixed[3:], kept[2]])
    assert startup.without_notices(text) == KEPT
    assert startup.without_notices(NOTICES) == ""


@pytest.mark.parametrize("argv, expected", [
    (["-m"], 0), (["-m", "--verbosity=1"], 1), (["-m", "-v", "2"], 2), (["-m", "-v=-1"], -1),
    (["-m", "--verbosity"], 0), (["-m", "--verbosity", "x"], 0), (["-m", "--verbose=3"], 0),
])
def test_verbosity_is_read_as_absl_reads_it(argv, expected):
    assert startup.verbosity(argv) == expected


def test_only_our_programs_and_the_processes_they_start_are_quietened(monkeypatch):
    monkeypatch.delenv(startup.QUIET_VARIABLE, raising=False)
    assert startup.is_program(["-m", "--x"])
    assert startup.is_program(["/venv/bin/brats-rev-train"])
    assert not startup.is_program(["/venv/bin/pytest"]) and not startup.is_program([])
    # A worker process of a quiet program (multiprocessing gives it the program's path).
    monkeypatch.setenv(startup.QUIET_VARIABLE, "1")
    assert startup.is_program(["/repo/pipelines/convert_brats.py"])


def _record(pathname, level, message="message"):
    return logging.LogRecord("absl", level, pathname, 1, message, None, None)


def test_only_library_info_records_and_notices_are_dropped():
    library = os.path.join("", "venv", "site-packages", "tensorflow", "python", "saver.py")
    assert startup.is_library_noise(_record(library, logging.INFO))
    assert startup.is_library_noise(_record(library.replace("tensorflow", "keras"), logging.DEBUG))
    for name in ("apache_beam", "distributed"):  # the conversion's runners
        assert startup.is_library_noise(_record(library.replace("tensorflow", name),
                                                logging.INFO))
    assert not startup.is_library_noise(_record(library, logging.WARNING))
    assert not startup.is_library_noise(_record("/repo/brats_rev/train.py", logging.INFO))
    beam = library.replace("tensorflow", "apache_beam")
    assert startup.is_library_noise(_record(beam, logging.WARNING, "apitools not found, and"))
    assert not startup.is_library_noise(_record(beam, logging.WARNING, "a real warning"))


def _stderr_of(*flags):
    done = subprocess.run([sys.executable, "-m", "brats_rev.models.summary", "--preset=tiny",
                           *flags], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "parameters" in done.stdout.lower()
    return done.stderr


@pytest.mark.slow
def test_a_program_prints_no_start_up_notice_unless_verbose():
    quiet = _stderr_of()
    for notice in ("absl::InitializeLog", "oneDNN", "cuInit", "cpu_feature_guard"):
        assert notice not in quiet, quiet[-2000:]
    verbose = _stderr_of("--verbosity=1")
    assert "absl::InitializeLog" in verbose and "oneDNN" in verbose


def test_keras_wrappers_alone_find_no_scikit_learn():
    finder = startup._KerasWithoutScikitLearn()
    calls = {"finder": finder}
    with pytest.raises(ImportError, match="not loaded for Keras' scikit-learn wrappers"):
        exec("finder.find_spec('sklearn.base', None)",  # noqa: S102 (an importer's globals)
             {"__name__": "keras.src.wrappers.sklearn_wrapper", **calls})
    for importer in ("nilearn.image", "brats_rev.intensity_baselines"):
        exec("assert finder.find_spec('sklearn', None) is None",  # noqa: S102
             {"__name__": importer, **calls})
    assert finder.find_spec("scipy", None) is None

