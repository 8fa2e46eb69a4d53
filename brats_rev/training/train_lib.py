"""The training loop: the same code under every tf.distribute strategy.

    train(run, model_dir, strategy)

builds the model and optimizer in the strategy's scope, restores the newest checkpoint of
`model_dir` if there is one, and trains epoch by epoch: a distributed step per global batch
(`step.make_distributed_step`), TensorBoard scalars every `log_every` steps, whole-case
validation every `val_every` epochs with the best checkpoint kept in `best/`, a checkpoint at
the end of each epoch (after its validation: it holds the best validation Dice so far), and
finally `model.keras` (the best weights, or the last ones if the run never validated).

Exact resume. The input pipeline is deterministic given its seed (patches and augmentation
are keyed by element index), so a restarted run rebuilds it and skips the batches the
restored step already consumed: it sees the same batches as an uninterrupted run under every
strategy, multi-worker included. (tf.data iterator checkpointing is not used: iterators of
`distribute_datasets_from_function` are not trackable in TF 2.21, and a plain iterator's
checkpoint would hold the whole in-memory case cache.) Skipping costs the input pipeline's
time for those batches, at most the time it needed to produce them the first time.
"""

import dataclasses
import math
import os
import time

import keras
import tensorflow as tf
from absl import logging

from brats_rev import losses, run_folder, tasks
from brats_rev.data import manifest
from brats_rev.data.dataset import build_dataset, dataset_task
from brats_rev.models.factory import build_model
from brats_rev.training import (
    case_validation,
    checkpointing,
    optimization,
    run_config,
    step,
    summaries,
)
from brats_rev.training import strategy as strategy_lib


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; the state was not saved."""


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a call to `train` did.

    Attributes:
        step: global steps completed (over the whole run, resumed ones included).
        best_mean_dice: the best validation mean Dice so far, or None.
        loop_seconds: wall time of this call's steps after the first one (which traces),
            everything included but validation: logging, progress bar, checkpoints.
        loop_steps: steps timed in `loop_seconds`.
        step_seconds: the part of `loop_seconds` spent inside the distributed step calls
            (until their results are on the host).
    """

    step: int
    best_mean_dice: float | None
    loop_seconds: float
    loop_steps: int
    step_seconds: float


def training_dataset_fn(run):
    """input_context -> the run's training dataset (per-replica batches)."""
    def dataset_fn(input_context):
        return build_dataset(run.data, "train", run.train.fold, run.train.seed,
                             run.train.deterministic, input_context)
    return dataset_fn


def _skipping(dataset_fn, steps_done):
    """`dataset_fn` whose datasets skip the batches of `steps_done` steps."""
    def skipped(input_context):
        per_pipeline = input_context.num_replicas_in_sync // input_context.num_input_pipelines
        return dataset_fn(input_context).skip(steps_done * per_pipeline)
    return skipped


def _output_weights(run):
    outputs = run.model.levels - 1 if run.model.deep_supervision else 1
    weights = run.train.deep_supervision_weights if run.model.deep_supervision else None
    return losses.output_weights(outputs, weights)


