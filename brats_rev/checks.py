"""Argument checks for the configuration dataclasses and the layers: one definition of each.

Each returns the value it checked (normalised where it says so) or raises ValueError naming the
argument, what is allowed and what was received (`Received: name=value`).
"""


def check_choice(name, value, allowed):
    """Returns `value` if it is one of `allowed`, else raises ValueError."""
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}. Received: {name}={value!r}")
    return value


def check_positive_int(name, value):
    """Returns `value` if it is an int >= 1 (bools rejected), else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def check_number_at_least(name, value, minimum):
    """Returns `value` if it is a real number >= `minimum`, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError(f"`{name}` must be a number >= {minimum}. Received: {name}={value!r}")
    return value


def check_fraction(name, value):
    """Returns `value` if it is a real number in [0, 1), else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return value


def check_bool(name, value):
    """Returns `value` if it is True or False (not merely truthy), else raises ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def check_int_at_least(name, value, minimum):
    """Returns `value` if it is an int >= `minimum` (bools rejected), else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return value


def check_probability(name, value):
    """Returns `value` if it is a real number in [0, 1], else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value!r}")
    return value


def check_per_level(name, value, count):
    """An int broadcast to `count` levels, or a sequence of `count` positive ints, as a tuple."""
    values = (value,) * count if isinstance(value, int) else tuple(value)
    if len(values) != count or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values
    ):
        raise ValueError(
            f"`{name}` must be a positive int or {count} positive ints (one per level). "
            f"Received: {name}={value!r}"
        )
    return values


def check_range(name, value, lowest):
    """A (low, high) pair with lowest <= low <= high, as a tuple of floats."""
    values = tuple(value)
    if len(values) != 2 or not lowest <= values[0] <= values[1]:
        raise ValueError(
            f"`{name}` must be (low, high) with {lowest} <= low <= high. Received: {name}={value!r}"
        )
    return tuple(float(v) for v in values)
