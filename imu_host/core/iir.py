"""Causal IIR filtering in numpy, without scipy (which costs ~0.7 s to import).

``butter2_lowpass`` gives the same coefficients as ``scipy.signal.butter(2, wn)``; an
:class:`IIRFilter` gives the same output as ``scipy.signal.lfilter`` (to ~1e-13 of the
input's scale; ``tests/test_core_iir.py`` checks both against scipy) and keeps its state
between calls.

How the recursion is vectorised: a filter of order 1 or 2 is split into partial fractions,
``y[n] = k x[n] + f Re(v[n])`` with the one-pole recursion ``v[n] = p v[n-1] + R x[n]``
(``p`` complex for the 2nd-order Butterworth, whose poles are always a conjugate pair, so
``f = 2``). Over a block of ``L`` samples starting after ``v_prev``,
``v[j] = p^j (p v_prev + sum_{i<=j} R p^-i x[i])``: one cumulative sum per block. ``L`` is
chosen so that ``|p|^-L`` stays below ``_MAX_GROWTH`` (bounded rounding growth).

Chunk invariance: blocks start at the first sample the filter sees (or after a
:meth:`IIRFilter.reset`), never at chunk boundaries, and a block interrupted by the end of
a chunk continues its cumulative sum from the carried partial sum; ``np.cumsum`` adds
sequentially, so any split of the stream gives bit-identical output.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

_MAX_GROWTH = 100.0  # largest |p|^-L inside one block (rounding grows by at most this)
_MAX_BLOCK = 512  # longest block, samples


def butter2_lowpass(wn: float) -> tuple[np.ndarray, np.ndarray]:
    """2nd-order digital Butterworth low-pass (bilinear transform, pre-warped).

    ``wn``: cutoff as a fraction of the Nyquist frequency, 0 < wn < 1. Returns ``(b, a)``
    as ``scipy.signal.butter(2, wn)`` does.
    """
    if not 0.0 < wn < 1.0:
        raise ValueError("cutoff must be between 0 and the Nyquist frequency")
    k = math.tan(math.pi * wn / 2.0)
    k2 = k * k
    r2 = math.sqrt(2.0)
    d = 1.0 + r2 * k + k2
    b = np.array([k2 / d, 2.0 * k2 / d, k2 / d])
    a = np.array([1.0, 2.0 * (k2 - 1.0) / d, (1.0 - r2 * k + k2) / d])
    return b, a


class IIRFilter:
    """``lfilter(b, a, x, axis=0)`` for order 1 or 2, streaming, state kept between calls.

    ``init``: ``"steady"`` starts at the steady state of the first input sample (as
    ``lfilter_zi(b, a) * x[0]``); ``"zero"`` starts from rest (zero state).
    """

    def __init__(
        self, b: np.ndarray | list[float], a: np.ndarray | list[float], init: str = "steady"
    ) -> None:
        b_ = np.asarray(b, dtype=float)
        a_ = np.asarray(a, dtype=float)
        b_, a_ = b_ / a_[0], a_ / a_[0]
        order = len(a_) - 1
        if order not in (1, 2) or len(b_) > len(a_):
            raise ValueError("IIRFilter supports orders 1 and 2 with len(b) <= len(a)")
        b_ = np.concatenate([b_, np.zeros(len(a_) - len(b_))])
        if init not in ("steady", "zero"):
            raise ValueError("init must be 'steady' or 'zero'")
        self.init = init
        if order == 1:
            p = complex(-a_[1])
            k = -b_[1] / p.real if b_[1] != 0.0 else 0.0
            r = complex(b_[0] - k)
            f = 1.0
        else:
            a1, a2 = float(a_[1]), float(a_[2])
            disc = cmath.sqrt(a1 * a1 - 4.0 * a2)
            p = (-a1 + disc) / 2.0
            q = (-a1 - disc) / 2.0
            if abs(p.imag) < 1e-15:
                raise ValueError("IIRFilter supports 2nd-order sections with complex poles only")
            k = float(b_[2]) / a2
            n0 = float(b_[0]) - k
            n1 = float(b_[1]) - k * a1
            r = (n0 + n1 / p) / (1.0 - q / p)
            f = 2.0
        self._p = p
        self._k = float(k)
        self._f = f
        self._r = r
        mag = abs(p)
        if mag <= 0.0 or mag >= 1.0:
            raise ValueError("IIRFilter needs a stable filter with nonzero poles")
        self._block = int(
            min(_MAX_BLOCK, max(1, math.floor(math.log(_MAX_GROWTH) / -math.log(mag))))
        )
        j = np.arange(self._block)
        self._pj = p**j  # p^j
        self._qj = r * p ** (-j)  # R p^-j
        self._pos = 0  # samples into the current block
        self._a: np.ndarray | None = None  # p * v_prev at the block start, per channel
        self._carry: np.ndarray | None = None  # partial cumulative sum of the block

    def reset(self, y_prev: np.ndarray | float) -> None:
        """Order 1 with ``b = [b0]`` only: continue as if the last output had been
        ``y_prev`` (``lfilter``'s ``zi = -a1 * y_prev``). A new block starts here."""
        v = np.atleast_1d(np.asarray(y_prev, dtype=complex)) / self._f
        self._a = self._p * v
        self._carry = np.zeros_like(self._a)
        self._pos = 0

    def restart(self) -> None:
        """Forget the state: the next call starts afresh (as at construction)."""
        self._a = None
        self._carry = None
        self._pos = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (shape (n,) or (n, channels)) along axis 0."""
        x = np.asarray(x, dtype=float)
        flat = x.ndim == 1
        x2 = x[:, None] if flat else x
        n = len(x2)
        if n == 0:
            return x.copy()
        if self._a is None:
            if self.init == "steady":
                v_prev = self._r * x2[0] / (1.0 - self._p)
            else:
                v_prev = np.zeros(x2.shape[1], dtype=complex)
            self._a = self._p * v_prev
            self._carry = np.zeros(x2.shape[1], dtype=complex)
        assert self._carry is not None
        L = self._block
        v = np.empty(x2.shape, dtype=complex)
        i = 0
        # 1) finish the block under way (or start one), possibly the whole chunk
        if self._pos or n < L:
            take = min(n, L - self._pos)
            self._segment(x2[:take], v[:take])
            i = take
        # 2) whole blocks at once: cumulative sums per block, then the block-start chain
        nb = (n - i) // L
        if nb:
            xs = x2[i : i + nb * L].reshape(nb, L, -1)
            qx = self._qj[None, :, None] * xs
            bsum = np.cumsum(qx, axis=1)
            starts = np.empty((nb, x2.shape[1]), dtype=complex)
            a = self._a
            pl = self._pj[L - 1]
            for blk in range(nb):
                starts[blk] = a
                a = self._p * (pl * (a + bsum[blk, L - 1]))
            self._a = a
            v[i : i + nb * L] = (self._pj[None, :, None] * (starts[:, None, :] + bsum)).reshape(
                nb * L, -1
            )
            i += nb * L
        # 3) the start of the next block
        if i < n:
            self._segment(x2[i:], v[i:])
        y = self._k * x2 + self._f * v.real
        return y[:, 0] if flat else y

    def _segment(self, x: np.ndarray, out: np.ndarray) -> None:
        """Samples inside one block (from ``_pos``), continuing its cumulative sum."""
        assert self._a is not None and self._carry is not None
        j0 = self._pos
        m = len(x)
        qx = self._qj[j0 : j0 + m, None] * x
        bsum = np.cumsum(np.vstack([self._carry[None, :], qx]), axis=0)[1:]
        out[:] = self._pj[j0 : j0 + m, None] * (self._a[None, :] + bsum)
        self._pos = j0 + m
        if self._pos == self._block:
            self._a = self._p * out[-1]
            self._carry = np.zeros_like(self._carry)
            self._pos = 0
        else:
            self._carry = bsum[-1].copy()
