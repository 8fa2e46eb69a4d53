"""The learning criterion of the short training tests refuses what has not learned."""

import pytest

from tests.training import helpers

BASELINES = {"background": [0.0, 0.0, 1 / 3], "threshold": [0.57, 0.48, 0.54]}
FALLING = [1.2, 1.1, 1.0, 0.8, 0.6, 0.5]


def test_a_model_that_learned_passes():
    helpers.assert_learned([0.70, 0.64, 0.49], BASELINES, FALLING)


@pytest.mark.parametrize("model, losses", [
    ([0.0, 0.0, 1 / 3], FALLING),             # predicts background
    ([0.60, 0.50, 0.55], FALLING),            # no better than the threshold
    ([0.70, 0.64, 0.20], FALLING),            # WT and TC, but a worse mean
    ([0.70, 0.64, 0.49], [1.0] * 6),          # the loss did not fall
    ([0.70, 0.64, 0.49], FALLING[:3]),        # too few logged losses
])
def test_a_model_that_did_not_learn_fails(model, losses):
    with pytest.raises(AssertionError):
        helpers.assert_learned(model, BASELINES, losses)
