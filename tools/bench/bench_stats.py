"""Statistics the peer scripts share, defined as @rg/bench-kit defines rg's side, so a ratio compares like with like."""


def percentile(values, q):
    """The q-quantile (q in [0, 1]): linear interpolation between the closest ranks (numpy.percentile's default)."""
    s = sorted(values)
    at = q * (len(s) - 1)
    lo = int(at)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (at - lo) * (s[hi] - s[lo])
