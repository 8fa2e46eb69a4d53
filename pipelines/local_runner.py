"""Runs the conversion on this machine: cases in parallel processes, shards written in order.

Cases are converted by `workers` processes (spawned, so each imports TensorFlow afresh rather
than forking a running runtime); results come back in plan order through a bounded window, so
memory stays at about 2 * workers cases, and the parent streams them into the shard files.
Workers exit on their own when the parent dies (even by SIGKILL, which runs no clean-up), so
a killed conversion leaves no process behind.
"""

import collections
import concurrent.futures
import itertools
import multiprocessing
import os
import threading
import time

from pipelines import conversion

# How often a worker checks that the process that started it is still alive (seconds).
ORPHAN_CHECK_SECONDS = 0.5


def _exit_when_orphaned(parent_pid):
    """Worker initializer: a daemon thread ends this process once `parent_pid` is gone (the
    worker is then re-parented, so its parent id changes)."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-when-orphaned", daemon=True).start()


def _ordered_results(cases, root, options, workers):
    """Yields conversion.CaseResult for `cases`, in their order."""
    if workers == 1:
        for case in cases:
            yield conversion.convert_case(case, root, options)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_exit_when_orphaned,
            initargs=(os.getpid(),)) as pool:
        remaining = iter(cases)
        pending = collections.deque(
            pool.submit(conversion.convert_case, case, root, options)
            for case in itertools.islice(remaining, 2 * workers))
        while pending:
            result = pending.popleft().result()
            following = next(remaining, None)
            if following is not None:
                pending.append(pool.submit(conversion.convert_case, following, root, options))
            yield result


def _counted(results, progress):
    for result in results:
        progress.update(rejected=result.record is None)
        yield result


def run_local(plans, root, staging, options, workers, progress):
    """Converts every planned shard; returns the write_planned_shard outputs in shard order.

    Args:
      plans: list of conversion.ShardPlan.
      root: dataset root (case paths in the manifest are relative to it).
      staging: folder for the shards (see pipelines.publish).
      options: conversion.ConversionOptions.
      workers: number of processes (1 converts in this process).
      progress: a pipelines.progress.Progress, updated per case.
    """
    if workers < 1:
        raise ValueError(f"`workers` must be >= 1. Received: workers={workers}")
    cases = [case for plan in plans for case in plan.cases]
    results = _counted(_ordered_results(cases, root, options, workers), progress)
    return [conversion.write_planned_shard(staging, plan,
                                           itertools.islice(results, len(plan.cases)))
            for plan in plans]
