"""Learning-rate schedule (linear warm-up, then polynomial or cosine decay) and optimizers."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="brats_rev")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `learning_rate` over `warmup_steps`, then decay to 0 at
    `total_steps`:

        step < warmup:   learning_rate * step / warmup_steps
        poly:            learning_rate * (1 - t) ** power
        cosine:          learning_rate * (1 + cos(pi * t)) / 2
        with t = (step - warmup_steps) / (total_steps - warmup_steps), clipped to [0, 1].

    Args:
        learning_rate: peak learning rate.
        warmup_steps: warm-up length in steps (0: start at the peak).
        total_steps: step at which the rate reaches 0; > warmup_steps.
        decay: "poly" or "cosine".
        power: polynomial exponent (nnU-Net: 0.9).
    """

    def __init__(self, learning_rate, warmup_steps, total_steps, decay="poly", power=0.9):
        if decay not in ("poly", "cosine"):
            raise ValueError(f"`decay` must be 'poly' or 'cosine'. Received: decay={decay!r}")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError("Need 0 <= warmup_steps < total_steps. Received: "
                             f"warmup_steps={warmup_steps!r}, total_steps={total_steps!r}")
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.decay = decay
        self.power = power

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        progress = ops.clip((step - self.warmup_steps) / (self.total_steps - self.warmup_steps),
                            0.0, 1.0)
        if self.decay == "poly":
            decayed = (1.0 - progress) ** self.power
        else:
            decayed = 0.5 * (1.0 + ops.cos(math.pi * progress))
        factor = ops.where(step < self.warmup_steps, step / warmup, decayed)
        return self.learning_rate * factor

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps, "decay": self.decay, "power": self.power}


def create_optimizer(train_config):
    """The Keras optimizer of a TrainConfig, wrapped in a LossScaleOptimizer under
    mixed_float16. Create it inside the strategy's scope.

    Gradient clipping is not set here: the training step clips the global gradient after
    summing it over replicas (Keras optimizers would clip each replica's share).
    """
    schedule = WarmupDecay(train_config.learning_rate, train_config.warmup_steps,
                           train_config.total_steps, train_config.schedule,
                           train_config.poly_power)
    if train_config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=train_config.weight_decay)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=train_config.momentum,
                                         nesterov=True, weight_decay=train_config.weight_decay)
    if train_config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def current_learning_rate(optimizer):
    """The learning rate the next update uses (float)."""
    return float(ops.convert_to_numpy(optimizer.learning_rate))
