"""Benchmark output helpers: where a run ran, and its tables."""

from brats_rev.bench import output


def test_cpu_model_reads_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    assert output.cpu_model(str(cpuinfo)) == "Test CPU 9000"


def test_markdown_table_and_spread():
    assert output.markdown_table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"
    assert output.format_spread([3.0, 1.0, 2.0], digits=1) == "2.0 (1.0-3.0)"
    assert output.format_spread([4.0]) == "4"
