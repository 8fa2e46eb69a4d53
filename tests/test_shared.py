"""tests.shared.built_once: one build per session, an unfinished build redone."""

import pytest

from tests.shared import built_once


def test_builds_once_and_redoes_an_unfinished_build(tmp_path_factory):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "artefact").write_text(str(len(calls)))

    first = built_once(tmp_path_factory, "shared_probe", build)
    again = built_once(tmp_path_factory, "shared_probe", build)
    assert first == again and len(calls) == 1 and (first / "artefact").read_text() == "1"

    def failing(folder):
        (folder / "half").write_text("")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        built_once(tmp_path_factory, "shared_failed", failing)
    rebuilt = built_once(tmp_path_factory, "shared_failed", build)
    assert sorted(p.name for p in rebuilt.iterdir()) == [".complete", "artefact"]
