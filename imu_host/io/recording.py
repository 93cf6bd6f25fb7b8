"""Recording format v1 (the product's native format), its writer, and foreign-CSV import.

Format::

    # imu-host recording v1
    # sample_rate_hz: 100
    t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps
    0.000000,0.0123,-0.4512,0.8901,0.12,-0.30,0.05

- ``#`` lines are ``key: value`` metadata (the first one is the magic line).
- The header row names the columns. ``t_s`` is seconds since start and never decreases; a
  jump larger than one sample period means samples were dropped there.
- Accel in g, gyro in deg/s. Gyro columns may be absent (accelerometer-only recordings
  are first-class). Unknown extra columns are kept in ``Recording.extra`` and ignored.

Every problem with an input file raises :class:`imu_host.errors.InputError` naming the
file, line and field. The writer never overwrites an existing file.

The reader streams: the file is read in bounded blocks of bytes (:mod:`imu_host.io.source`).
:func:`open_recording` hands the samples on block by block (:class:`RecordingStream`: a
replay's memory does not grow with the recording); :func:`read_recording`, on the same row
code, fills preallocated column arrays (no text copy of the whole file), so its peak
memory is about the size of the samples, not of the text. A block of strict rows (what the writer writes:
plain decimals, see :func:`_exact_block_numpy`) is read from its bytes without decoding
them, by the compiled reader ``_strict_csv`` where ``pip install`` could build it, else by
its numpy twin; both give exactly ``float()`` of each field. Any other block is decoded
and parsed by numpy's loadtxt, and a block that does not parse cleanly is re-read line by
line to name the first bad line and field. Foreign formats (generic CSV, MEx, phyphox, Sensor Logger, raw byte captures) are
in :mod:`imu_host.io.importers`.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.import_options import MEX_OPTIONS, ImportOptions
from imu_host.io.limits import (
    MAX_ACCEL_G,
    MAX_GYRO_DPS,
    MAX_HEADER_LINES,
    MAX_RATE_HZ,
    MAX_TIME_S,
    MIN_RATE_HZ,
)
from imu_host.io.plausibility import RATE_HEAD_SAMPLES, SampleChecks, check_samples, estimate_rate
from imu_host.io.source import BOM, decode_block, file_size, open_input, raw_line_blocks, shown
from imu_host.paths import create_exclusive

try:  # the compiled twin of _exact_block_numpy, built by `pip install` where it can be
    from imu_host.io import _strict_csv
except ImportError:  # pragma: no cover - depends on the install
    _strict_csv = None  # type: ignore[assignment]

MAGIC = "# imu-host recording v1"
ACCEL_COLS = ("ax_g", "ay_g", "az_g")
GYRO_COLS = ("gx_dps", "gy_dps", "gz_dps")
G0 = 9.80665  # m/s^2 per g


@dataclass
class Recording:
    """A loaded recording: samples in physical units plus the file's metadata."""

    path: str
    samples: Samples
    sample_rate_hz: float
    meta: dict[str, str] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # one-line warnings about the input

    @property
    def duration_s(self) -> float:
        t = self.samples.t_s
        return float(t[-1] - t[0]) if len(t) else 0.0


# ----------------------------------------------------------------------------- writing


def _fmt_row_template(has_gyro: bool, n_extra: int = 0) -> str:
    cols = ["%.6f"] + ["%.6f"] * 3 + (["%.4f"] * 3 if has_gyro else []) + ["%s"] * n_extra
    return ",".join(cols)


def _formats(has_gyro: bool) -> list[str]:
    return _fmt_row_template(has_gyro).split(",")


def as_recorded(samples: Samples) -> Samples:
    """The samples exactly as a v1 file stores them and a reader loads them back (same
    printf formats, correctly rounded parse), without a file round trip."""
    g = samples.gyro_dps is not None
    if len(samples) == 0:
        return samples
    cols = [samples.t_s[:, None], samples.accel_g]
    if samples.gyro_dps is not None:
        cols.append(samples.gyro_dps)
    fmts = _formats(g)
    rows = np.hstack(cols).tolist()
    back = np.array([[float(f % v) for f, v in zip(fmts, row, strict=True)] for row in rows])
    return Samples(back[:, 0].copy(), back[:, 1:4].copy(), back[:, 4:7].copy() if g else None)


