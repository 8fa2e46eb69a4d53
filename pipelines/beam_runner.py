"""Runs the conversion as an Apache Beam pipeline (optional extra: `pip install .[beam]`).

One element per planned shard: a worker converts that shard's cases in order and writes the
shard with the same code as the local runner, so the bytes are the same. All shard outputs are
then gathered into one element that writes rejected.json and the manifest to publish. All of it
goes into a staging folder (`pipelines.publish`), which must be a filesystem path every worker
can write (a shared mount on distributed runners); the program publishes it after the pipeline.
"""

import contextlib

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import conversion, dask_cluster


def _convert_shard(plan, root, staging, options):
    results = (conversion.convert_case(case, root, options) for case in plan.cases)
    return conversion.write_planned_shard(staging, plan, results)


def _finish(shard_outputs, staging, discovery_problems, options):
    ordered = sorted(shard_outputs, key=lambda output: output[0]["file"])
    conversion.finish(staging, ordered, discovery_problems, options)


def run_beam(plans, root, staging, options, discovery_problems, beam_runner="DirectRunner",
             pipeline_args=(), workers=1):
    """Runs the conversion on Beam runner `beam_runner`; writes the shards, rejected.json and
    the manifest to publish into `staging`.

    Args:
      plans: list of conversion.ShardPlan.
      root: dataset root.
      staging: the staging folder (pipelines.publish.start).
      options: conversion.ConversionOptions.
      discovery_problems: Problems found before conversion (go into the rejected report).
      beam_runner: Beam runner name (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner,
        DaskRunner: pipelines.dask_cluster).
      pipeline_args: further Beam pipeline options, e.g. ["--project=...", "--region=..."].
      workers: worker processes of the local Dask cluster (DaskRunner without an address).
    """
    with contextlib.ExitStack() as stack:
        arguments = list(pipeline_args)
        if beam_runner in dask_cluster.RUNNER_NAMES:
            beam_runner = dask_cluster.DASK_RUNNER
            arguments = stack.enter_context(dask_cluster.beam_arguments(arguments, workers))
        _run(plans, root, staging, options, discovery_problems,
             PipelineOptions(arguments, runner=beam_runner))


def _run(plans, root, staging, options, discovery_problems, pipeline_options):
    with beam.Pipeline(options=pipeline_options) as pipeline:
        _ = (
            pipeline
            | "PlanShards" >> beam.Create(plans)
            | "Spread" >> beam.Reshuffle()
            | "ConvertShard" >> beam.Map(_convert_shard, root, staging, options)
            | "GatherShards" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(_finish, staging, discovery_problems, options)
        )
    client = getattr(pipeline.result, "client", None)
    if client is not None:  # Beam's DaskRunner leaves its cluster client open
        client.close()