class _Interval:
    """Accumulates per-step values between two scalar writes."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.losses, self.norms, self.peak, self.start = [], [], 0, time.perf_counter()

    def add(self, loss, norm, peak):
        self.losses.append(loss)
        self.norms.append(norm)
        self.peak = max(self.peak, peak)

    def scalars(self, global_batch, learning_rate, with_memory):
        seconds = time.perf_counter() - self.start
        values = {"loss": sum(self.losses) / len(self.losses),
                  "gradient_norm": sum(self.norms) / len(self.norms),
                  "learning_rate": learning_rate,
                  "patches_per_second": global_batch * len(self.losses) / seconds}
        if with_memory:
            values["peak_memory_bytes"] = float(self.peak)
        return values


@dataclasses.dataclass
class _Session:
    """What the epoch loop works on."""

    run: run_folder.RunConfig
    strategy: tf.distribute.Strategy
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    state: dict
    store: checkpointing.CheckpointStore
    summaries: summaries.Summaries
    chief: bool
    train_step: object


def _validate_and_keep_best(session, predict, validation_data, epoch):
    """Validates, writes summaries, saves `best/` on a new best."""
    result = case_validation.validate(predict, validation_data,
                                      tasks.task_named(session.run.data.task).region_names)
    current = int(session.state["step"].numpy())
    region_dice = result.region_dice
    session.summaries.scalars("validation", current, {
        "mean_dice": result.mean_dice, **{f"dice_{r}": d for r, d in region_dice.items()}})
    session.summaries.image("validation", current, "axial_overlay_wt", result.overlay)
    logging.info("epoch %d step %d: validation Dice %s, mean %.4f", epoch + 1, current,
                 {r: round(d, 4) for r, d in region_dice.items()}, result.mean_dice)
    best = session.state["best_mean_dice"]
    if result.mean_dice > float(best.numpy()):
        best.assign(result.mean_dice)
        session.store.save_best(current, {"step": current, "epoch": epoch + 1,
                                          "mean_dice": result.mean_dice, "dice": region_dice})


@dataclasses.dataclass
class _Timing:
    """Wall time of the steps after the first one of this call, validation excluded."""

    loop_start: float | None = None
    loop_steps: int = 0
    step_seconds: float = 0.0
    validation_seconds: float = 0.0

    def loop_seconds(self):
        if self.loop_start is None:
            return 0.0
        return time.perf_counter() - self.loop_start - self.validation_seconds


def _run_epoch(session, iterator, epoch, current, memory, timing):
    """Runs the steps of `epoch` after global step `current`; returns the new global step.

    Raises NonFiniteLossError (before anything is saved) on a non-finite loss, or on a
    non-finite gradient norm without loss scaling (the weights would be NaN).
    """
    config = session.run.train
    loss_scaled = isinstance(session.optimizer, keras.optimizers.LossScaleOptimizer)
    interval = _Interval()
    progress = keras.utils.Progbar(config.steps_per_epoch, verbose=int(session.chief),
                                   stateful_metrics=["learning_rate"])
    if session.chief:
        print(f"Epoch {epoch + 1}/{config.epochs}", flush=True)
    for index in range(current % config.steps_per_epoch, config.steps_per_epoch):
        started = time.perf_counter()
        loss, norm = (float(value) for value in session.train_step(iterator))
        if timing.loop_start is None:
            timing.loop_start = time.perf_counter()
        else:
            timing.step_seconds += time.perf_counter() - started
            timing.loop_steps += 1
        if not math.isfinite(loss) or not (loss_scaled or math.isfinite(norm)):
            raise NonFiniteLossError(
                f"Non-finite loss ({loss}, gradient norm {norm}) at step {current + 1}; "
                "stopped without saving. The last good checkpoint is "
                f"{session.store.latest.latest_checkpoint}.")
        current += 1
        interval.add(loss, norm, summaries.read_peak_bytes(memory) if memory else 0)
        values = [("loss", loss)]
        if current % config.log_every == 0:
            learning_rate = optimization.current_learning_rate(session.optimizer)
            session.summaries.scalars("train", current, interval.scalars(
                session.run.data.batch_size, learning_rate, memory is not None))
            interval.reset()
            values.append(("learning_rate", learning_rate))
        progress.update(index + 1, values)
    return current


def _train_epochs(session, dataset_fn):
    """Runs the remaining epochs; returns TrainResult."""
    config = session.run.train
    state = session.state
    current = int(state["step"].numpy())
    iterator = iter(session.strategy.distribute_datasets_from_function(
        _skipping(dataset_fn, current)))
    validating = config.fold is not None
    if validating:
        predict = case_validation.make_predictor(session.model, session.run.data.patch_size,
                                            config.val_overlap, config.val_batch_size)
        validation_data = build_dataset(session.run.data, "validation", config.fold,
                                        config.seed, config.deterministic)
    memory = summaries.memory_device()
    if memory is None:
        logging.info("Peak memory is not logged: set %s=true before TensorFlow starts (CPU) "
                     "or run on a GPU.", summaries.BFC_VARIABLE)
    timing = _Timing()
    for epoch in range(current // config.steps_per_epoch, config.epochs):
        current = _run_epoch(session, iterator, epoch, current, memory, timing)
        state["step"].assign(current)
        state["epoch"].assign(epoch + 1)
        if validating and ((epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs):
            started = time.perf_counter()
            _validate_and_keep_best(session, predict, validation_data, epoch)
            timing.validation_seconds += time.perf_counter() - started
        # After the validation: the checkpoint holds the best Dice including this epoch's, so
        # a run resumed from it compares later epochs with that (and does not skip a
        # validation that a kill interrupted: it redoes the epoch). The epoch's summaries are
        # on disk before its checkpoint, which a resumed run would not log again.
        session.summaries.flush()
        session.store.save(current)
    best = float(state["best_mean_dice"].numpy())
    return TrainResult(current, best if best >= 0 else None, timing.loop_seconds(),
                       timing.loop_steps, timing.step_seconds)


def build_training(run, strategy):
    """(model, optimizer, distributed step) of `run`, created in `strategy`'s scope.

    The step is `step.make_distributed_step`: iterator -> (global mean loss, gradient norm).
    """
    with strategy.scope():
        model = build_model(run.model)
        optimizer = optimization.create_optimizer(run.train)
        optimizer.build(model.trainable_variables)
    replica_step = step.make_replica_step(model, optimizer, run.data.batch_size,
                                          run.train.clipnorm, _output_weights(run))
    return model, optimizer, step.make_distributed_step(strategy, replica_step,
                                                        run.train.jit_compile)


def train(run, model_dir, strategy, dataset_fn=None):
    """Trains (or resumes) the run described by `run` in `model_dir` under `strategy`.

    Process-wide effects: seeds Python, NumPy and TensorFlow with `train.seed`, sets
    tf.random's global generator, and with `train.deterministic` enables TensorFlow op
    determinism.

    Args:
        run: a resolved `run_folder.RunConfig`; when its data_dir holds a dataset, its task and
            heads are set to the dataset's (`run_config.with_task`).
        model_dir: the run directory (`brats_rev.run_folder`).
        strategy: a tf.distribute.Strategy (`strategy.create_strategy`).
        dataset_fn: input_context -> tf.data.Dataset of (images, region targets) with
            per-replica batches, the same stream on every call; None: the run's training data
            (`training_dataset_fn`).

    Returns:
        TrainResult.

    Raises:
        NonFiniteLossError: the loss became NaN or Inf; the newest checkpoint is the last good
            state and nothing after it was saved.
        ValueError: `model_dir` holds a run with another configuration, or data.task names
            another task than the dataset's.
    """
    if os.path.isfile(os.path.join(run.data.data_dir or "", manifest.MANIFEST_NAME)):
        run = run_config.with_task(run, dataset_task(run.data).name)
    chief = strategy_lib.is_chief(strategy)
    fresh, new_folder = not run_folder.has_checkpoint(model_dir), not os.path.exists(model_dir)
    run_config.prepare_model_dir(run, model_dir, write_files=chief)
    try:
        return _train_in(run, model_dir, strategy, chief, dataset_fn)
    except BaseException:
        # A run that fails before its first checkpoint leaves nothing behind: its
        # config.json would otherwise bind the next attempt to the settings that failed.
        if chief and fresh and not run_folder.has_checkpoint(model_dir):
            run_folder.remove_unstarted(model_dir, remove_folder=new_folder)
        raise


def _train_in(run, model_dir, strategy, chief, dataset_fn):
    """`train` after the run folder is prepared."""
    train_config = run.train
    keras.utils.set_random_seed(train_config.seed)
    if train_config.deterministic:
        tf.config.experimental.enable_op_determinism()
    model, optimizer, train_step = build_training(run, strategy)
    state = {"step": tf.Variable(0, dtype=tf.int64, trainable=False),
             "epoch": tf.Variable(0, dtype=tf.int64, trainable=False),
             "best_mean_dice": tf.Variable(-1.0, dtype=tf.float64, trainable=False)}
    # tf.random's global generator, seeded per run and checkpointed, so any stateful random
    # draw (none in our model; patches and augmentation are stateless) resumes exactly.
    rng = tf.random.Generator.from_seed(train_config.seed)
    tf.random.set_global_generator(rng)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, rng=rng, **state)
    store = checkpointing.CheckpointStore(checkpoint, model_dir, train_config.keep_checkpoints,
                                          chief)
    try:
        restored = store.restore()
        if restored:
            logging.info("Resumed from %s (step %d).", restored, int(state["step"].numpy()))
        writers = summaries.Summaries(os.path.join(model_dir, run_folder.LOGS_DIR), chief)
        session = _Session(run, strategy, model, optimizer, state, store, writers, chief,
                           train_step)
        result = _train_epochs(session, dataset_fn or training_dataset_fn(run))
        best = store.restore_best()
        if chief:
            model_path = checkpointing.export_keras_model(
                model, os.path.join(model_dir, run_folder.MODEL_FILE))
            logging.info("Saved the %s weights as %s.", "best" if best else "last", model_path)
        return result
    finally:
        store.close()
