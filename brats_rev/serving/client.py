"""Segments BraTS cases with a model served by TF Serving: one `<case_id>.nii.gz` per case.

    python -m brats_rev.serving.client --server=localhost:8500 --model_name=brats \
        --input=/data/BraTS2021 --output_dir=/data/predictions [--protocol=grpc|rest] \
        [--tls_ca=ca.pem] [--model_version=N] [--task=gli2023] [--label_convention=brats2021] \
        [--tta=none|flips8] [--save_probabilities] [--overwrite] [--timeout_s=600]

Each case's four images are read and checked here, sent whole to the `segment` signature
(brats_rev/serving/saved_model.py) with the label convention (default: the case's release's if
the served model's task (--task, as its export.json names it) has it, else the task's own),
TTA mode and whether probabilities are wanted; the answer is checked (uint8 labels on the
case's grid, values of the convention, probabilities (X, Y, Z, R) for the task's R regions)
before anything is written. A --label_convention the task does not have is a usage error. Outputs,
skipping, `--overwrite` and `prediction_report.json` are those of `python -m brats_rev.predict`
(brats_rev.inference.batch). A failed case does not stop the others; the exit status is 1 if
any failed. If the server is unavailable before it has answered once, or does not answer a
case within --timeout_s, the remaining cases are not sent (each is reported failed with that
reason, at once). See docs/SERVING.md.

Library use:

    options = transport.ServerOptions("localhost:8500", "brats")
    segmenter = RemoteSegmenter(transport.connect(options))
    labels, probabilities = segmenter.segment(image, "brats2021")   # image (X, Y, Z, 4)
"""


import numpy as np
from absl import app, flags

from brats_rev import labels as label_conventions
from brats_rev import program, tasks
from brats_rev.config import InferenceConfig
from brats_rev.inference import batch
from brats_rev.inference import flags as inference_flags
from brats_rev.inference.case_io import Prediction, load_images
from brats_rev.serving import transport

SIGNATURE_NAME = "segment"


def check_response(outputs, spatial_shape, convention, with_probabilities, num_regions):
    """Checks a `segment` answer for an image of `spatial_shape` (X, Y, Z).

    Args:
      outputs: {"labels": uint8 array[, "probabilities": float32 array]} as the transport
        returned them (dtypes already checked).
      spatial_shape: (X, Y, Z) of the image sent.
      convention: the label convention requested.
      with_probabilities: whether probabilities were requested.
      num_regions: the regions of the served model's task.
    Raises:
      transport.ServingError (kind MALFORMED): a shape differs or a label value is not part
        of `convention`.
    """
    expected = {"labels": tuple(spatial_shape)}
    if with_probabilities:
        expected["probabilities"] = tuple(spatial_shape) + (num_regions,)
    for name, shape in expected.items():
        if outputs[name].shape != shape:
            raise transport.ServingError(
                transport.MALFORMED, f"malformed response: {name} have shape "
                f"{outputs[name].shape}; expected {shape} for an image of shape {spatial_shape}")
    try:
        label_conventions.check_labels(outputs["labels"], convention)
    except ValueError as error:
        raise transport.ServingError(transport.MALFORMED,
                                     f"malformed response: labels: {error}") from None


