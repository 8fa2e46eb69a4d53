"""The conversion benchmark on a tiny grid: counts, sizes and the table it prints."""

import os

from brats_rev.data import manifest
from pipelines import bench_convert


def test_run_reports_cases_and_sizes(tmp_path):
    results = bench_convert.time_conversions(str(tmp_path), 2, (24, 28, 20), [1], num_shards=1)
    assert len(results) == 1
    result = results[0]
    assert (result["runner"], result["workers"], result["cases"]) == ("local", 1, 2)
    assert 0 < result["first_case_seconds"] <= result["seconds"]
    assert result["steady_cases_per_second"] > 0
    assert 0 < result["cpu_seconds_per_case"] < 60
    output = tmp_path / "records_local_1workers"
    [shard] = manifest.load_manifest(str(output))["shards"]
    record = os.path.getsize(output / shard["file"])
    assert result["record_mb_per_case"] == round(record / 2 / 1e6, 2)
    assert result["nifti_mb_per_case"] == round(
        bench_convert.nifti_bytes(str(tmp_path / "nifti")) / 2 / 1e6, 2)
    table = bench_convert.markdown(results).splitlines()
    assert table[2].startswith("| local | 1 | 2 | ")
