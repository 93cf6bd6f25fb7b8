"""Median and percentile of float arrays, as numpy's ``np.median`` / ``np.percentile``
(default ``linear`` method) compute them, without importing ``numpy.ma`` (which those
two functions load on first use: ~2 MiB and ~10 ms of every command's start-up).

Both work on a partition (order statistics are exact), and combine the two neighbours
with numpy's own arithmetic: the mean of the middle two, ``(a + b) / 2``; the linear
interpolation ``a + (b - a) * t`` (``b - (b - a) * (1 - t)`` for ``t >= 0.5``). A nan
anywhere gives nan, as numpy does (without its warning). ``tests/test_core_quantiles.py``
holds them equal to numpy's, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np


def median(x: np.ndarray) -> float:
    """``float(np.median(x))`` of a 1-d float array (nan if empty or any nan)."""
    a = np.asarray(x, dtype=float).ravel()
    n = len(a)
    if n == 0 or np.isnan(a).any():
        return math.nan
    h = n // 2
    if n % 2:
        return float(np.partition(a, h)[h])
    p = np.partition(a, (h - 1, h))
    return float((p[h - 1] + p[h]) / 2)


def percentile(x: np.ndarray, q: float) -> float:
    """``float(np.percentile(x, q))`` of a 1-d float array, ``0 <= q <= 100``."""
    a = np.asarray(x, dtype=float).ravel()
    n = len(a)
    if n == 0 or np.isnan(a).any():
        return math.nan
    idx = float((n - 1) * (np.float64(q) / 100.0))  # numpy's virtual index ('linear')
    idx = min(max(idx, 0.0), n - 1.0)
    lo = int(math.floor(idx))
    hi = min(lo + 1, n - 1)
    p = np.partition(a, (lo, hi)) if hi != lo else np.partition(a, lo)
    a_lo, a_hi = np.float64(p[lo]), np.float64(p[hi])
    t = np.float64(idx - lo)
    d = a_hi - a_lo
    return float(a_hi - d * (1.0 - t) if t >= 0.5 else a_lo + d * t)
