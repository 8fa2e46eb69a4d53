"""Largest candidate that satisfies a monotone predicate, probing as few as possible."""


def largest_fitting(candidates, fits, gallop=False):
    """The largest of sorted `candidates` for which `fits` is true, assuming monotonicity
    (if a candidate fits, every smaller one does).

    Probes ascend from the smallest candidate, so nothing far beyond the first failure is
    ever tried (a point much larger than the budget can exhaust the machine). With `gallop`
    the step doubles after each success (for costs that grow slowly with the candidate),
    then the gap to the first failure is bisected.

    Args:
        candidates: ascending sequence.
        fits: callable(candidate) -> bool; called at most once per candidate.
        gallop: double the step after each success.

    Returns:
        The largest fitting candidate, or None if the smallest does not fit.
    """
    best, failed, index, step = None, len(candidates), 0, 1
    while index < len(candidates):
        if not fits(candidates[index]):
            failed = index
            break
        best = index
        index += step
        if gallop:
            step *= 2
    if best is None:
        return None
    while failed - best > 1:
        middle = (best + failed) // 2
        if fits(candidates[middle]):
            best = middle
        else:
            failed = middle
    return candidates[best]
