"""Every `brats-rev-*` script of pyproject.toml names a program's `run`, and one runs as
`python -m` runs it."""

import importlib
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The [project.scripts] table of pyproject.toml (name = "module:function" lines).
SCRIPTS = dict(re.findall(r'^(brats-rev-[\w-]+) = "([\w.]+:\w+)"$',
                          (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1]
                          .split("\n[")[0], flags=re.M))


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_names_the_run_of_a_program(name):
    assert len(SCRIPTS) >= 10
    module_name, function = SCRIPTS[name].split(":")
    assert name.startswith("brats-rev-") and function == "run"
    module = importlib.import_module(module_name)
    assert callable(module.run) and callable(module.main)
    assert 'if __name__ == "__main__":\n    run()' in pathlib.Path(module.__file__).read_text()


def test_an_installed_script_runs_the_program(tmp_path):
    """The entry point's wrapper (as pip writes it) runs the program with its flags."""
    wrapper = tmp_path / "brats-rev-phantoms"
    module_name, function = SCRIPTS["brats-rev-phantoms"].split(":")
    wrapper.write_text(f"import sys\nfrom {module_name} import {function}\n"
                       f"sys.exit({function}())\n")
    done = subprocess.run([sys.executable, str(wrapper), "--kind=simple", "--num_cases=1",
                           "--shape=24,24,24", f"--output_dir={tmp_path / 'cases'}"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote 1 simple 2021 cases" in done.stdout
    assert sorted(os.listdir(tmp_path / "cases")) == ["BraTS2021_00000"]


def _program_sources():
    """{path: text} of every module under brats_rev/ and pipelines/ that runs as a program."""
    sources = {}
    for folder in ("brats_rev", "pipelines"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            if '__name__ == "__main__"' in text:
                sources[str(path.relative_to(ROOT))] = text
    return sources


def test_every_program_defines_its_flags_in_define_flags_and_runs_run():
    """One flag style: importing a program defines no flag (so library users and tests can
    import any of them together), `python -m` calls its `run()`, and that runs `main` through
    `brats_rev.program.run_main` (one-line usage errors), not absl's `app.run` directly."""
    sources = _program_sources()
    assert len(sources) >= 20
    for path, text in sources.items():
        assert not re.search(r"^flags\.DEFINE", text, flags=re.M), path
        assert text.rstrip().endswith('if __name__ == "__main__":\n    run()'), path
        assert "program.run_main(main" in text and "app.run(" not in text, path
        if "flags.DEFINE" in text:
            assert "\ndef define_flags():" in text, path
