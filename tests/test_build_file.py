"""BUILD is exactly what `python -m tools.build_file` writes from the imports, and the generator
follows its rules: one target per file, its kind, deps equal to imports, started binaries as data.

Bazel cannot run on our machines, so this test is what keeps BUILD honest.
"""

import subprocess
import sys

import pytest

from tools import build_file


def _tree(root, files):
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def test_build_is_generated_from_the_current_imports():
    current = (build_file.ROOT / "BUILD").read_text()
    wanted = build_file.render()
    assert current == wanted, (f"BUILD is stale in {build_file.stale_targets(current, wanted)}: "
                               "run python -m tools.build_file")
    assert len(build_file.python_files()) > 100  # the walk found the repository


def test_rules_on_a_small_tree(tmp_path):
    _tree(tmp_path, {
        "brats_rev/__init__.py": '"""Package."""\n',
        "brats_rev/a.py": "import json\nimport numpy as np\nfrom brats_rev import b\n",
        "brats_rev/b.py": "from absl import app\n\nif __name__ == '__main__':\n    app.run(None)\n",
        "tests/__init__.py": "",
        "tests/test_a.py": "import subprocess\nfrom brats_rev.a import np\n"
                           "subprocess.run(['python', '-m', 'brats_rev.b'])\n",
    })
    text = build_file.render(tmp_path)
    assert text.startswith(build_file.HEADER)
    library = ('py_library(\n    name = "brats_rev_a",\n    srcs = ["brats_rev/a.py"],\n'
               '    deps = [\n        ":brats_rev_b",\n        requirement("numpy"),\n    ],\n)\n')
    assert library in text
    assert 'py_binary(\n    name = "brats_rev_b",\n    srcs = ["brats_rev/b.py"],\n' \
           '    main = "brats_rev/b.py",\n    deps = [\n        requirement("absl-py"),\n' in text
    assert 'py_test(\n    name = "tests_test_a",\n    srcs = ["tests/test_a.py"],\n' \
           '    data = [\n        ":brats_rev_b",\n    ],\n    deps = [\n' \
           '        ":brats_rev_a",\n    ],\n)\n' in text
    assert 'name = "brats_rev",' in text and 'name = "tests",' not in text  # empty tests init
    assert [path for path, *_ in build_file.targets(tmp_path)] == [
        "brats_rev/__init__.py", "brats_rev/a.py", "brats_rev/b.py", "tests/test_a.py"]


@pytest.mark.parametrize("source, message", [
    ("import nosuchpackage\n", "brats_rev/c.py imports nosuchpackage: add its pip"),
    ("from brats_rev import missing\n", "brats_rev/c.py imports brats_rev, which is not"),
    ("import brats_rev.missing\n", "brats_rev/c.py imports brats_rev.missing, which is not"),
])
def test_an_import_it_cannot_place_names_the_file(tmp_path, source, message):
    _tree(tmp_path, {"brats_rev/c.py": source})
    with pytest.raises(ValueError, match=message):
        build_file.render(tmp_path)


def test_stale_targets_names_added_removed_and_changed_ones():
    old = build_file.HEADER + '\npy_library(\n    name = "a",\n    srcs = ["a.py"],\n)\n' \
        '\npy_library(\n    name = "b",\n    srcs = ["b.py"],\n)\n'
    new = build_file.HEADER + '\npy_library(\n    name = "a",\n    srcs = ["a2.py"],\n)\n' \
        '\npy_library(\n    name = "c",\n    srcs = ["c.py"],\n)\n'
    assert build_file.stale_targets(old, new) == ["a", "b", "c"]
    assert build_file.stale_targets(old, old) == []


def test_check_command_passes_on_the_repository():
    done = subprocess.run([sys.executable, "-m", "tools.build_file", "--check"],
                          cwd=build_file.ROOT, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, "BUILD is current\n"), done.stderr[-500:]
