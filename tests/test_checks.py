"""The argument checks: each returns what it accepts and names what it refuses."""

import pytest

from brats_rev import checks


@pytest.mark.parametrize("check, args, expected", [
    (checks.check_choice, ("m", "a", ("a", "b")), "a"),
    (checks.check_positive_int, ("n", 3), 3),
    (checks.check_int_at_least, ("n", 0, 0), 0),
    (checks.check_number_at_least, ("x", 1.5, 1), 1.5),
    (checks.check_fraction, ("f", 0.0), 0.0),
    (checks.check_probability, ("p", 1), 1),
    (checks.check_bool, ("b", False), False),
    (checks.check_per_level, ("blocks", 2, 3), (2, 2, 2)),
    (checks.check_per_level, ("blocks", [1, 2], 2), (1, 2)),
    (checks.check_range, ("r", (0, 2), 0), (0.0, 2.0)),
])
def test_accepted_values_come_back(check, args, expected):
    assert check(*args) == expected


@pytest.mark.parametrize("check, args, message", [
    (checks.check_choice, ("m", "c", ("a", "b")), "`m` must be one of ['a', 'b']. Received: m='c'"),
    (checks.check_positive_int, ("n", True), "Received: n=True"),
    (checks.check_int_at_least, ("n", 2.0, 0), "`n` must be an int >= 0. Received: n=2.0"),
    (checks.check_number_at_least, ("x", 0.5, 1), "`x` must be a number >= 1. Received: x=0.5"),
    (checks.check_fraction, ("f", 1.0), "Received: f=1.0"),
    (checks.check_probability, ("p", 1.5), "`p` must be in [0, 1]. Received: p=1.5"),
    (checks.check_bool, ("b", 1), "Received: b=1"),
    (checks.check_per_level, ("blocks", (1, 0), 2), "2 positive ints (one per level)"),
    (checks.check_per_level, ("blocks", (1,), 2), "Received: blocks=(1,)"),
    (checks.check_range, ("r", (2, 1), 0), "0 <= low <= high. Received: r=(2, 1)"),
])
def test_refused_values_are_named(check, args, message):
    with pytest.raises(ValueError) as error:
        check(*args)
    assert message in str(error.value)
