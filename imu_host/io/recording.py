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
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.paths import create_exclusive

MAGIC = "# imu-host recording v1"
ACCEL_COLS = ("ax_g", "ay_g", "az_g")
GYRO_COLS = ("gx_dps", "gy_dps", "gz_dps")
G0 = 9.80665  # m/s^2 per g
_ROLES = ("t", "ax", "ay", "az", "gx", "gy", "gz")


@dataclass
class Recording:
    """A loaded recording: samples in physical units plus the file's metadata."""

    path: str
    samples: Samples
    sample_rate_hz: float
    meta: dict[str, str] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        t = self.samples.t_s
        return float(t[-1] - t[0]) if len(t) else 0.0


@dataclass(frozen=True)
class ImportOptions:
    """How to read a foreign CSV (phone-app exports, public datasets).

    - ``columns``: the role of each column, in file order, comma separated. Roles are
      ``t, ax, ay, az, gx, gy, gz`` and ``-`` (ignore). With a header row, column names
      may be given instead of positions as ``role=name`` pairs, e.g.
      ``t=time,ax=accX,ay=accY,az=accZ``.
    - ``header``: whether the first non-comment line names the columns.
    - ``time``: ``s`` (seconds), ``ms`` (milliseconds) or ``iso`` (ISO 8601 date-times).
    - ``accel_units``: ``g`` or ``m/s^2``; ``gyro_units``: ``dps`` or ``rad/s``.
    - ``sample_rate_hz``: nominal rate; ``None`` estimates it from the timestamps.
    """

    columns: str = "t,ax,ay,az"
    header: bool = False
    time: str = "s"
    accel_units: str = "g"
    gyro_units: str = "dps"
    delimiter: str = ","
    sample_rate_hz: float | None = None


# The public MEx dataset (thigh accelerometer, no header, ISO time, x,y,z in g).
MEX_OPTIONS = ImportOptions(columns="t,ax,ay,az", header=False, time="iso", accel_units="g")


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
    cols = [samples.t_s[:, None], samples.accel_g] + ([samples.gyro_dps] if g else [])
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
        self._fh.write("\n".join(lines) + "\n")
        self._fh.flush()
        self.samples_written = 0

    def write(self, samples: Samples) -> Samples:
        """Append samples; return them as they will read back from the file."""
        if self.has_gyro and samples.gyro_dps is None:
            raise ValueError("writer expects gyro data")
        n = len(samples)
        if n == 0:
            return samples
        parts = [samples.t_s[:, None], samples.accel_g]
        if self.has_gyro:
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