class RecordingWriter:
    """Writes a v1 recording as samples arrive, flushing so a crash loses little.

    Opens the file in exclusive-create mode: an existing file is never overwritten.
    ``write()`` returns the samples exactly as a reader will load them back (values
    rounded to the file's precision), so a live session can feed those to the pipeline
    and a replay of the file reproduces the live results bit for bit.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate_hz: float,
        has_gyro: bool,
        meta: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.has_gyro = has_gyro
        self._fh = create_exclusive(self.path, "recording", text=True)
        lines = [MAGIC, f"# sample_rate_hz: {sample_rate_hz!r}"]
        for k, v in (meta or {}).items():
            if k == "sample_rate_hz":
                continue
            v = str(v).replace("\n", " ")
            lines.append(f"# {k}: {v}")
        cols = ["t_s", *ACCEL_COLS, *(GYRO_COLS if has_gyro else ())]
        lines.append(",".join(cols))
        try:
            self._fh.write("\n".join(lines) + "\n")
            self._fh.flush()
        except OSError as err:  # a full disk before any sample: nothing recorded is lost
            with contextlib.suppress(OSError):
                self._fh.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise InputError(f"cannot write: {err.strerror}", path=str(self.path)) from None
        self.samples_written = 0

    def write(self, samples: Samples) -> Samples:
        """Append samples; return them as they will read back from the file."""
        if self.has_gyro and samples.gyro_dps is None:
            raise ValueError("writer expects gyro data")
        n = len(samples)
        if n == 0:
            return samples
        parts = [samples.t_s[:, None], samples.accel_g]
        if samples.gyro_dps is not None and self.has_gyro:
            parts.append(samples.gyro_dps)
        table = np.hstack(parts)
        buf = io.StringIO()
        np.savetxt(buf, table, fmt=_formats(self.has_gyro), delimiter=",")
        self._fh.write(buf.getvalue())
        self.samples_written += n
        return as_recorded(samples)

    def flush(self, sync: bool = True) -> None:
        """Hand written rows to the OS; with ``sync``, also to the disk (fsync)."""
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_recording(
    path: str | os.PathLike[str],
    samples: Samples,
    sample_rate_hz: float,
    meta: dict[str, str] | None = None,
) -> None:
    """Write a whole v1 recording (refuses to overwrite an existing file)."""
    with RecordingWriter(path, sample_rate_hz, samples.has_gyro, meta) as w:
        w.write(samples)


# ----------------------------------------------------------------------------- reading

BOUNDS = {"t_s": MAX_TIME_S, **dict.fromkeys(ACCEL_COLS, MAX_ACCEL_G)}
BOUNDS.update(dict.fromkeys(GYRO_COLS, MAX_GYRO_DPS))
UNITS = {"t_s": "s", **dict.fromkeys(ACCEL_COLS, "g"), **dict.fromkeys(GYRO_COLS, "deg/s")}


def parse_number(text: str, path: str, line: int, name: str, bound: float) -> float:
    """One field as a finite float within ``bound``; InputError naming line and field."""
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"'{shown(text)}' is not a number", path=path, line=line,
                         field=name) from None  # fmt: skip
    if not math.isfinite(x):
        raise InputError(f"'{shown(text)}' is not a finite number", path=path, line=line,
                         field=name)  # fmt: skip
    if abs(x) > bound:
        raise InputError(
            f"{shown(text)} is beyond {bound:g} {UNITS.get(name, '')}: not a sensor value".replace(
                "  ", " "
            ),
            path=path, line=line, field=name,
        )  # fmt: skip
    return x


def _as_index(group: list[int]) -> list[int] | slice:
    """A group of adjacent columns as a slice: one strided copy per block, not two."""
    adjacent = group == list(range(group[0], group[-1] + 1))
    return slice(group[0], group[-1] + 1) if adjacent else group


class ColumnStore:
    """Growable float64 column groups filled block by block (amortised growth, no list of
    rows, and no copy at the end: each group is already the final contiguous array)."""

    def __init__(self, groups: list[list[int]], capacity: int) -> None:
        self.n = 0
        self.groups = [_as_index(g) for g in groups]
        self.data = [np.empty((max(capacity, 16), len(g))) for g in groups]

    def append(self, block: np.ndarray) -> None:
        m = len(block)
        if self.n + m > len(self.data[0]):
            cap = max(int(len(self.data[0]) * 1.5), self.n + m)
            for k, arr in enumerate(self.data):
                arr.resize((cap, arr.shape[1]), refcheck=False)  # realloc, no second copy
                self.data[k] = arr
        for arr, g in zip(self.data, self.groups, strict=True):
            arr[self.n : self.n + m] = block[:, g]
        self.n += m

    def finish(self) -> list[np.ndarray]:
        """The groups trimmed to the rows filled (in place); the store is spent."""
        out = []
        for arr in self.data:
            arr.resize((self.n, arr.shape[1]), refcheck=False)
            out.append(arr)
        self.data = []
        return out


def _content_lines(text: str, first_line: int) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of the lines that are not blank or '#'."""
    for k, raw in enumerate(text.split("\n")):
        s = raw.strip()
        if s and not s.startswith("#"):
            yield first_line + k, s


