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

Chunk invariance: blocks start at the first sample the filter sees (or after
:meth:`IIRFilter.reset` / :meth:`IIRFilter.restart`), never at chunk boundaries; a block
interrupted by the end of a chunk continues its running sum from the carried partial sum.
Complex numbers are kept as (real, imaginary) pairs of float arrays and every product is
written out as real multiplies and adds, each rounded on its own, so the few-sample path
(plain Python floats, fast for live sample-by-sample feeding) and the vectorised path
(numpy) give bit-identical output for any split of the stream.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

_MAX_GROWTH = 100.0  # largest |p|^-L inside one block (rounding grows by at most this)
_MAX_BLOCK = 512  # longest block, samples
_SCALAR_MAX_N = 4  # inputs this short are filtered with Python floats (less overhead)


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
            k = -float(b_[1]) / p.real if b_[1] != 0.0 else 0.0
            r = complex(float(b_[0]) - k)
            f = 1.0
        else:
            a1, a2 = float(a_[1]), float(a_[2])
            disc = cmath.sqrt(a1 * a1 - 4.0 * a2)
            p = (-a1 + disc) / 2.0
            q = (-a1 - disc) / 2.0
            if abs(p.imag) < 1e-15:
                raise ValueError("IIRFilter supports 2nd-order sections with complex poles only")
            k = float(b_[2]) / a2
            r = ((float(b_[0]) - k) + (float(b_[1]) - k * a1) / p) / (1.0 - q / p)
            f = 2.0
        mag = abs(p)
        if mag <= 0.0 or mag >= 1.0:
            raise ValueError("IIRFilter needs a stable filter with nonzero poles")
        self._pr, self._pi = p.real, p.imag
        self._real = order == 1  # real pole and residue: imaginary parts stay exactly 0
        self._r = r
        self._k = float(k)
        self._f = f
        self._L = int(min(_MAX_BLOCK, max(1, math.floor(math.log(_MAX_GROWTH) / -math.log(mag)))))
        j = np.arange(self._L)
        pj = p**j
        qj = r * p ** (-j)
        self._pj_r, self._pj_i = pj.real.copy(), pj.imag.copy()
        self._qj_r, self._qj_i = qj.real.copy(), qj.imag.copy()
        self._lists = (
            self._pj_r.tolist(),
            self._pj_i.tolist(),
            self._qj_r.tolist(),
            self._qj_i.tolist(),
        )
        self._pos = 0  # samples into the current block
        # per channel: p * v_prev at the block start (ar, ai) and the block's running sum
        self._ar: np.ndarray | None = None
        self._ai = np.zeros(0)
        self._cr = np.zeros(0)
        self._ci = np.zeros(0)

    def restart(self) -> None:
        """Forget the state: the next call starts afresh (as at construction)."""
        self._ar = None
        self._pos = 0

    def reset(self, y_prev: np.ndarray | float) -> None:
        """Order 1 with ``b = [b0]`` only: continue as if the last output had been
        ``y_prev`` (``lfilter``'s ``zi = -a1 * y_prev``). A new block starts here."""
        v = np.atleast_1d(np.asarray(y_prev, dtype=float)) / self._f
        self._start(v, np.zeros_like(v))

    def _start(self, vr: np.ndarray, vi: np.ndarray) -> None:
        """Begin a block after the state ``v_prev = vr + i vi``."""
        self._ar = self._pr * vr - self._pi * vi
        self._ai = self._pr * vi + self._pi * vr
        self._cr = np.zeros_like(vr)
        self._ci = np.zeros_like(vr)
        self._pos = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (shape (n,) or (n, channels)) along axis 0."""
        x = np.asarray(x, dtype=float)
        flat = x.ndim == 1
        x2 = x[:, None] if flat else x
        n = len(x2)
        if n == 0:
            return x.copy()
        if self._ar is None:
            if self.init == "steady":  # v_prev = R x0 / (1 - p)
                s = self._r / (1.0 - complex(self._pr, self._pi))
                self._start(s.real * x2[0], s.imag * x2[0])
            else:
                z = np.zeros(x2.shape[1])
                self._start(z, z)
        y = self._scalar(x2) if n <= _SCALAR_MAX_N else self._vector(x2)
        return y[:, 0] if flat else y

    def _block_end(self, wr: np.ndarray, wi: np.ndarray) -> None:
        self._start(wr, wi)

    def _scalar(self, x2: np.ndarray) -> np.ndarray:
        """Few samples: the same arithmetic as :meth:`_vector`, in Python floats."""
        pjr, pji, qjr, qji = self._lists
        ch = x2.shape[1]
        ar, ai = self._ar.tolist(), self._ai.tolist()  # type: ignore[union-attr]
        cr, ci = self._cr.tolist(), self._ci.tolist()
        k, f, L = self._k, self._f, self._L
        out = []
        j = self._pos
        for row in x2.tolist():
            yrow = []
            wr_all, wi_all = [], []
            for c in range(ch):
                xv = row[c]
                cr[c] = cr[c] + qjr[j] * xv
                ci[c] = ci[c] + qji[j] * xv
                sr = ar[c] + cr[c]
                si = ai[c] + ci[c]
                wr = pjr[j] * sr - pji[j] * si
                wr_all.append(wr)
                wi_all.append(pjr[j] * si + pji[j] * sr)
                yrow.append(k * xv + f * wr)
            out.append(yrow)
            j += 1
            if j == L:
                pr, pi = self._pr, self._pi
                ar = [pr * a - pi * b for a, b in zip(wr_all, wi_all, strict=True)]
                ai = [pr * b + pi * a for a, b in zip(wr_all, wi_all, strict=True)]
                cr, ci = [0.0] * ch, [0.0] * ch
                j = 0
        self._ar, self._ai = np.array(ar), np.array(ai)
        self._cr, self._ci = np.array(cr), np.array(ci)
        self._pos = j
        return np.array(out)

    def _block_starts(self, ends_r: np.ndarray, ends_i: np.ndarray) -> tuple[np.ndarray, ...]:
        """The chain of block starts ``a[b+1] = p (p^(L-1) (a[b] + end[b]))`` over whole
        blocks (``ends``: each block's running sum, shape (blocks, channels)); returns
        the starts of these blocks (real, imaginary) and leaves the next in ``_ar/_ai``.

        Python complex numbers: CPython multiplies ``(a.re b.re - a.im b.im,
        a.re b.im + a.im b.re)``, each product rounded on its own, which is the
        arithmetic of :meth:`_scalar` written out; so both give the same bits."""
        assert self._ar is not None
        nb, ch = ends_r.shape
        p = complex(self._pr, self._pi)
        p_last = complex(float(self._pj_r[self._L - 1]), float(self._pj_i[self._L - 1]))
        ends = np.empty((nb, ch), dtype=complex)
        ends.real = ends_r
        ends.imag = ends_i
        starts = np.empty((nb, ch), dtype=complex)
        for c in range(ch):
            a = complex(float(self._ar[c]), float(self._ai[c]))
            col = []
            for e in ends[:, c].tolist():
                col.append(a)
                a = p * (p_last * (a + e))
            starts[:, c] = col
            self._ar[c], self._ai[c] = a.real, a.imag
        return starts.real, starts.imag

    def _vector(self, x2: np.ndarray) -> np.ndarray:
        n, ch = x2.shape
        L = self._L
        y = np.empty((n, ch))
        i = 0
        while i < n:
            j0 = self._pos
            m = min(n - i, L - j0)
            if j0 == 0 and n - i >= 2 * L:
                # many whole blocks at once: running sums per block, then the start chain
                nb = (n - i) // L
                xs = x2[i : i + nb * L].reshape(nb, L, ch)
                br = np.cumsum(self._qj_r[None, :, None] * xs, axis=1)
                bi = np.cumsum(self._qj_i[None, :, None] * xs, axis=1)
                assert self._ar is not None
                st_r, st_i = self._block_starts(br[:, L - 1], bi[:, L - 1])
                sr = st_r[:, None, :] + br
                si = st_i[:, None, :] + bi
                wr = self._pj_r[None, :, None] * sr - self._pj_i[None, :, None] * si
                y[i : i + nb * L] = (self._k * xs + self._f * wr).reshape(nb * L, ch)
                i += nb * L
                continue
            xs = x2[i : i + m]
            if self._real:  # one real pole: the imaginary parts are exactly zero
                qr = self._qj_r[j0 : j0 + m, None] * xs
                qr[0] = self._cr + qr[0]
                br = np.cumsum(qr, axis=0)
                assert self._ar is not None
                wr = self._pj_r[j0 : j0 + m, None] * (self._ar + br)
                y[i : i + m] = (
                    wr if self._k == 0.0 and self._f == 1.0 else self._k * xs + self._f * wr
                )
                self._pos = j0 + m
                if self._pos == L:
                    self._block_end(wr[-1], np.zeros_like(wr[-1]))
                else:
                    self._cr = br[-1].copy()
                i += m
                continue
            qr = self._qj_r[j0 : j0 + m, None] * xs
            qi = self._qj_i[j0 : j0 + m, None] * xs
            qr[0] = self._cr + qr[0]
            qi[0] = self._ci + qi[0]
            br = np.cumsum(qr, axis=0)
            bi = np.cumsum(qi, axis=0)
            assert self._ar is not None
            sr = self._ar + br
            si = self._ai + bi
            pr_ = self._pj_r[j0 : j0 + m, None]
            pi_ = self._pj_i[j0 : j0 + m, None]
            wr = pr_ * sr - pi_ * si
            y[i : i + m] = self._k * xs + self._f * wr
            self._pos = j0 + m
            if self._pos == L:
                wi = pr_[-1] * si[-1] + pi_[-1] * sr[-1]
                self._block_end(wr[-1], wi)
            else:
                self._cr, self._ci = br[-1].copy(), bi[-1].copy()
            i += m
        return y
