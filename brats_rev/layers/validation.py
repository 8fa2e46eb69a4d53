"""Eager argument checks shared by the layers; errors say what was received and what is allowed."""


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
