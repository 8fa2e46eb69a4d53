"""Times the conversion of full-size phantom cases for several runners and worker counts.

    python -m pipelines.bench_convert --work_dir=/tmp/brats_bench --num_cases=12 \
        --workers=1,2 [--runners=local,dask] [--shape=240,240,155] [--json_out=bench.json]

Writes the phantoms once under <work_dir>/nifti (reused by later runs), converts them into
<work_dir>/records_<runner>_<n>workers for each runner and worker count (replacing what is
there), and prints a Markdown table: wall time, cases/s, record bytes per case and raw NIfTI
bytes per case. Runners: `local` (pipelines.local_runner) and `dask` (Beam's DaskRunner on a
local Dask cluster of that many worker processes, pipelines.dask_cluster). Wall time covers
the whole conversion, including the start-up of worker processes (each imports TensorFlow);
the steady rate counts only the cases after the first one, from the local runner's progress
line (Beam draws none). CPU seconds per case (user + system, this process and its workers,
start-up included) do not depend on what else the machine runs, unlike the wall-clock rates.
"""

import itertools
import os
import resource
import time

from absl import flags

from brats_rev import atomic, phantoms, program
from brats_rev.bench import output
from pipelines import conversion, convert_brats, dask_cluster


def nifti_bytes(directory):
    """Total size in bytes of the NIfTI files under `directory`."""
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(directory)
               for name in names if name.endswith((".nii", ".nii.gz")))


class _Timestamps:
    """A text stream that keeps the time of each progress line instead of printing it."""

    def __init__(self):
        self.times = []

    def write(self, text):
        if text.strip():
            self.times.append(time.perf_counter())

    def flush(self):
        pass

    def isatty(self):
        return False


def _cpu_seconds():
    """User + system CPU seconds used so far by this process and its finished children."""
    own, children = (resource.getrusage(who)
                     for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# Runner name -> convert_brats.convert arguments.
RUNNERS = {"local": {"runner": "local"},
           "dask": {"runner": "beam", "beam_runner": dask_cluster.RUNNER_NAMES[0]}}


def time_conversions(work_dir, num_cases, shape, worker_counts, num_shards, runners=("local",),
                     release="2021"):
    """Converts the phantom set once per runner (RUNNERS) and worker count; returns a list of
    result dicts."""
    source = os.path.join(work_dir, "nifti")
    if not os.path.isdir(source):
        phantoms.write_dataset(source, num_cases, release, shape)
    raw = nifti_bytes(source)
    results = []
    for runner, workers in itertools.product(runners, worker_counts):
        output = os.path.join(work_dir, f"records_{runner}_{workers}workers")
        stamps = _Timestamps()
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        document = convert_brats.convert(source, output, conversion.ConversionOptions(),
                                         num_shards=num_shards, workers=workers,
                                         progress_stream=stamps, overwrite=True,
                                         **RUNNERS[runner])
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start
        steady = stamps.times[-1] - stamps.times[0] if stamps.times else 0
        converted = document["num_cases"]
        record = sum(shard["bytes"] for shard in document["shards"])
        results.append({
            "runner": runner, "workers": workers, "cases": converted,
            "seconds": round(seconds, 2), "cases_per_second": round(converted / seconds, 3),
            "first_case_seconds": round(stamps.times[0] - start, 3) if stamps.times else None,
            "steady_cases_per_second": round((len(stamps.times) - 1) / steady, 3)
            if steady > 0 else None,
            "cpu_seconds_per_case": round(cpu / converted, 2),
            "record_mb_per_case": round(record / converted / 1e6, 2),
            "nifti_mb_per_case": round(raw / converted / 1e6, 2),
        })
    return results


def markdown(results):
    """The results as a Markdown table."""
    lines = ["| runner | workers | cases | wall s | cases/s | first case s | steady cases/s "
             "| CPU s/case | record MB/case | NIfTI .nii.gz MB/case |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines.extend(f"| {r['runner']} | {r['workers']} | {r['cases']} | {r['seconds']} "
                 f"| {r['cases_per_second']} "
                 f"| {r['first_case_seconds']} | {r['steady_cases_per_second']} "
                 f"| {r['cpu_seconds_per_case']} "
                 f"| {r['record_mb_per_case']} | {r['nifti_mb_per_case']} |" for r in results)
    return "\n".join(lines)


def main(argv):
    """Entry point: runs the benchmark and prints the machine and the table."""
    del argv
    options = flags.FLAGS
    shape = tuple(int(n) for n in options.shape.split(","))
    workers = [int(n) for n in options.workers.split(",")]
    results = time_conversions(options.work_dir, options.num_cases, shape, workers,
                               options.num_shards, options.runners)
    print(f"machine: {os.cpu_count()} cores, {output.cpu_model()}")
    print(markdown(results))
    if options.json_out:
        atomic.write_json(options.json_out, {"cpu": output.cpu_model(), "cores": os.cpu_count(),
                                             "results": results})


def define_flags():
    """Defines this program's absl flags (only when run as a program)."""
    flags.DEFINE_string("work_dir", None, "Scratch folder for phantoms and records.",
                        required=True)
    flags.DEFINE_integer("num_cases", 12, "Phantom cases to convert.", lower_bound=1)
    flags.DEFINE_string("shape", "240,240,155", "Case grid x,y,z.")
    flags.DEFINE_string("workers", "1,2", "Comma-separated worker counts to time.")
    flags.DEFINE_multi_enum("runners", ["local"], list(RUNNERS), "Runners to time.")
    flags.DEFINE_integer("num_shards", 2, "Shards per conversion.", lower_bound=1)
    flags.DEFINE_string("json_out", None, "Also write the results as JSON here.")


def run():
    """Entry point: `python -m pipelines.bench_convert`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