def _read_text(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a CSV recording", path=path) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    if not raw.strip():
        raise InputError("file is empty, expected a CSV recording", path=path)
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise InputError("binary data (NUL byte), expected CSV text", path=path, line=line)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError("not UTF-8 text, expected CSV", path=path, line=line) from None


def _parse_float_column(
    path: str, rows: list[list[str]], linenos: list[int], idx: int, name: str
) -> np.ndarray:
    """Convert one column to float64, naming the first bad line if any."""
    try:
        vals = [r[idx] for r in rows]
    except IndexError:
        for r, ln in zip(rows, linenos, strict=True):
            if len(r) <= idx:
                raise InputError(
                    f"missing column {idx + 1} (row has {len(r)} fields)",
                    path=path,
                    line=ln,
                    field=name,
                ) from None
        raise
    try:
        arr = np.array(vals, dtype=np.float64)
    except ValueError:
        arr = None
    if arr is not None and np.all(np.isfinite(arr)):
        return arr
    for v, ln in zip(vals, linenos, strict=True):
        try:
            x = float(v)
        except ValueError:
            shown = v.strip()[:20] or "(empty)"
            raise InputError(f"'{shown}' is not a number", path=path, line=ln, field=name) from None
        if not math.isfinite(x):
            raise InputError(
                f"'{v.strip()}' is not a finite number", path=path, line=ln, field=name
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _parse_iso_column(path: str, rows: list[list[str]], linenos: list[int], idx: int) -> np.ndarray:
    vals = [r[idx].strip() for r in rows]
    try:
        stamps = np.array(vals, dtype="datetime64[us]")
    except ValueError:
        for v, ln in zip(vals, linenos, strict=True):
            try:
                np.datetime64(v, "us")
            except ValueError:
                raise InputError(
                    f"'{v[:32]}' is not an ISO 8601 date-time", path=path, line=ln, field="t"
                ) from None
        raise
    if np.isnat(stamps).any():
        ln = linenos[int(np.argmax(np.isnat(stamps)))]
        raise InputError("missing date-time", path=path, line=ln, field="t")
    return (stamps - stamps[0]).astype(np.int64) / 1e6


def _check_time(path: str, t: np.ndarray, linenos: list[int], name: str) -> None:
    d = np.diff(t)
    if len(d) and (d < 0).any():
        i = int(np.argmax(d < 0)) + 1
        raise InputError(
            f"time goes backwards ({t[i]:.6f} after {t[i - 1]:.6f}); expected non-decreasing",
            path=path,
            line=linenos[i],
            field=name,
        )


def _estimate_rate(t: np.ndarray) -> float:
    """Mean rate over the first ~20 s, ignoring gaps (dropped samples)."""
    d = np.diff(t[: min(len(t), 2001)])
    d = d[d > 0]
    if len(d) == 0:
        return 0.0
    d = d[d < 3.0 * np.median(d)]
    return float(1.0 / np.mean(d))


def _split(text: str, delimiter: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Return (comment lines, content lines) as (line number, text) pairs."""
    comments, content = [], []
    for i, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        (comments if s.startswith("#") else content).append((i, s))
    return comments, content


def _header_end(text: str) -> int | None:
    """Offset just past the header row (the first line that is not blank or '#')."""
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl + 1
        line = text[pos:end].strip()
        if line and not line.startswith("#"):
            return end
        pos = end
    return None


def _fast_rows(body: str, ncol: int) -> np.ndarray | None:
    """numpy's C reader for a clean data block; None (use the line-by-line path) otherwise."""
    try:
        arr = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, comments=None)
    except ValueError:
        return None
    if arr.shape[0] == 0 or arr.shape[1] != ncol or not np.isfinite(arr).all():
        return None
    if (np.diff(arr[:, 0]) < 0).any():
        return None
    return arr


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Load a v1 recording. Raises InputError for anything that is not one."""
    path = str(path)
    text = _read_text(path)
    end = _header_end(text)
    if end is not None and text.startswith(MAGIC):
        comments, content = _split(text[:end], ",")
        names = [c.strip() for c in content[0][1].split(",")] if content else []
        known = {"t_s", *ACCEL_COLS, *GYRO_COLS}
        if names and set(names) <= known and all(c in names for c in ("t_s", *ACCEL_COLS)):
            arr = _fast_rows(text[end:], len(names))
            if arr is not None:
                return _build(path, comments, content, names, arr)
    comments, content = _split(text, ",")
    if not comments or comments[0][1] != MAGIC:
        raise InputError(
            f"not an imu-host v1 recording (first line should be '{MAGIC}'); "
            "for other CSVs give import options, e.g. --format mex or --columns/--time",
            path=path,
            line=1,
        )
    meta = _parse_meta(path, comments)
    if not content:
        raise InputError("no header row (expected 't_s,ax_g,ay_g,az_g,...')", path=path)
    header_ln, header = content[0]
    names = [c.strip() for c in header.split(",")]
    for need in ("t_s", *ACCEL_COLS):
        if need not in names:
            raise InputError(
                f"header has no '{need}' column (found: {', '.join(names)})",
                path=path,
                line=header_ln,
            )
    has_gyro = all(c in names for c in GYRO_COLS)
    if not has_gyro and any(c in names for c in GYRO_COLS):
        missing = [c for c in GYRO_COLS if c not in names]
        raise InputError(
            f"incomplete gyro columns: missing {', '.join(missing)}", path=path, line=header_ln
        )
    data = content[1:]
    if not data:
        raise InputError("no samples after the header row", path=path, line=header_ln)
    linenos = [ln for ln, _ in data]
    rows = [s.split(",") for _, s in data]
    ncol = len(names)
    for r, ln in zip(rows, linenos, strict=True):
        if len(r) != ncol:
            raise InputError(f"row has {len(r)} fields, header has {ncol}", path=path, line=ln)
    cols = {
        n: _parse_float_column(path, rows, linenos, names.index(n), n)
        for n in names
        if n in ("t_s", *ACCEL_COLS, *(GYRO_COLS if has_gyro else ()))
    }
    t = cols["t_s"]
    _check_time(path, t, linenos, "t_s")
    accel = np.column_stack([cols[c] for c in ACCEL_COLS])
    gyro = np.column_stack([cols[c] for c in GYRO_COLS]) if has_gyro else None
    extra = {}
    for n in names:
        if n not in cols:
            extra[n] = np.array([r[names.index(n)] for r in rows], dtype=object)
    return Recording(path, Samples(t, accel, gyro), _rate(path, meta, t), meta, extra)


def _parse_meta(path: str, comments: list[tuple[int, str]]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for ln, s in comments[1:]:
        body = s[1:].strip()
        if ":" not in body:
            raise InputError("metadata line should be '# key: value'", path=path, line=ln)
        k, v = body.split(":", 1)
        meta[k.strip()] = v.strip()
    return meta


def _rate(path: str, meta: dict[str, str], t: np.ndarray) -> float:
    """The nominal rate from the metadata, else estimated from the timestamps."""
    rate = meta.get("sample_rate_hz")
    if rate is None:
        return _estimate_rate(t)
    try:
        sample_rate_hz = float(rate)
        if not sample_rate_hz > 0:
            raise ValueError
    except ValueError:
        raise InputError(
            f"sample_rate_hz '{rate}' is not a positive number", path=path, field="sample_rate_hz"
        ) from None
    return sample_rate_hz


def _build(path: str, comments, content, names: list[str], arr: np.ndarray) -> Recording:  # noqa: ANN001
    """Recording from a clean table parsed in one go (same checks as the slow path)."""
    meta = _parse_meta(path, comments)
    has_gyro = all(c in names for c in GYRO_COLS)
    if not has_gyro and any(c in names for c in GYRO_COLS):
        missing = [c for c in GYRO_COLS if c not in names]
        raise InputError(f"incomplete gyro columns: missing {', '.join(missing)}", path=path)
    col = {n: arr[:, i] for i, n in enumerate(names)}
    accel = np.column_stack([col[c] for c in ACCEL_COLS])
    gyro = np.column_stack([col[c] for c in GYRO_COLS]) if has_gyro else None
    t = np.ascontiguousarray(col["t_s"])
    return Recording(path, Samples(t, accel, gyro), _rate(path, meta, t), meta, {})


def _parse_column_spec(spec: str, header_names: list[str] | None, path: str) -> dict[str, int]:
    roles: dict[str, int] = {}
    items = [s.strip() for s in spec.split(",")]
    if any("=" in s for s in items):
        if header_names is None:
            raise InputError("'role=name' column mapping needs --header", field="columns")
        for item in items:
            role, _, name = item.partition("=")
            role, name = role.strip(), name.strip()
            if role not in _ROLES:
                raise InputError(
                    f"unknown column role '{role}' (roles: {', '.join(_ROLES)})", field="columns"
                )
            if name not in header_names:
                raise InputError(
                    f"header has no column '{name}' (found: {', '.join(header_names)})",
                    path=path,
                    field="columns",
                )
            roles[role] = header_names.index(name)
    else:
        for i, role in enumerate(items):
            if role in ("-", ""):
                continue
            if role not in _ROLES:
                raise InputError(
                    f"unknown column role '{role}' (roles: {', '.join(_ROLES)}, -)", field="columns"
                )
            roles[role] = i
    for need in ("t", "ax", "ay", "az"):
        if need not in roles:
            raise InputError(f"column mapping has no '{need}'", field="columns")
    gyro = [r in roles for r in ("gx", "gy", "gz")]
    if any(gyro) and not all(gyro):
        raise InputError("column mapping names some but not all of gx, gy, gz", field="columns")
    return roles


def import_csv(path: str | os.PathLike[str], options: ImportOptions) -> Recording:
    """Load a foreign CSV through explicit options (see :class:`ImportOptions`)."""
    path = str(path)
    if options.time not in ("s", "ms", "iso"):
        raise InputError(
            f"time '{options.time}' not understood; expected s, ms or iso", field="time"
        )
    if options.accel_units not in ("g", "m/s^2"):
        raise InputError(
            f"accel units '{options.accel_units}' not understood; expected g or m/s^2",
            field="accel_units",
        )
    if options.gyro_units not in ("dps", "rad/s"):
        raise InputError(
            f"gyro units '{options.gyro_units}' not understood; expected dps or rad/s",
            field="gyro_units",
        )
    text = _read_text(path)
    _, content = _split(text, options.delimiter)
    header_names = None
    if options.header:
        if not content:
            raise InputError("no header row", path=path)
        header_names = [c.strip() for c in content[0][1].split(options.delimiter)]
        content = content[1:]
    roles = _parse_column_spec(options.columns, header_names, path)
    if not content:
        raise InputError("no samples in file", path=path)
    linenos = [ln for ln, _ in content]
    rows = [s.split(options.delimiter) for _, s in content]
    names = {"t": "t", "ax": "ax", "ay": "ay", "az": "az", "gx": "gx", "gy": "gy", "gz": "gz"}
    if options.time == "iso":
        t = _parse_iso_column(path, rows, linenos, roles["t"])
    else:
        t = _parse_float_column(path, rows, linenos, roles["t"], "t")
        if options.time == "ms":
            t = t / 1000.0
        t = t - t[0]
    _check_time(path, t, linenos, "t")
    accel = np.column_stack(
        [_parse_float_column(path, rows, linenos, roles[r], names[r]) for r in ("ax", "ay", "az")]
    )
    if options.accel_units == "m/s^2":
        accel = accel / G0
    gyro = None
    if "gx" in roles:
        gyro = np.column_stack(
            [
                _parse_float_column(path, rows, linenos, roles[r], names[r])
                for r in ("gx", "gy", "gz")
            ]
        )
        if options.gyro_units == "rad/s":
            gyro = np.degrees(gyro)
    rate = options.sample_rate_hz or _estimate_rate(t)
    meta = {"imported_from": os.path.basename(path), "time": options.time}
    return Recording(path, Samples(t, accel, gyro), rate, meta)


def load(path: str | os.PathLike[str], options: ImportOptions | None = None) -> Recording:
    """Load a v1 recording, or a foreign CSV when import options are given."""
    return read_recording(path) if options is None else import_csv(path, options)