def _fast_block(text: str, ncol: int, bounds: np.ndarray) -> np.ndarray | None:
    """numpy's C reader for a clean block; None (use the line-by-line path) otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" on comment-only blocks
            arr = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, comments="#")
    except ValueError:
        return None
    if arr.shape[0] == 0:
        return np.empty((0, ncol))
    if arr.shape[1] != ncol or not np.isfinite(arr).all():
        return None
    if (np.abs(arr) > bounds).any():
        return None
    return arr


# The strict decimal reader (``_exact_block_numpy``). A field's digits are read from the
# 8 bytes that end at its separator as one little-endian 64-bit word (the dot taken out),
# or, for a field longer than that, the fraction from that word and the integer part from
# the 8 bytes that end at its dot; each word becomes an integer in three multiply-shift
# steps ("SWAR": the 8 digits' values added pairwise, then in fours, then all). A decimal of at most EXACT_DIGITS digits is an integer below 2**53, exact as a
# float64, and the power of ten it is divided by is exact too, so one correctly rounded
# division gives the correctly rounded value: what ``float()`` of the text gives.
WORD_DIGITS = 8  # ASCII digits in one 64-bit word
EXACT_DIGITS = 15  # 10**15 < 2**53: every integer of this many digits is exact in float64
_NL, _COMMA, _DOT, _MINUS, _ZERO = (ord(c) for c in "\n,.-0")
_POW10 = 10.0 ** np.arange(WORD_DIGITS + 1)  # exact float64 powers of ten
_ALL = (1 << 64) - 1
# _KEEP_TOP[k]: the word's top k bytes (the k digits just before the word's end)
_KEEP_TOP = np.array([_ALL ^ ((1 << (8 * (WORD_DIGITS - k))) - 1) for k in range(WORD_DIGITS + 1)],
                     dtype=np.uint64)  # fmt: skip
_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)  # an ASCII digit's value is its low 4 bits
_SWAR_STEPS = (
    (np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(10 * 256 + 1), np.uint64(8)),  # digit pairs
    (np.uint64(0x00FF00FF00FF00FF), np.uint64(100 * 65536 + 1), np.uint64(16)),  # fours
    (np.uint64(0x0000FFFF0000FFFF), np.uint64(10000 * (1 << 32) + 1), np.uint64(32)),  # all 8
)


_BYTE = np.uint64(8)
# _BELOW_DOT[k] / _ABOVE_DOT[k]: the bytes below / above the dot of a word that ends with
# k decimals (the dot is byte WORD_DIGITS - 1 - k from the low end)
_BELOW_DOT = np.array([(1 << (8 * (WORD_DIGITS - 1 - k))) - 1 for k in range(WORD_DIGITS)],
                      dtype=np.uint64)  # fmt: skip
_ABOVE_DOT = np.array([_ALL ^ ((1 << (8 * (WORD_DIGITS - k))) - 1) for k in range(WORD_DIGITS)],
                      dtype=np.uint64)  # fmt: skip


def _word_digits(words: np.ndarray) -> np.ndarray:
    """The integers written by 8 ASCII digits per word (first digit in the low byte);
    bytes that are zero count as leading zeros."""
    x = words & _LOW_NIBBLES
    for mask, mul, shift in _SWAR_STEPS:
        x = ((x & mask) * mul) >> shift
    return x & np.uint64(0xFFFFFFFF)


def _exact_block_numpy(raw: bytes | memoryview, ncol: int, bounds: np.ndarray) -> np.ndarray | None:
    """The values of a block of strict decimal rows, exactly as ``float()`` reads each
    field; None (use the general reader) for anything else.

    Strict: every line ends with a newline and has ``ncol`` comma-separated fields, each
    ``-?D+.D+`` (an optional minus, 1 to 8 digits, a dot, 1 to 8 digits, at most
    EXACT_DIGITS digits in all), nothing else (no spaces, CR, blank or comment lines,
    exponents, nan/inf), every value within ``bounds``. This is what the writer writes.
    """
    n = len(raw)
    if n == 0 or raw[-1] != _NL:
        return None
    pad = WORD_DIGITS  # bytes before the first field, so every word ending in it exists
    a = np.empty(n + pad, np.uint8)
    a[:pad] = _NL
    body = a[pad:]
    body[:] = np.frombuffer(raw, np.uint8)
    is_nl = body == _NL
    nrows = int(np.count_nonzero(is_nl))
    ends = np.flatnonzero(is_nl | (body == _COMMA))  # where each field ends
    nf = nrows * ncol
    if len(ends) != nf:
        return None
    ends += pad
    sep: np.ndarray = ends.reshape(nrows, ncol)
    if not (a[sep[:, -1]] == _NL).all():  # so each line has ncol - 1 commas
        return None
    start = np.empty_like(sep)
    start.reshape(-1)[0] = pad
    start.reshape(-1)[1:] = sep.reshape(-1)[:-1] + 1
    n_dots = int(np.count_nonzero(body == _DOT))
    n_minus = int(np.count_nonzero(body == _MINUS))
    # every byte below '0' a separator, dot or minus; none above '9': the rest are digits
    if n_dots != nf or int(body.max()) > _ZERO + 9:
        return None
    if int(np.count_nonzero(body < _ZERO)) != 2 * nf + n_minus:
        return None
    sign = a[start] == _MINUS
    if int(np.count_nonzero(sign)) != n_minus:
        return None  # a minus that does not open its field
    # a dot inside each field (after a digit, before one) and as many dots as fields: one
    # per field. First try where the first line has them, column by column (the writer's
    # fixed decimals), else find them.
    line0 = bytes(raw[: int(sep[0, -1]) - pad]).split(b",")
    frac: np.ndarray = np.array([len(f) - 1 - f.find(b".") if b"." in f else 0 for f in line0])
    dots = sep - (frac + 1)
    fixed = bool((frac >= 1).all() and (frac <= WORD_DIGITS).all() and (a[dots] == _DOT).all())
    if not fixed:
        dots = np.flatnonzero(body == _DOT).reshape(nrows, ncol) + pad
        frac = sep - dots - 1
    whole = dots - start
    whole -= sign
    if not ((whole >= 1).all() and (whole <= WORD_DIGITS).all()):
        return None
    if not fixed and not ((frac >= 1).all() and (frac <= WORD_DIGITS).all()):
        return None
    if int((whole + frac).max()) > EXACT_DIGITS:
        return None
    words = np.ndarray((n + 1,), dtype="<u8", buffer=a, strides=(1,))  # at each byte
    # column by column, each column contiguous
    sep_c, dots_c, whole_c, sign_c = (np.ascontiguousarray(v.T) for v in (sep, dots, whole, sign))
    frac_c = frac if fixed else np.ascontiguousarray(frac.T)
    out = np.empty((ncol, nrows))
    for c in range(ncol):
        kk = frac_c[c]
        col = out[c]
        if fixed and int(whole_c[c].max()) + int(kk) < WORD_DIGITS:
            # the whole field but its sign in the word that ends at its separator: take
            # the dot out (the bytes below it one up) and read all its digits at once
            x = words[sep_c[c] - WORD_DIGITS]
            x = ((x & _BELOW_DOT[kk]) << _BYTE) | (x & _ABOVE_DOT[kk])
            whole_c[c] += kk
            col[:] = _word_digits(x & _KEEP_TOP[whole_c[c]])
        else:  # the fraction and the integer part, each from its own word
            f_int = _word_digits(words[sep_c[c] - WORD_DIGITS] & _KEEP_TOP[kk])
            col[:] = _word_digits(words[dots_c[c] - WORD_DIGITS] & _KEEP_TOP[whole_c[c]])
            col *= _POW10[kk]  # exact: below 10**15
            col += f_int  # exact: below 10**15
        col /= _POW10[kk]  # the one rounding
        np.negative(col, out=col, where=sign_c[c])
        if float(np.abs(col).max()) > bounds[c]:
            return None  # the general reader names the field
    return out.T


def _exact_block_c(raw: bytes | memoryview, ncol: int, bounds: np.ndarray) -> np.ndarray | None:
    """:func:`_exact_block_numpy` by the compiled reader (``_strict_csv.c``): the same
    rows accepted, the same values."""
    assert _strict_csv is not None
    # room for the most rows the block can hold (the shortest field, '0.0', and its
    # separator are 4 bytes)
    out = np.empty((len(raw) // (4 * ncol) + 1, ncol))
    rows = _strict_csv.read(raw, out, ncol, bounds)
    if rows < 0:
        return None
    out.resize((rows, ncol), refcheck=False)  # the unused room given back, no copy
    return out


_exact_block = _exact_block_numpy if _strict_csv is None else _exact_block_c


def _slow_block(
    path: str, text: str, first_line: int, names: list[str], last_block: bool,
    notices: list[str],
) -> tuple[np.ndarray, list[list[str]]]:  # fmt: skip
    """Line by line: the numeric known columns and the raw text of unknown ones."""
    ncol = len(names)
    known = [j for j, n in enumerate(names) if n in BOUNDS]
    unknown = [j for j, n in enumerate(names) if n not in BOUNDS]
    lines = list(_content_lines(text, first_line))
    rows: list[list[float]] = []
    extra: list[list[str]] = []
    for k, (ln, s) in enumerate(lines):
        fields = s.split(",")
        final = last_block and k == len(lines) - 1
        try:
            if len(fields) != ncol:
                raise InputError(f"row has {len(fields)} fields, header has {ncol}", path=path,
                                 line=ln)  # fmt: skip
            row = [parse_number(fields[j], path, ln, names[j], BOUNDS[names[j]]) for j in known]
        except InputError as err:
            if final:  # a crash can always cut the last row: keep the rest
                notices.append(f"line {ln}: last row is incomplete ({err.problem}); ignored")
                break
            raise
        rows.append(row)
        extra.append([fields[j].strip() for j in unknown])
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(known))
    return arr, extra


def _check_order(path: str, t: np.ndarray, prev: float | None, text: str | bytes,
                 first_line: int, name: str) -> None:  # fmt: skip
    """Times never decrease (within the block and against the previous block's last).
    ``text`` is the block's (bytes only for a block of strict rows, which are ASCII)."""
    if len(t) == 0:
        return
    d = np.diff(t) if prev is None else np.diff(np.concatenate([[prev], t]))
    if (d < 0).any():
        i = int(np.argmax(d < 0))  # index into t (with prev: of t itself)
        j = i + 1 if prev is None else i
        before = t[j - 1] if j > 0 else prev
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        lines = [ln for ln, _ in _content_lines(text, first_line)]
        raise InputError(
            f"time goes backwards ({t[j]:.6f} after {before:.6f}); expected non-decreasing",
            path=path, line=lines[j] if j < len(lines) else None, field=name,
        )  # fmt: skip


def _header(path: str, blocks: Iterator[tuple[int, str, bool]]):  # noqa: ANN202
    """Read up to the header row: (comments, header line number, names, rest of block)."""
    comments: list[tuple[int, str]] = []
    seen_magic = False
    for first, text, terminated in blocks:
        pos, ln = 0, first
        while pos < len(text):
            nl = text.find("\n", pos)
            end = len(text) if nl < 0 else nl + 1
            s = text[pos:end].strip()
            pos, this = end, ln
            ln += 1
            if not s:
                continue
            if not seen_magic:
                if s != MAGIC:
                    raise InputError(
                        f"not an imu-host v1 recording (first line should be '{MAGIC}'); "
                        "for other CSVs give import options, e.g. --format mex or "
                        "--columns/--time",
                        path=path, line=this,
                    )  # fmt: skip
                seen_magic = True
                continue
            if s.startswith("#"):
                comments.append((this, s))
                if len(comments) > MAX_HEADER_LINES:
                    raise InputError(f"more than {MAX_HEADER_LINES} metadata lines",
                                     path=path, line=this)  # fmt: skip
                continue
            return comments, this, s, (ln, text[pos:], terminated)
    if not seen_magic:
        raise InputError("file is empty, expected a CSV recording", path=path)
    raise InputError("no header row (expected 't_s,ax_g,ay_g,az_g,...')", path=path)


class _Rows:
    """A v1 file's header (read when this is made) and then its rows, block by block:
    every parsing and validation step of the reader, shared by :func:`read_recording`
    (which keeps the rows) and :class:`RecordingStream` (which hands them on)."""

    def __init__(self, path: str, fh: IO[bytes]) -> None:
        self.path = path
        self.size = file_size(fh)
        self._blocks = raw_line_blocks(fh, path)
        texts = ((ln, decode_block(b, path, ln), term) for ln, b, term in self._blocks)
        comments, self.header_line, header, (rest_ln, rest_text, rest_term) = _header(path, texts)
        self._rest = (rest_ln, rest_text.encode("utf-8"), rest_term)
        self.meta = _parse_meta(path, comments)
        self.names = [c.strip() for c in header.split(",")]
        _check_names(path, self.header_line, self.names)
        self.has_gyro = all(c in self.names for c in GYRO_COLS)
        self.known = [n for n in self.names if n in BOUNDS]
        self.simple = len(self.known) == len(self.names)
        self.ti = self.known.index("t_s")
        # the known columns' groups: time, accel (, gyro)
        self.groups = [[self.ti], [self.known.index(c) for c in ACCEL_COLS]]
        if self.has_gyro:
            self.groups.append([self.known.index(c) for c in GYRO_COLS])
        self.notices: list[str] = []  # about the rows (a cut-off last row)
        # (bytes, lines) of the first block with rows: sizes a whole-file store
        self.sizing: tuple[int, int] = (1, 1)

    def blocks(self) -> Iterator[tuple[np.ndarray, list[list[str]]]]:
        """Per block in file order: the rows' known columns (an array, never empty) and the
        raw text of their unknown columns; InputError at the first bad line."""
        path, names, ti = self.path, self.names, self.ti
        bounds = np.array([BOUNDS[n] for n in self.known])
        ncol = len(names)
        prev: float | None = None  # the last time so far: times never decrease
        sized = False
        for first, raw, terminated in _chain(self._pop_rest(), self._blocks):
            head = _exact_head(raw, terminated, ncol, bounds) if self.simple else None
            if head is None:  # the general reader, on the block's text
                text = decode_block(raw, path, first)
            else:  # strict rows, then the cut-off rest of a last block (if any) as text
                rows, used = head
                rest_first = first + len(rows)
                text = decode_block(raw[used:], path, rest_first)
                if not sized:
                    self.sizing, sized = (used, len(rows)), True
                _check_order(path, rows[:, ti], prev, raw, first, "t_s")
                prev = float(rows[-1, ti])
                yield rows, []
                if not text:
                    continue
                first = rest_first
            if not text.strip():  # (blank: no rows, nothing to name)
                continue
            arr = _fast_block(text, ncol, bounds) if self.simple else None
            extra: list[list[str]] = []
            if arr is None:
                arr, extra = _slow_block(path, text, first, names, not terminated, self.notices)
            _check_order(path, arr[:, ti], prev, text, first, "t_s")
            if len(arr):
                if not sized:
                    self.sizing, sized = (len(text), text.count("\n")), True
                prev = float(arr[-1, ti])
                yield arr, extra

    def _pop_rest(self) -> tuple[int, bytes, bool]:
        """The rest of the header's block, handed on once (not kept for the whole read)."""
        rest, self._rest = self._rest, (0, b"", True)
        return rest

    def rate(self, t_head: np.ndarray, n: int) -> tuple[float, float | None]:
        """(sample rate, declared rate or None) once ``n`` samples were read, the first
        ones' times ``t_head`` (at least RATE_HEAD_SAMPLES of them, or all); InputError
        when there are no samples or no plausible rate."""
        if n == 0:
            raise InputError("no samples after the header row", path=self.path,
                             line=self.header_line)  # fmt: skip
        declared = _declared_rate(self.path, self.meta)
        rate = declared if declared is not None else rate_from_times(self.path, t_head)
        return rate, declared


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Load a v1 recording. Raises InputError for anything that is not one."""
    path = str(path)
    with open_input(path) as fh:
        rows = _Rows(path, fh)
        store: ColumnStore | None = None
        extras: list[list[str]] = []
        for arr, ex in rows.blocks():
            if store is None:
                store = _sized_store(rows.groups, rows.size, *rows.sizing)
            store.append(arr)
            extras.extend(ex)
    parts = store.finish() if store is not None else [np.zeros(0)]
    t = parts[0].reshape(-1)
    rate, declared = rows.rate(t, len(t))
    accel = parts[1]
    gyro = parts[2] if rows.has_gyro else None
    extra: dict[str, np.ndarray] = {}
    if not rows.simple:
        for k, n in enumerate(n for n in rows.names if n not in BOUNDS):
            extra[n] = np.array([r[k] for r in extras], dtype=object)
    samples = Samples(t, accel, gyro)
    notices = rows.notices + check_samples(samples, rate, declared)
    return Recording(path, samples, rate, rows.meta, extra, notices)


# samples per block of a RecordingStream (a replay's feed, ~2.7 min at 100 Hz)
STREAM_BLOCK_SAMPLES = 16384


class RecordingStream:
    """A v1 recording read as it is consumed, in bounded memory: its header and sample
    rate are known when it is opened (:func:`open_recording`), its samples come from
    :meth:`blocks`. Every value, error line (file, line, field; a bad row anywhere is
    named before a bad rate, as :func:`read_recording` does) and notice is
    :func:`read_recording`'s: the same parsing code, and the same unit checks fed block
    by block (:class:`~imu_host.io.plausibility.SampleChecks`).

    ``notices`` is complete once :meth:`blocks` has run to its end (the checks look at
    the whole recording). ``extra`` columns are not kept."""

    def __init__(self, path: str, fh: IO[bytes], rows: _Rows) -> None:
        self.path = path
        self.meta = rows.meta
        self.has_gyro = rows.has_gyro
        self.notices: list[str] = rows.notices
        self.samples_read = 0
        self._fh = fh
        self._rows = rows
        self._it = rows.blocks()
        # read ahead what the rate needs (with no declared rate: the first times)
        self._ahead: list[np.ndarray] = []
        n = 0
        for arr, _extra in self._it:
            self._ahead.append(arr)
            n += len(arr)
            if n >= RATE_HEAD_SAMPLES:
                break
        ti = rows.ti
        t_head = np.concatenate([a[:, ti] for a in self._ahead]) if self._ahead else np.zeros(0)
        try:
            self.sample_rate_hz, self.declared_rate_hz = rows.rate(t_head, n)
        except InputError:
            for _ in self._it:  # a bad row further on is named first, as read_recording does
                pass
            raise
        self._checks = SampleChecks(self.sample_rate_hz, self.declared_rate_hz)

    def blocks(self, size: int = STREAM_BLOCK_SAMPLES) -> Iterator[Samples]:
        """The samples in order, ``size`` per block (the last one shorter), each block its
        own arrays; InputError at the first bad line. Once only."""
        pending, have = self._ahead, sum(len(a) for a in self._ahead)
        self._ahead = []
        for arr, _extra in self._it:
            pending.append(arr)
            have += len(arr)
            while have >= size:
                yield self._take(pending, size)
                have -= size
        while have > 0:
            m = min(size, have)
            yield self._take(pending, m)
            have -= m
        self.notices.extend(self._checks.notices())

    def _take(self, pending: list[np.ndarray], m: int) -> Samples:
        """The first ``m`` rows of ``pending`` as Samples (taken off ``pending``)."""
        cols = [np.empty((m, len(g))) for g in self._rows.groups]
        index = [_as_index(g) for g in self._rows.groups]
        done = 0
        while done < m:
            arr = pending[0]
            k = min(m - done, len(arr))
            for out, g in zip(cols, index, strict=True):
                out[done : done + k] = arr[:k, g]
            done += k
            if k == len(arr):
                pending.pop(0)
            else:
                pending[0] = arr[k:]
        s = Samples(cols[0].reshape(-1), cols[1], cols[2] if self.has_gyro else None)
        self._checks.add(s)
        self.samples_read += m
        return s

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_recording(path: str | os.PathLike[str]) -> RecordingStream:
    """Open a v1 recording for streaming (see :class:`RecordingStream`; use it as a
    context manager). Reads the header and what the sample rate needs; InputError for
    anything that is not a v1 recording."""
    path = str(path)
    fh = open_input(path)
    try:
        return RecordingStream(path, fh, _Rows(path, fh))
    except BaseException:
        fh.close()
        raise


def _chain(first: tuple[int, bytes, bool], rest: Iterator[tuple[int, bytes, bool]]):  # noqa: ANN202
    yield first
    del first  # (a block is not kept while the next ones are read)
    yield from rest


def _exact_head(
    raw: bytes, terminated: bool, ncol: int, bounds: np.ndarray
) -> tuple[np.ndarray, int] | None:
    """The strict rows of a block and how many of its bytes they are (all of a block
    that ends with a newline; the last block up to its last newline), or None."""
    used = len(raw) if terminated else raw.rfind(b"\n") + 1
    if used == 0:
        return None
    arr = _exact_block(memoryview(raw)[:used], ncol, bounds)
    return None if arr is None else (arr, used)


def _sized_store(groups: list[list[int]], size: int, nbytes: int, nlines: int) -> ColumnStore:
    """Room for the whole file, sized from the first block's bytes per row."""
    per_row = max(nbytes // max(nlines, 1), 1)
    return ColumnStore(groups, min(int(size / per_row * 1.05) + 16, 1 << 26))


def _check_names(path: str, line: int, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"header names column '{shown(n)}' twice; expected each once",
                             path=path, line=line)  # fmt: skip
        seen.add(n)
    for need in ("t_s", *ACCEL_COLS):
        if need not in names:
            found = shown(", ".join(names), 120)
            raise InputError(f"header has no '{need}' column (found: {found})", path=path,
                             line=line)  # fmt: skip
    if not all(c in names for c in GYRO_COLS) and any(c in names for c in GYRO_COLS):
        missing = [c for c in GYRO_COLS if c not in names]
        raise InputError(f"incomplete gyro columns: missing {', '.join(missing)}", path=path,
                         line=line)  # fmt: skip


def _parse_meta(path: str, comments: list[tuple[int, str]]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for ln, s in comments:
        body = s[1:].strip()
        if ":" not in body:
            raise InputError("metadata line should be '# key: value'", path=path, line=ln)
        k, v = body.split(":", 1)
        meta[k.strip()] = v.strip()
    return meta


def check_rate(rate: float, path: str | None, what: str) -> float:
    """A sample rate must be finite and within [MIN_RATE_HZ, MAX_RATE_HZ]."""
    if not (math.isfinite(rate) and MIN_RATE_HZ <= rate <= MAX_RATE_HZ):
        raise InputError(
            f"{what} {rate:g} Hz is not a plausible sample rate (expected "
            f"{MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} Hz)",
            path=path, field="sample_rate_hz",
        )  # fmt: skip
    return rate


def _declared_rate(path: str, meta: dict[str, str]) -> float | None:
    rate = meta.get("sample_rate_hz")
    if rate is None:
        return None
    try:
        value = float(rate)
    except ValueError:
        raise InputError(f"sample_rate_hz '{shown(rate)}' is not a number", path=path,
                         field="sample_rate_hz") from None  # fmt: skip
    return check_rate(value, path, "declared sample rate")


def rate_from_times(path: str, t: np.ndarray) -> float:
    """The rate estimated from the timestamps; InputError when they cannot give one."""
    rate = estimate_rate(t)
    if rate <= 0:
        raise InputError(
            "cannot tell the sample rate: fewer than two distinct times and no declared "
            "rate (add '# sample_rate_hz: N' or pass --rate N)",
            path=path,
        )
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        hint = ""
        for unit, factor in (("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
            if MIN_RATE_HZ <= rate * factor <= MAX_RATE_HZ:
                hint = f"; is the time column in {unit}? (use --time {unit})"
                break
        raise InputError(
            f"timestamps step at {rate:.3g} Hz, not a plausible sample rate (expected "
            f"{MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} Hz){hint}",
            path=path, field="t",
        )  # fmt: skip
    return rate


def starts_with_magic(path: str) -> bool:
    """The file opens with the v1 magic line (after an optional UTF-8 BOM)."""
    try:
        with open_input(path) as fh:  # regular files only (never blocks on a pipe)
            head = fh.read(len(BOM) + len(MAGIC))
    except (InputError, OSError):
        return False  # the readers name the problem
    return head.removeprefix(BOM).startswith(MAGIC.encode())


def load(path: str | os.PathLike[str], options: ImportOptions | None = None) -> Recording:
    """Load a v1 recording (or a raw byte capture, recognised by its content), or a
    foreign file when import options are given."""
    if options is None and starts_with_magic(str(path)):
        return read_recording(path)  # (without importing the foreign-format readers)
    from imu_host.io.importers import import_file, looks_like_raw_capture

    if options is None:
        if looks_like_raw_capture(str(path)):
            from imu_host.io.importers import read_raw_capture

            return read_raw_capture(str(path))
        return read_recording(path)
    return import_file(path, options)


def import_csv(path: str | os.PathLike[str], options: ImportOptions) -> Recording:
    """Load a foreign CSV (see :func:`imu_host.io.importers.import_csv`)."""
    from imu_host.io.importers import import_csv as _import_csv

    return _import_csv(path, options)


__all__ = [
    "ACCEL_COLS", "G0", "GYRO_COLS", "MAGIC", "MEX_OPTIONS", "ImportOptions", "Recording",
    "RecordingStream", "RecordingWriter", "as_recorded", "import_csv", "load", "open_recording",
    "read_recording", "starts_with_magic", "write_recording",
]  # fmt: skip