class RemoteSegmenter:
    """Segments whole cases with the `segment` signature of a served model.

    Args:
      server: a transport (brats_rev.serving.transport.connect(...)).
      config: brats_rev.config.InferenceConfig (None: the defaults); only its per-request
        choices are sent (`label_convention`, None for each case's own, and `tta`): the
        sliding window, thresholds and post-processing were fixed at export.
      return_probabilities: also fetch the region probabilities.
      task: the brats_rev.tasks.Task of the served model (its export.json's "task").
    Raises:
      ValueError: the config's label convention is not one of the task's.

    Attributes:
      stopped: None, or the ServingError ("after <case id>: <error>") that made
        `predict_case` stop sending: the server was unavailable before it had answered once,
        or did not answer a case within the timeout (a hung or overloaded server would cost
        the full timeout for every further case).
    """

    def __init__(self, server, config=None, return_probabilities=False,
                 task=label_conventions.GLI):
        self.server = server
        self.config = config or InferenceConfig()
        if self.config.label_convention is not None:
            task.check_convention(self.config.label_convention)
        self.task = task
        self.return_probabilities = return_probabilities
        self._answered = False
        self.stopped = None

    def segment(self, image, convention):
        """Segments one raw image on the server.

        Args:
          image: (X, Y, Z, 4) raw intensities, modalities in layouts.MODALITIES order (any
            real dtype; sent as float32).
          convention: label convention of the case (the output's when the segmenter names
            none and the task has it).
        Returns:
          (labels, probabilities): uint8 (X, Y, Z) in the convention; float32 (X, Y, Z, R)
          region probabilities (0 outside the brain box), or None unless requested.
        Raises:
          transport.ServingError: the request failed or the answer is malformed.
        """
        convention = self.config.output_convention(convention, self.task)
        image = np.asarray(image, np.float32)
        wanted = {"labels": np.uint8}
        if self.return_probabilities:
            wanted["probabilities"] = np.float32
        inputs = {"image": image, "label_convention": convention, "tta": self.config.tta,
                  "return_probabilities": self.return_probabilities}
        outputs = self.server.predict(SIGNATURE_NAME, inputs, wanted)
        self._answered = True
        check_response(outputs, image.shape[:3], convention, self.return_probabilities,
                       len(self.task.regions))
        return outputs["labels"], outputs.get("probabilities")

    def predict_case(self, case):
        """Segments one case (brats_rev.data.cases.Case or validation.LoadedCase), as
        brats_rev.inference.batch.predict_cases expects.

        Returns:
          (Prediction, LoadedCase); the Prediction's probabilities cover the whole grid (its
          box is the whole grid), or are None unless requested.
        Raises:
          CaseError: a file cannot be read or fails the checks.
          transport.ServingError: the request failed, the answer is malformed, or an earlier
            case `stopped` the run (then nothing is read or sent).
        """
        if self.stopped is not None:
            raise transport.ServingError(self.stopped.kind, f"not sent: {self.stopped}")
        loaded = load_images(case)
        convention = self.config.output_convention(loaded.case.convention, self.task)
        try:
            labels, probabilities = self.segment(loaded.image, convention)
        except transport.ServingError as error:
            if error.kind == transport.DEADLINE_EXCEEDED or (
                    error.kind == transport.UNAVAILABLE and not self._answered):
                self.stopped = transport.ServingError(error.kind, f"after {case.case_id}: {error}")
            raise
        box = np.array([[0, size] for size in labels.shape], np.int64)
        return Prediction(labels, convention, probabilities, box), loaded


def main(argv):
    """Entry point: segments every case found under --input on the server; returns the exit
    status (absl's app.run exits with it)."""
    del argv
    options = flags.FLAGS
    output_options = inference_flags.output_options(options)
    found = inference_flags.input_cases(options)
    server_options = transport.ServerOptions(
        options.server, options.model_name, options.model_version, options.protocol,
        options.tls_ca, options.timeout_s, options.max_message_mb << 20)
    try:
        server = transport.connect(server_options)
    except ValueError as error:  # an unreadable --tls_ca
        raise app.UsageError(str(error)) from None
    config = InferenceConfig(tta=options.tta, label_convention=options.label_convention)
    try:
        segmenter = RemoteSegmenter(server, config, options.save_probabilities,
                                    tasks.task_named(options.task))
    except ValueError as error:  # a --label_convention the task does not have
        server.close()
        raise app.UsageError(str(error)) from None
    try:
        report, problems = batch.predict_folder(segmenter, found, options.output_dir,
                                                output_options)
    finally:
        server.close()
    if segmenter.stopped is not None:
        print(f"stopped {segmenter.stopped}; the other cases were not sent")
    header = {"server": options.server, "protocol": options.protocol,
              "model": server_options.model_description(), "input": options.input,
              "task": options.task, "label_convention": options.label_convention,
              "tta": options.tta}
    return batch.write_report(options.output_dir, header, report, problems)


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("server", None, "host:port of TF Serving's gRPC (8500) or REST (8501) "
                        "port.", required=True)
    flags.DEFINE_string("model_name", None, "Name of the served model.", required=True)
    flags.DEFINE_enum("protocol", "grpc", list(transport.PROTOCOLS),
                      "gRPC (whole volumes, uint8 labels) or REST (JSON; small volumes).")
    flags.DEFINE_string("tls_ca", None, "PEM CA bundle of the server's certificate: TLS (gRPC) "
                        "or https (REST). Without it the connection is insecure.")
    flags.DEFINE_integer("model_version", None, "Model version (default: the latest).",
                         lower_bound=1)
    flags.DEFINE_enum("task", tasks.DEFAULT_TASK, sorted(tasks.TASKS),
                      "Task of the served model (its export.json's \"task\").")
    inference_flags.define_case_flags()
    flags.DEFINE_float("timeout_s", transport.DEFAULT_TIMEOUT_S, "Seconds one case may take.",
                       lower_bound=0.001)
    flags.DEFINE_integer("max_message_mb", transport.DEFAULT_MAX_MESSAGE_BYTES >> 20,
                         "Largest gRPC message sent or received, MiB (a 240x240x155 case is "
                         "143 MB as float32).", lower_bound=1, upper_bound=2047)


def run():
    """Runs the program: `python -m brats_rev.serving.client` and the `brats-rev-client` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
