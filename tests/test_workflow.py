"""The demo's stage table, its runner and what it clears before a run."""

import os
import sys

import pytest

from brats_rev.demo import workflow


def _flags(stage):
    """{flag name: value} of a stage's `--name=value` arguments."""
    return dict(arg[2:].split("=", 1) for arg in stage.argv if arg.startswith("--"))


@pytest.mark.parametrize("size_name", sorted(workflow.SIZES))
def test_stages_chain_each_output_into_the_next_input(size_name):
    layout = workflow.DemoLayout("out")
    size = workflow.SIZES[size_name]
    stages = {stage.name: stage for stage in workflow.stages(layout, size, python="py")}
    assert list(stages) == ["training phantoms", "held-out phantoms", "convert", "train",
                            "predict", "evaluate", "baselines", "export", "memory benchmark"]
    assert all(stage.argv[:2] == ("py", "-m") for stage in stages.values())
    train_cases = _flags(stages["training phantoms"])
    held_out = _flags(stages["held-out phantoms"])
    assert train_cases["kind"] == held_out["kind"] == "realistic"
    # Same seed; the held-out numbering starts after the training cases: disjoint cases.
    assert train_cases["seed"] == held_out["seed"]
    assert train_cases["num_cases"] == held_out["first_case"] == str(size.train_cases)
    assert _flags(stages["convert"])["input_dir"] == train_cases["output_dir"]
    train = _flags(stages["train"])
    assert train["data_dir"] == _flags(stages["convert"])["output_dir"]
    assert (train["strategy"], train["cpu_replicas"]) == ("mirrored", "2")
    predict = _flags(stages["predict"])
    assert (predict["model"], predict["input"]) == (train["model_dir"], held_out["output_dir"])
    evaluate = _flags(stages["evaluate"])
    assert (evaluate["pred_dir"], evaluate["gt_dir"]) == (predict["output_dir"],
                                                          held_out["output_dir"])
    baselines = _flags(stages["baselines"])  # fitted and scored on the model's own cases
    assert (baselines["train_dir"], baselines["test_dir"]) == (train_cases["output_dir"],
                                                               held_out["output_dir"])
    assert baselines["output_dir"] == layout.baselines
    export = _flags(stages["export"])
    assert (export["model"], export["export_base"]) == (train["model_dir"], layout.export)
    bench = _flags(stages["memory benchmark"])
    assert stages["memory benchmark"].argv[2] == "brats_rev.bench.memory_unet"
    assert bench["modes"] == "reversible,plain"
    assert bench["json_out"] == layout.bench_json
    for stage in stages.values():  # everything lands under the layout's root
        for name, value in _flags(stage).items():
            if name.endswith(("_dir", "_out", "_base")):
                assert value.startswith("out" + os.sep), (stage.name, name, value)


def test_full_size_searches_a_budget_and_trains_longer_than_the_quick_one():
    full, quick = (_flags(workflow.Stage(name, ("py", *workflow.SIZES[name].train_flags)))
                   for name in ("full", "quick"))
    bench = _flags(workflow.Stage("bench", ("py", *workflow.SIZES["full"].bench_flags)))
    assert int(bench["budget_mb"]) > 0
    assert "epochs" not in quick  # the tiny preset's own 16 epochs of 25 steps
    assert int(full["epochs"]) == 32


def test_run_stage_returns_seconds_and_names_a_failing_stage(capfd):
    ok = workflow.Stage("fine", (sys.executable, "-c", "print('hello')"))
    assert workflow.run_stage(ok) >= 0
    out = capfd.readouterr().out
    assert f"== fine\n$ {workflow.shown_command(ok.argv)}\nhello\n" in out
    bad = workflow.Stage("broken", (sys.executable, "-c", "raise SystemExit(3)"))
    with pytest.raises(workflow.StageFailed, match="stage 'broken' failed with exit status 3"):
        workflow.run_stage(bad)


def test_clear_previous_removes_only_the_demo_paths(tmp_path):
    layout = workflow.DemoLayout(str(tmp_path))
    os.makedirs(os.path.join(layout.run, "checkpoints"))
    os.makedirs(layout.predictions)
    with open(layout.report, "w", encoding="utf-8") as handle:
        handle.write("old")
    with open(tmp_path / "notes.txt", "w", encoding="utf-8") as handle:
        handle.write("mine")
    removed = workflow.clear_previous(layout)
    assert sorted(removed) == sorted([layout.run, layout.predictions, layout.report])
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    assert workflow.clear_previous(layout) == []


def test_shown_command_quotes_and_shortens_the_interpreter(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    python = str(tmp_path / ".venv" / "bin" / "python")
    assert workflow.shown_command((python, "-m", "m", "--x=a b")) == (
        ".venv/bin/python -m m '--x=a b'")
    assert workflow.shown_command(("/usr/bin/python3", "-V")) == "/usr/bin/python3 -V"
