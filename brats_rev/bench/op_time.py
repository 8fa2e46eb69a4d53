"""Where a call's wall time goes, op by op, from TensorFlow's profiler trace.

`traced_ops` runs a callable under `tf.profiler.experimental` and reads back the trace
(the XSpace protobuf the profiler writes): every TensorFlow op the executor ran, with its
start and end. An op's interval covers the work of the intra-op threads it hands its loops to.
`wall_by_label` then shares the call's wall time among labels (e.g. layer kinds) by a sweep
over those intervals: each instant goes in equal parts to the ops running at it, so the
labels' seconds add up to the time during which some op ran; the rest of the call (Python,
numpy, waiting) is what no op covers.
"""

import collections
import glob
import os
import tempfile
import time

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

_HOST_PLANE = "/host:CPU"
_PICOSECONDS = 1e-12


def _op_events(plane, line):
    """[(op name, start ps, end ps)] of the op events on one thread's `line` of `plane`:
    their metadata is named "<op name>:<op type>" with the type as display name (executor
    and thread-pool events are not)."""
    origin = line.timestamp_ns * 1000
    events = []
    for event in line.events:
        metadata = plane.event_metadata[event.metadata_id]
        op_type = metadata.display_name
        if op_type and metadata.name.endswith(":" + op_type):
            start = origin + event.offset_ps
            events.append((metadata.name[:-len(op_type) - 1], start, start + event.duration_ps))
    return events


def _innermost(events):
    """The events among `events` (name, start, end) that contain no other one; an op that
    runs others (a function call) would count their time twice."""
    ordered = sorted(events, key=lambda e: (e[1], -e[2]))
    leaves = []
    for index, (name, start, end) in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is None or following[1] >= end or following[2] > end:
            leaves.append((name, start, end))
    return leaves


def traced_ops(run):
    """Runs `run()` once under the profiler.

    Returns:
      (wall seconds of the call, [(op name, start, end)] of the ops it ran, innermost only,
      start and end in picoseconds on one clock).
    """
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
        finally:
            tf.profiler.experimental.stop()
        [path] = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as trace:
            space.ParseFromString(trace.read())
    events = []
    for plane in space.planes:
        if plane.name == _HOST_PLANE:
            for line in plane.lines:  # one thread's events are nested or disjoint
                events += _innermost(_op_events(plane, line))
    return seconds, events


def wall_by_label(events, label):
    """{label: seconds}: the time during which ops ran, shared as the module docstring says.

    Args:
      events: [(op name, start ps, end ps)] from `traced_ops`.
      label: op name -> a label (str).
    """
    boundaries = []
    for name, start, end in events:
        kind = label(name)
        boundaries += [(start, 1, kind), (end, -1, kind)]
    boundaries.sort(key=lambda b: (b[0], b[1]))
    running = collections.Counter()
    seconds = collections.defaultdict(float)
    previous = None
    for moment, step, kind in boundaries:
        total = sum(running.values())
        if total and moment > previous:
            share = (moment - previous) * _PICOSECONDS / total
            for name, count in running.items():
                seconds[name] += share * count
        running[kind] += step
        if not running[kind]:
            del running[kind]
        previous = moment
    return dict(seconds)
