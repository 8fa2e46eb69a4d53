"""Learning-rate schedule values at known steps; optimizer choice per TrainConfig."""

import math

import keras
import numpy as np
import pytest

from brats_rev.config import TrainConfig
from brats_rev.training import optimization


@pytest.mark.parametrize("decay,step,expected", [
    ("poly", 0, 0.0),
    ("poly", 5, 0.5),
    ("poly", 10, 1.0),
    ("poly", 60, 0.5 ** 0.9),
    ("poly", 110, 0.0),
    ("poly", 200, 0.0),
    ("cosine", 5, 0.5),
    ("cosine", 35, (1 + math.cos(math.pi / 4)) / 2),
    ("cosine", 60, 0.5),
    ("cosine", 110, 0.0),
])
def test_warmup_decay_values(decay, step, expected):
    schedule = optimization.WarmupDecay(2.0, warmup_steps=10, total_steps=110, decay=decay)
    np.testing.assert_allclose(float(schedule(step)), 2.0 * expected, rtol=1e-6, atol=1e-7)


def test_no_warmup_starts_at_the_peak_and_config_round_trips():
    schedule = optimization.WarmupDecay(0.1, warmup_steps=0, total_steps=4, power=1.0)
    np.testing.assert_allclose([float(schedule(s)) for s in range(5)],
                               [0.1, 0.075, 0.05, 0.025, 0.0], rtol=1e-6, atol=1e-8)
    rebuilt = optimization.WarmupDecay.from_config(schedule.get_config())
    assert float(rebuilt(2)) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="warmup_steps=5, total_steps=5"):
        optimization.WarmupDecay(0.1, warmup_steps=5, total_steps=5)
    with pytest.raises(ValueError, match="decay='step'"):
        optimization.WarmupDecay(0.1, 0, 5, decay="step")


def test_optimizers_follow_the_config():
    adamw = optimization.create_optimizer(TrainConfig(weight_decay=0.01))
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.01
    assert adamw.clipnorm is None and adamw.global_clipnorm is None  # the step clips
    sgd = optimization.create_optimizer(TrainConfig(optimizer="sgd_nesterov", momentum=0.9))
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    scaled = optimization.create_optimizer(TrainConfig(precision="mixed_float16"))
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    assert isinstance(scaled.inner_optimizer, keras.optimizers.AdamW)
    bf16 = optimization.create_optimizer(TrainConfig(precision="mixed_bfloat16"))
    assert not isinstance(bf16, keras.optimizers.LossScaleOptimizer)
    config = TrainConfig(learning_rate=0.5, warmup_steps=4, epochs=1, steps_per_epoch=8)
    optimizer = optimization.create_optimizer(config)
    assert optimization.current_learning_rate(optimizer) == 0.0  # step 0 of the warm-up
