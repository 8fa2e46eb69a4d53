"""Whole-case inference benchmark: seconds per case, peak memory, sliding-window overhead.

    python -m brats_rev.bench.inference [--preset=default] [--shape=240,240,155] \
        [--window=128] [--overlap=0.5] [--batch_size=1] [--serving] [--matmul_size=4096] \
        [--matmul_repeats=5] [--json_out=runs/bench/inference.json]

One synthetic case (brats_rev.phantoms) of `--shape` is written as NIfTI and segmented by a
model of `--preset` with random weights (speed and memory do not depend on the weights), no
test-time augmentation. The measurement runs in a fresh child process with TensorFlow's BFC
allocator on CPU (docs/ARCHITECTURE.md, "Facts", 3), in one run:

  * the sliding-window function is traced once on a window-sized image (not timed);
  * case: read the four files, preprocess, predict, post-process, write the label NIfTI;
  * predict: the `Predictor.predict_image` part of it (preprocessing to labels), with the
    peak allocator bytes of that call;
  * model calls: the same number of windows, same batch size, through the model alone in a
    traced function; overhead = predict / model calls, in wall time and in process CPU time
    (all threads; less sensitive to other jobs sharing the machine);
  * the limit: forward FLOPs per case (`models.statistics.flops_by_op` of the model on one
    window, times the windows), the GFLOP/s predict and the model calls achieve, and the
    machine's float32 peak, a `--matmul_size`² matrix product (`bench.peak`), with the
    instruction set and the implementations oneDNN reports for the primitives it created;
  * where the time goes: one more predict call traced by TensorFlow's profiler, its wall time
    shared among the layer kinds of `bench.layer_kinds` by the ops that ran (`bench.op_time`);
    the kinds' seconds, their FLOPs and GFLOP/s, and the rest no op covers (numpy pre- and
    post-processing, Python);
  * with --serving: the model exported for TF Serving (brats_rev.serving.saved_model), the
    SavedModel loaded back, its `segment` signature run on the same raw image: export seconds,
    SavedModel bytes, gRPC request / response TensorProto bytes, seconds and peak allocator
    bytes of the call, its time / predict's, and whether its labels equal predict's.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import keras
import nibabel as nib
import numpy as np
import tensorflow as tf
from absl import flags

from brats_rev import atomic, phantoms, program
from brats_rev.bench import isolation, layer_kinds, op_time, output, peak
from brats_rev.config import InferenceConfig, preset
from brats_rev.data.cases import find_cases
from brats_rev.data.prepare import prepare_case
from brats_rev.inference import outputs
from brats_rev.inference.predictor import Predictor
from brats_rev.inference.sliding_window import window_starts
from brats_rev.models import build_model
from brats_rev.models.statistics import flops_by_op
from brats_rev.serving import saved_model

RESULT_PREFIX = "BRATS_REV_INFERENCE_RESULT "


def _window_count(shape, window, overlap):
    count = 1
    for size, length in zip(shape, window, strict=True):
        count *= int(window_starts(max(size, length), length, overlap).shape[0])
    return count


def _folder_bytes(path):
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(path) for name in names)


def measure_serving(predictor, image, prediction, workdir):
    """The `segment` signature of `predictor`'s model exported to `workdir` on raw `image`
    (X, Y, Z, 4) float32, against `prediction` (predict's result for the same image)."""
    start = time.perf_counter()
    version = saved_model.export_model(predictor.model, predictor.window_size,
                                  os.path.join(workdir, "export"), config=predictor.config)
    export_seconds = time.perf_counter() - start
    segment = tf.saved_model.load(version).signatures["segment"]

    def run(volume):
        return segment(image=tf.constant(volume), label_convention=tf.constant(
            prediction.convention), tta=tf.constant("none"),
            return_probabilities=tf.constant(False))["labels"].numpy()

    run(np.random.default_rng(0).random(predictor.window_size + (4,), np.float32))  # warm up
    tf.config.experimental.reset_memory_stats("CPU:0")
    start, cpu = time.perf_counter(), time.process_time()
    labels = run(image)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {"export_seconds": export_seconds, "saved_model_bytes": _folder_bytes(version),
            "request_bytes": tf.make_tensor_proto(image).ByteSize(),
            "response_bytes": tf.make_tensor_proto(labels).ByteSize(),
            "segment_seconds": seconds, "segment_cpu_seconds": cpu_seconds,
            "segment_peak_bytes": int(tf.config.experimental.get_memory_info("CPU:0")["peak"]),
            "labels_equal_predict": bool(np.array_equal(labels, prediction.labels))}


def measure_kinds(predictor, image, convention, window_flops, windows):
    """Per layer kind: FLOPs of the case, seconds of one traced `predict_image` call of
    `image`, GFLOP/s; `window_flops` are `flops_by_op` of the model on one window."""
    seconds, events = op_time.traced_ops(lambda: predictor.predict_image(image, convention))
    kind_of = layer_kinds.classifier(predictor.model)
    kind_seconds = op_time.wall_by_label(events, kind_of)
    kind_flops = dict.fromkeys(layer_kinds.KINDS, 0)
    for name, count in window_flops.items():
        kind_flops[kind_of(name)] += count * windows
    kinds = [{"kind": kind, "flops": kind_flops[kind], "seconds": kind_seconds.get(kind, 0.0),
              "gflops_per_second": kind_flops[kind] / kind_seconds[kind] / 1e9
              if kind_seconds.get(kind) else 0.0} for kind in layer_kinds.KINDS]
    return {"profiled_predict_seconds": seconds, "kinds": kinds,
            "unaccounted_seconds": seconds - sum(kind["seconds"] for kind in kinds)}


def measure(preset_name, shape, window, overlap, batch_size, workdir, serving=False,
            matmul_size=4096, matmul_repeats=5):
    """The result dict of one benchmark run (see the module docstring)."""
    keras.utils.set_random_seed(0)
    phantoms.write_dataset(workdir, 1, "2021", shape)
    [case], _ = find_cases(workdir)
    predictor = Predictor(build_model(preset(preset_name)), window,
                          InferenceConfig(overlap=overlap, batch_size=batch_size))
    predictor.probabilities(np.zeros(window + (4,), np.float32))  # trace once

    tf.config.experimental.reset_memory_stats("CPU:0")
    start = time.perf_counter()
    prediction, loaded = predictor.predict_case(case)
    outputs.write_nifti(os.path.join(workdir, "prediction.nii.gz"), prediction.labels,
                        nib.load(case.images[0]))
    case_seconds = time.perf_counter() - start
    peak_case = tf.config.experimental.get_memory_info("CPU:0")["peak"]

    start, cpu = time.perf_counter(), time.process_time()
    predictor.predict_image(loaded.image, case.convention)
    predict_seconds, predict_cpu = time.perf_counter() - start, time.process_time() - cpu
    served = {}
    if serving:
        served = measure_serving(predictor, loaded.image.astype(np.float32), prediction, workdir)
        served["segment_over_predict"] = served["segment_seconds"] / predict_seconds
        served["segment_over_predict_cpu"] = served["segment_cpu_seconds"] / predict_cpu

    crop_shape = prepare_case(loaded.image).image.shape[:3]
    windows = _window_count(crop_shape, window, overlap)
    model_call = tf.function(predictor.predict_windows)
    batch = tf.random.normal((batch_size,) + window + (4,))
    model_call(batch).numpy()  # trace
    calls = -(-windows // batch_size)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        model_call(batch).numpy()
    model_seconds, model_cpu = time.perf_counter() - start, time.process_time() - cpu

    window_flops = flops_by_op(build_model(preset(preset_name), window))
    flops = sum(window_flops.values()) * windows
    kinds = measure_kinds(predictor, loaded.image, case.convention, window_flops, windows)
    matmul = peak.matmul_gflops(matmul_size, matmul_repeats)
    return {
        "preset": preset_name, "shape": list(shape), "crop_shape": list(crop_shape),
        "window": list(window), "overlap": overlap, "batch_size": batch_size,
        "windows": windows, "model_calls": calls,
        "case_seconds": case_seconds, "predict_seconds": predict_seconds,
        "model_seconds": model_seconds, "overhead": predict_seconds / model_seconds,
        "predict_cpu_seconds": predict_cpu, "model_cpu_seconds": model_cpu,
        "cpu_overhead": predict_cpu / model_cpu,
        "forward_flops_per_window": flops // windows, "flops_per_case": flops,
        "predict_gflops_per_second": flops / predict_seconds / 1e9,
        "model_gflops_per_second": flops / model_seconds / 1e9,
        "peak_matmul": matmul, **kinds,
        "peak_bytes": int(peak_case),
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "machine": output.machine_description(), **served,
    }


def _arguments():
    options = flags.FLAGS
    return {"preset_name": options.preset,
            "shape": tuple(int(n) for n in options.shape),
            "window": (options.window,) * 3, "overlap": options.overlap,
            "batch_size": options.batch_size, "serving": options.serving,
            "matmul_size": options.matmul_size, "matmul_repeats": options.matmul_repeats}


def print_limit(result):
    """Prints the FLOPs, GFLOP/s against the matmul peak, and the time per layer kind."""
    matmul = result["peak_matmul"]
    peak_rate = matmul["gflops_per_second"]
    print(f"Forward {result['forward_flops_per_window'] / 1e9:.1f} GFLOP per window, "
          f"{result['flops_per_case'] / 1e9:.1f} GFLOP per case: "
          f"{result['predict_gflops_per_second']:.1f} GFLOP/s in predict, "
          f"{result['model_gflops_per_second']:.1f} GFLOP/s in the model calls alone; peak "
          f"{peak_rate:.1f} GFLOP/s (float32 {matmul['size']}² matmul, fastest of "
          f"{matmul['repeats']}); oneDNN ISA: {result['onednn']['isa']}")
    total = result["profiled_predict_seconds"]
    rows = [[kind["kind"], f"{kind['flops'] / 1e9:.1f}", f"{kind['seconds']:.2f}",
             f"{100 * kind['seconds'] / total:.0f}%", f"{kind['gflops_per_second']:.1f}",
             f"{100 * kind['gflops_per_second'] / peak_rate:.0f}%"]
            for kind in result["kinds"]]
    rows.append(["rest (no TF op running)", "", f"{result['unaccounted_seconds']:.2f}",
                 f"{100 * result['unaccounted_seconds'] / total:.0f}%", "", ""])
    print(f"One more predict, traced by the profiler ({total:.1f} s), by layer kind:")
    print(output.markdown_table(["kind", "GFLOP / case", "s", "share", "GFLOP/s", "of peak"],
                                rows))


def main(argv):
    """Parent: reruns itself in a fresh process with the BFC allocator; child: measures."""
    del argv
    options = flags.FLAGS
    if os.environ.get(isolation.BFC_VARIABLE, "").lower() != "true":
        done = subprocess.run([sys.executable, "-m", "brats_rev.bench.inference", *sys.argv[1:]],
                              env={**isolation.measurement_environment(),
                                   **peak.ONEDNN_ENVIRONMENT},
                              capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if not lines:
            raise RuntimeError(f"inference benchmark failed (exit {done.returncode}):\n"
                               + "\n".join(done.stderr.splitlines()[-25:]))
        result = json.loads(lines[-1][len(RESULT_PREFIX):])
        result["onednn"] = peak.onednn_report(done.stdout.splitlines())
        print(f"Inference, preset {result['preset']} (random weights), case "
              f"{'x'.join(map(str, result['shape']))} cropped to "
              f"{'x'.join(map(str, result['crop_shape']))}, window {result['window'][0]}^3, "
              f"overlap {result['overlap']}, {result['windows']} windows, batch "
              f"{result['batch_size']}, no TTA; {result['machine']['cpu']}, "
              f"{result['machine']['cores']} cores:")
        print(output.markdown_table(
            ["s / case (read, predict, write)", "s predict", "s model calls alone",
             "overhead (wall)", "overhead (CPU time)", "peak allocator MiB", "max RSS MiB"],
            [[f"{result['case_seconds']:.1f}", f"{result['predict_seconds']:.1f}",
              f"{result['model_seconds']:.1f}", f"{result['overhead']:.2f}x",
              f"{result['cpu_overhead']:.2f}x",
              f"{result['peak_bytes'] / output.MIB:.0f}",
              f"{result['max_rss_bytes'] / output.MIB:.0f}"]]))
        print_limit(result)
        if options.serving:
            print(f"Exported for TF Serving in {result['export_seconds']:.0f} s; the `segment` "
                  "signature on the same raw image:")
            print(output.markdown_table(
                ["SavedModel MiB", "request MiB", "response MiB", "s segment",
                 "segment / predict (wall)", "(CPU time)", "peak allocator MiB",
                 "labels equal predict"],
                [[f"{result['saved_model_bytes'] / output.MIB:.1f}",
                  f"{result['request_bytes'] / output.MIB:.1f}",
                  f"{result['response_bytes'] / output.MIB:.1f}",
                  f"{result['segment_seconds']:.1f}", f"{result['segment_over_predict']:.2f}x",
                  f"{result['segment_over_predict_cpu']:.2f}x",
                  f"{result['segment_peak_bytes'] / output.MIB:.0f}",
                  str(result["labels_equal_predict"])]]))
        if options.json_out:
            atomic.write_json(options.json_out, result)
        return
    with tempfile.TemporaryDirectory() as workdir:
        result = measure(**_arguments(), workdir=workdir)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("preset", "default", "ModelConfig preset (random weights).")
    flags.DEFINE_list("shape", ["240", "240", "155"], "Case grid x,y,z (1 mm voxels).")
    flags.DEFINE_integer("window", 128, "Cubic sliding window edge (the training patch).",
                         lower_bound=1)
    flags.DEFINE_float("overlap", 0.5, "Sliding-window overlap.")
    flags.DEFINE_integer("batch_size", 1, "Windows per model call.", lower_bound=1)
    flags.DEFINE_bool("serving", False, "Also export the model and time its `segment` "
                      "signature on the same case.")
    flags.DEFINE_integer("matmul_size", 4096, "Edge of the float32 matrices whose product "
                         "measures the machine's peak GFLOP/s.", lower_bound=1)
    flags.DEFINE_integer("matmul_repeats", 5, "Timed matrix products (the fastest counts).",
                         lower_bound=1)
    flags.DEFINE_string("json_out", None, "Write the result as JSON here.")


def run():
    """Entry point: `python -m brats_rev.bench.inference`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
