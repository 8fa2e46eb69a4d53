"""The machine's float32 limit as TensorFlow reaches it, measured in the benchmark's process.

* `matmul_gflops`: a large float32 matrix product (TensorFlow's MatMul, which runs oneDNN's
  sgemm on x86), warm, timed several times; GFLOP/s = 2 n³ / seconds of the fastest.
* `onednn_report`: the instruction set oneDNN detected and the implementation it picked for
  each primitive it created (e.g. "brg_conv_fwd:avx512_core" for a convolution), read from
  the lines oneDNN prints when the process runs with `ONEDNN_ENVIRONMENT`.
"""

import collections
import time

import tensorflow as tf

# oneDNN prints its CPU's instruction set and one line per primitive it creates (not per run).
ONEDNN_ENVIRONMENT = {"ONEDNN_VERBOSE": "profile_create"}
_VERBOSE_PREFIX = "onednn_verbose,"
_ISA_FIELD = "isa:"


def matmul_gflops(size, repeats):
    """{"size", "repeats", "seconds" (fastest), "gflops_per_second"} of a float32
    (size, size) x (size, size) product, after one untimed warm-up."""
    left = tf.random.stateless_normal((size, size), seed=(1, 2))
    right = tf.random.stateless_normal((size, size), seed=(3, 4))
    tf.linalg.matmul(left, right)[0, 0].numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(left, right)[0, 0].numpy()
        times.append(time.perf_counter() - start)
    fastest = min(times)
    return {"size": size, "repeats": repeats, "seconds": fastest,
            "gflops_per_second": 2 * size ** 3 / fastest / 1e9}


def onednn_report(lines):
    """What oneDNN said in `lines` (a process's stdout lines; others are ignored).

    Returns:
      {"isa": the detected instruction set (str, None if oneDNN printed nothing),
       "implementations": {primitive kind: {implementation: primitives created}}}.
    """
    isa, implementations = None, collections.defaultdict(collections.Counter)
    for line in lines:
        if not line.startswith(_VERBOSE_PREFIX):
            continue
        fields = line.split(",")
        # info line: onednn_verbose,v1,info,cpu,isa:<description, may hold commas>
        if fields[2:4] == ["info", "cpu"] and fields[4].startswith(_ISA_FIELD):
            isa = ",".join(fields[4:])[len(_ISA_FIELD):]
        # creation: onednn_verbose,v1,primitive,create:<how>,cpu,<kind>,<implementation>,...
        elif fields[2] == "primitive" and fields[3].startswith("create") and len(fields) > 6:
            implementations[fields[5]][fields[6]] += 1
    return {"isa": isa, "implementations": {kind: dict(counts)
                                            for kind, counts in implementations.items()}}
