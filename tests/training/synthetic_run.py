"""A small training run on synthetic data in this process, for the distributed tests.

    python -m tests.training.synthetic_run --model_dir=DIR [--strategy=...]

With TF_CONFIG set (multi_worker_mirrored) each worker is one process. The data is one fixed
global stream of examples; input pipeline i of n takes examples i, i + n, ..., so any number of
workers with the same global batch sees the same global batches as a single worker.
Prints the steps done, or the error and exits 1 on a non-finite loss.
"""

import numpy as np
import tensorflow as tf
from absl import flags

from brats_rev import program
from brats_rev.training import run_config, strategy_names, train_lib
from brats_rev.training import strategy as strategy_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Run directory.", required=True)
flags.DEFINE_enum("strategy", "default", strategy_names.STRATEGIES, "Strategy.")
flags.DEFINE_integer("cpu_replicas", 1, "Logical CPU replicas for mirrored.")
flags.DEFINE_integer("nan_at", -1, "Global example index from which images are NaN.")
flags.DEFINE_multi_string("override", [], "section.field=value.")

PATCH = 16
OVERRIDES = ["data.patch_size=16", "data.batch_size=2", "train.fold=null",
             "train.epochs=2", "train.steps_per_epoch=3", "train.warmup_steps=1",
             "train.clipnorm=0.05", "train.log_every=1", "model.filters=[8,16]",
             "model.norm_groups=2"]


def example(index, nan_at):
    """(image (16, 16, 16, 4), region targets (16, 16, 16, 3)) of global example `index`."""
    seeds = tf.random.experimental.stateless_split(tf.stack([index, index * 7 + 1]), 2)
    image = tf.random.stateless_normal((PATCH, PATCH, PATCH, 4), seeds[0])
    targets = tf.cast(tf.random.stateless_uniform((PATCH, PATCH, PATCH, 3), seeds[1]) <
                      tf.sigmoid(image[..., :3]), tf.float32)
    image = tf.where(index >= nan_at if nan_at >= 0 else False, np.nan, image)
    return image, targets


def synthetic_dataset_fn(global_batch, nan_at=-1):
    def dataset_fn(input_context):
        batch = input_context.get_per_replica_batch_size(global_batch)
        return (tf.data.Dataset.range(input_context.input_pipeline_id, 10 ** 6,
                                      input_context.num_input_pipelines)
                .map(lambda i: example(i, nan_at)).batch(batch))
    return dataset_fn


def main(argv):
    del argv
    run = run_config.resolve("tiny", overrides=OVERRIDES + list(FLAGS.override))
    if FLAGS.cpu_replicas > 1:
        strategy_lib.split_cpu(FLAGS.cpu_replicas)
    strategy = strategy_lib.create_strategy(FLAGS.strategy, cpu_replicas=FLAGS.cpu_replicas)
    try:
        result = train_lib.train(run, FLAGS.model_dir, strategy,
                                 synthetic_dataset_fn(run.data.batch_size, FLAGS.nan_at))
    except train_lib.NonFiniteLossError as error:
        print(f"error: {error}")
        return 1
    print(f"steps {result.step}")
    return 0


if __name__ == "__main__":
    program.run_main(main)
