"""BUILD must describe the repository: one target per Python file, deps equal to imports.

Bazel cannot run on our machines, so this test is what keeps BUILD honest. Naming rule: a
file `a/b/c.py` is target `a_b_c`; a package `a/b/__init__.py` is target `a_b`. Empty
`__init__.py` files under tests/ carry no code and need no target.
"""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("brats_rev", "pipelines", "tests")
PY_RULES = {"py_library", "py_test", "py_binary"}
# Import name (top level) -> pip distribution used in `requirement("...")`.
THIRD_PARTY = {
    "absl": "absl-py",
    "apache_beam": "apache-beam",
    "cryptography": "cryptography",
    "google": "protobuf",
    "grpc": "grpcio",
    "keras": "keras",
    "matplotlib": "matplotlib",
    "nibabel": "nibabel",
    "nilearn": "nilearn",
    "numpy": "numpy",
    "pytest": "pytest",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "tensorboard": "tensorboard",
    "tensorflow": "tensorflow",
    "tensorflow_serving": "tensorflow-serving-api",
}
FIRST_PARTY = set(SOURCE_DIRS)


def target_name(path):
    """Target name for a repository-relative .py path (see module docstring)."""
    parts = list(pathlib.PurePosixPath(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "_".join(parts)


def parse_build():
    """Returns {target name: {"rule", "srcs", "internal", "external"}} from BUILD."""
    tree = ast.parse((ROOT / "BUILD").read_text(), filename="BUILD")
    targets = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in PY_RULES):
            continue
        kwargs = {kw.arg: kw.value for kw in node.keywords}
        name = ast.literal_eval(kwargs["name"])
        assert name not in targets, f"BUILD defines target {name!r} twice"
        internal, external = set(), set()
        for dep in getattr(kwargs.get("deps"), "elts", []):
            if isinstance(dep, ast.Call):  # requirement("pkg")
                external.add(ast.literal_eval(dep.args[0]))
            else:
                internal.add(ast.literal_eval(dep).lstrip(":"))
        targets[name] = {
            "rule": node.func.id,
            "srcs": ast.literal_eval(kwargs["srcs"]),
            "internal": internal,
            "external": external,
        }
    return targets


def python_files():
    """Repository-relative paths of every .py file that needs a BUILD target."""
    files = []
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if top == "tests" and path.name == "__init__.py" and not path.read_text().strip():
                continue
            files.append(rel)
    return files


def module_file(module):
    """The repository file that defines dotted `module`, or None if it is not ours."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def imports_of(path):
    """(first-party files, pip distributions) that `path` imports."""
    tree = ast.parse((ROOT / path).read_text(), filename=path)
    package = pathlib.PurePosixPath(path).parent.as_posix().replace("/", ".")
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                modules.append(submodule if module_file(submodule) else base)
    internal, external = set(), set()
    for module in modules:
        top = module.split(".")[0]
        if top in FIRST_PARTY:
            found = module_file(module)
            assert found, f"{path} imports {module}, which is not in the repository"
            internal.add(found)
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        else:
            assert top in THIRD_PARTY, f"{path} imports {top}: add it to THIRD_PARTY"
            external.add(THIRD_PARTY[top])
    internal.discard(path)
    return internal, external


TARGETS = parse_build()
SRC_TO_TARGET = {src: name for name, t in TARGETS.items() for src in t["srcs"]}


def test_every_python_file_has_exactly_one_target():
    files = python_files()
    assert len(files) > 10, "the walk found almost no Python files: wrong ROOT?"
    missing = [f for f in files if f not in SRC_TO_TARGET]
    assert not missing, f"files without a BUILD target: {missing}"
    stale = [s for s in SRC_TO_TARGET if not (ROOT / s).is_file()]
    assert not stale, f"BUILD lists files that do not exist: {stale}"
    counts = [s for t in TARGETS.values() for s in t["srcs"]]
    assert len(counts) == len(set(counts)), "a file is listed in two targets"


@pytest.mark.parametrize("path", python_files())
def test_target_matches_file(path):
    name = target_name(path)
    assert SRC_TO_TARGET.get(path) == name, f"{path} must be target {name!r}"
    target = TARGETS[name]
    is_test = pathlib.PurePosixPath(path).name.startswith("test_")
    assert (target["rule"] == "py_test") == is_test, f"{name}: test files are py_test"
    internal, external = imports_of(path)
    assert target["internal"] == {target_name(f) for f in internal}, f"{name}: internal deps"
    assert target["external"] == external, f"{name}: requirement() deps"
