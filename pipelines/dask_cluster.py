"""Beam's DaskRunner for the conversion: on a user's Dask cluster, or on a local one.

    python -m pipelines.convert_brats ... --runner=beam --beam_runner=DaskRunner \
        [--dask_client_address=tcp://scheduler:8786] [--workers=2]

With `--dask_client_address` (Beam's own option) the pipeline runs on that cluster; its
workers must import this project and reach `--input_dir` and `--output_dir` under the same
paths (a shared filesystem). Without it, a `distributed.LocalCluster` of `--workers` worker
processes (one thread each) is started on this machine for the run and stopped after it. Each
planned shard is one Dask task (`--dask_partition_size=1` unless given), so shards are
converted in parallel on as many workers as there are.
"""

import contextlib
import logging
import sys

from brats_rev import startup

# Beam registers no short name for its Dask runner.
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
RUNNER_NAMES = ("DaskRunner", DASK_RUNNER)


def _given(arguments, *options):
    return any(argument.split("=", 1)[0] in options for argument in arguments)


@contextlib.contextmanager
def beam_arguments(pipeline_args, workers):
    """Yields `pipeline_args` completed for Beam's DaskRunner (see the module docstring).

    Args:
      pipeline_args: Beam pipeline options as command-line strings.
      workers: worker processes of the local cluster (used only without an address).
    """
    arguments = list(pipeline_args)
    if not _given(arguments, "--dask_partition_size", "--dask_npartitions"):
        arguments.append("--dask_partition_size=1")
    if _given(arguments, "--dask_client_address"):
        yield arguments
        return
    from distributed import LocalCluster  # optional extra: `pip install .[beam]`

    quiet = startup.verbosity(sys.argv) < 1  # as quiet as this program
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None,
                      silence_logs=logging.WARNING if quiet else False) as cluster:
        yield arguments + [f"--dask_client_address={cluster.scheduler_address}"]
