"""Other people's data: foreign CSVs, MEx, phyphox, Sensor Logger, Arduino dumps, raw
byte captures of the board's stream.

Every path converts to the host's units (``t_s`` seconds from the first sample, accel in
g, gyro in deg/s), reads in bounded blocks (:mod:`imu_host.io.source`), raises one-line
:class:`~imu_host.errors.InputError` naming file, line and field, and attaches the
plausibility notices (:mod:`imu_host.io.plausibility`) to ``Recording.notices``.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.import_options import MEX_OPTIONS, ImportOptions
from imu_host.io.limits import (
    CHUNK_BYTES,
    MAX_ACCEL_G,
    MAX_GYRO_DPS,
    MAX_HEADER_LINES,
    MAX_TIME_S,
)
from imu_host.io.plausibility import check_samples
from imu_host.io.recording import G0, Recording, as_recorded, check_rate, rate_from_times
from imu_host.io.source import file_size, line_blocks, open_input, shown

ROLES = ("t", "ax", "ay", "az", "gx", "gy", "gz")
TIME_FACTORS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
COMMENT_PREFIXES = ("#", "//")
QUOTES = "\"'"
UNIT = {"t": "s", "ax": "g", "ay": "g", "az": "g", "gx": "deg/s", "gy": "deg/s", "gz": "deg/s"}
_COUNTS_A = " (raw counts? use --accel-units counts --accel-lsb-per-g N)"
_COUNTS_G = " (raw counts? use --gyro-units counts --gyro-lsb-per-dps N)"
HINT = {"t": " (check --time)", "ax": _COUNTS_A, "ay": _COUNTS_A, "az": _COUNTS_A,
        "gx": _COUNTS_G, "gy": _COUNTS_G, "gz": _COUNTS_G}  # fmt: skip


def import_file(path: str | os.PathLike[str], options: ImportOptions) -> Recording:
    """Load a foreign file of any supported format."""
    p = str(path)
    if options.format == "phyphox":
        return import_phyphox(p, options.sample_rate_hz)
    if options.format == "sensorlogger":
        return import_sensorlogger(p, options.sample_rate_hz)
    if options.format == "raw":
        return read_raw_capture(p)
    return import_csv(p, options)


# ----------------------------------------------------------------------------- options


def _unit_factors(o: ImportOptions) -> tuple[float, float]:
    """(g per accel unit, deg/s per gyro unit), validating the units."""
    accel = {"g": 1.0, "m/s^2": 1.0 / G0, "m/s2": 1.0 / G0}
    gyro = {"dps": 1.0, "deg/s": 1.0, "rad/s": math.degrees(1.0)}
    if o.accel_units == "counts":
        if not (o.accel_lsb_per_g and math.isfinite(o.accel_lsb_per_g) and o.accel_lsb_per_g > 0):
            raise InputError("--accel-units counts needs --accel-lsb-per-g N (e.g. 16384)",
                             field="accel_lsb_per_g")  # fmt: skip
        fa = 1.0 / o.accel_lsb_per_g
    elif o.accel_units in accel:
        fa = accel[o.accel_units]
    else:
        raise InputError(f"accel units '{shown(o.accel_units)}' not understood; expected g, "
                         "m/s^2 or counts", field="accel_units")  # fmt: skip
    if o.gyro_units == "counts":
        lsb = o.gyro_lsb_per_dps
        if not (lsb and math.isfinite(lsb) and lsb > 0):
            raise InputError("--gyro-units counts needs --gyro-lsb-per-dps N (e.g. 131)",
                             field="gyro_lsb_per_dps")  # fmt: skip
        fg = 1.0 / lsb
    elif o.gyro_units in gyro:
        fg = gyro[o.gyro_units]
    else:
        raise InputError(f"gyro units '{shown(o.gyro_units)}' not understood; expected dps, "
                         "rad/s or counts", field="gyro_units")  # fmt: skip
    return fa, fg


def _check_options(o: ImportOptions) -> None:
    if o.time not in (*TIME_FACTORS, "iso"):
        raise InputError(f"time '{shown(o.time)}' not understood; expected s, ms, us, ns or iso",
                         field="time")  # fmt: skip
    if len(o.delimiter) != 1 or o.delimiter in "\r\n\"'":
        raise InputError(f"delimiter {o.delimiter!r} must be one character (or tab)",
                         field="delimiter")  # fmt: skip
    if o.decimal not in (".", ","):
        raise InputError("decimal must be '.' or ','", field="decimal")
    if o.decimal == "," and o.delimiter == ",":
        raise InputError("a decimal comma needs another delimiter (e.g. ';')", field="decimal")
    if o.sample_rate_hz is not None:
        check_rate(o.sample_rate_hz, None, "--rate")


def _clean_name(name: str) -> str:
    return name.strip().strip(QUOTES).strip()


def _split(line: str, delimiter: str) -> list[str]:
    return line.split() if delimiter == " " else line.split(delimiter)


def _parse_spec(spec: str) -> tuple[dict[str, int] | None, dict[str, str] | None]:
    """(positional roles, or named roles) from a --columns spec; duplicates refused."""
    items = [s.strip() for s in spec.split(",")]
    if any("=" in s for s in items):
        named: dict[str, str] = {}
        for item in items:
            role, _, name = item.partition("=")
            role, name = role.strip(), _clean_name(name)
            if role not in ROLES:
                raise InputError(f"unknown column role '{shown(role)}' (roles: "
                                 f"{', '.join(ROLES)})", field="columns")  # fmt: skip
            if role in named:
                raise InputError(f"column role '{role}' given twice", field="columns")
            if not name:
                raise InputError(f"column role '{role}' has no column name", field="columns")
            named[role] = name
        return None, named
    pos: dict[str, int] = {}
    for i, role in enumerate(items):
        if role in ("-", ""):
            continue
        if role not in ROLES:
            raise InputError(f"unknown column role '{shown(role)}' (roles: {', '.join(ROLES)}, -)",
                             field="columns")  # fmt: skip
        if role in pos:
            raise InputError(f"column role '{role}' given twice", field="columns")
        pos[role] = i
    return pos, None


def _check_roles(roles: dict[str, int], need_accel: bool = True) -> None:
    need = ("t", "ax", "ay", "az") if need_accel else ("t",)
    for r in need:
        if r not in roles:
            raise InputError(f"column mapping has no '{r}'", field="columns")
    gyro = [r in roles for r in ("gx", "gy", "gz")]
    if any(gyro) and not all(gyro):
        raise InputError("column mapping names some but not all of gx, gy, gz", field="columns")


def _resolve_names(
    path: str, line: int, header: list[str], named: dict[str, str]
) -> dict[str, int]:
    clean = [_clean_name(h) for h in header]
    roles: dict[str, int] = {}
    for role, name in named.items():
        hits = [i for i, h in enumerate(clean) if h == name]
        if not hits:
            hits = [i for i, h in enumerate(clean) if h.lower() == name.lower()]
        if not hits:
            found = shown(", ".join(clean), 160)
            raise InputError(f"header has no column '{shown(name)}' (found: {found})", path=path,
                             line=line, field="columns")  # fmt: skip
        if len(hits) > 1:
            raise InputError(f"header names column '{shown(name)}' {len(hits)} times; cannot "
                             "tell which one is meant", path=path, line=line)  # fmt: skip
        roles[role] = hits[0]
    return roles


# ----------------------------------------------------------------------------- tables


def _lines(fh: IO[bytes], path: str) -> Iterator[tuple[int, str, bool]]:
    """(line number, stripped line, is the unterminated last line) of non-blank lines."""
    for first, text, terminated in line_blocks(fh, path, CHUNK_BYTES):
        parts = text.split("\n")
        if terminated and parts and parts[-1] == "":
            parts.pop()
        for k, raw in enumerate(parts):
            s = raw.strip()
            if s:
                yield first + k, s, (not terminated and k == len(parts) - 1)


def _read_table(
    fh: IO[bytes], path: str, o: ImportOptions, need_accel: bool = True
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The role columns of a delimited text table, converted to s / g / deg/s."""
    _check_options(o)
    fa, fg = _unit_factors(o)
    pos, named = _parse_spec(o.columns)
    if named is not None and not o.header:
        raise InputError("'role=name' column mapping needs --header", field="columns")
    factor = {"t": TIME_FACTORS.get(o.time, 1.0), "ax": fa, "ay": fa, "az": fa,
              "gx": fg, "gy": fg, "gz": fg}  # fmt: skip
    bound = {"t": MAX_TIME_S, "ax": MAX_ACCEL_G, "ay": MAX_ACCEL_G, "az": MAX_ACCEL_G,
             "gx": MAX_GYRO_DPS, "gy": MAX_GYRO_DPS, "gz": MAX_GYRO_DPS}  # fmt: skip
    notices: list[str] = []
    roles: dict[str, int] | None = None
    if pos is not None:
        roles = pos
        _check_roles(roles, need_accel)
    skipped = 0
    first_error: InputError | None = None
    numeric = [r for r in ROLES if r != "t" or o.time != "iso"]
    cols: dict[str, list[float]] = {}
    iso: list[str] = []
    linenos: list[int] = []
    started = False
    for ln, s, last in _lines(fh, path):
        if s.startswith(COMMENT_PREFIXES):
            continue
        fields = _split(s, o.delimiter)
        if not started and o.header:
            if named is not None:
                roles = _resolve_names(path, ln, fields, named)
                _check_roles(roles, need_accel)
            assert roles is not None
            started = True
            cols = {r: [] for r in roles if r in numeric}
            continue
        assert roles is not None
        if not cols and not linenos:
            cols = {r: [] for r in roles if r in numeric}
        width = max(roles.values()) + 1
        try:
            if len(fields) < width:
                raise InputError(f"row has {len(fields)} fields, expected at least {width}",
                                 path=path, line=ln)  # fmt: skip
            values = {}
            for r, j in roles.items():
                v = fields[j].strip().strip(QUOTES)
                if r == "t" and o.time == "iso":
                    continue
                if o.decimal == ",":
                    v = v.replace(",", ".")
                try:
                    x = float(v) * factor[r]
                except ValueError:
                    raise InputError(f"'{shown(v)}' is not a number", path=path, line=ln,
                                     field=r) from None  # fmt: skip
                if not math.isfinite(x):
                    raise InputError(f"'{shown(v)}' is not a finite number", path=path, line=ln,
                                     field=r)  # fmt: skip
                if abs(x) > bound[r]:
                    raise InputError(f"'{shown(v)}' is beyond {bound[r]:g} {UNIT[r]} after unit "
                                     f"conversion: not a sensor value{HINT[r]}", path=path,
                                     line=ln, field=r)  # fmt: skip
                values[r] = x
        except InputError as err:
            if not started and not o.header and not linenos:
                skipped += 1  # a banner before the data
                first_error = first_error or err
                if skipped > MAX_HEADER_LINES:
                    raise
                continue
            if last:
                notices.append(f"line {ln}: last row is incomplete ({err.problem}); ignored")
                break
            raise
        started = True
        for r, x in values.items():
            cols[r].append(x)
        if o.time == "iso":
            iso.append(fields[roles["t"]].strip().strip(QUOTES))
        linenos.append(ln)
    if not started and o.header:
        raise InputError("no header row", path=path)
    if not linenos:
        if first_error is not None:  # no line parsed: the first line's problem is the one
            raise first_error
        raise InputError("no samples in file", path=path)
    if skipped:
        notices.append(f"skipped {skipped} line(s) before the first data row (banner or notes)")
    out = {r: np.asarray(v, dtype=np.float64) for r, v in cols.items()}
    if o.time == "iso":
        out["t"] = _iso_seconds(path, iso, linenos)
    t = out["t"]
    d = np.diff(t)
    if len(d) and (d < 0).any():
        i = int(np.argmax(d < 0)) + 1
        raise InputError(
            f"time goes backwards ({t[i]:.6f} after {t[i - 1]:.6f}); expected non-decreasing",
            path=path, line=linenos[i], field="t",
        )  # fmt: skip
    return out, notices


def _iso_seconds(path: str, vals: list[str], linenos: list[int]) -> np.ndarray:
    try:
        stamps = np.array(vals, dtype="datetime64[us]")
    except ValueError:
        for v, ln in zip(vals, linenos, strict=True):
            try:
                np.datetime64(v, "us")
            except ValueError:
                raise InputError(f"'{shown(v, 32)}' is not an ISO 8601 date-time", path=path,
                                 line=ln, field="t") from None  # fmt: skip
        raise
    nat = np.isnat(stamps)
    if nat.any():
        ln = linenos[int(np.argmax(nat))]
        raise InputError("missing date-time", path=path, line=ln, field="t")
    return (stamps - stamps[0]).astype(np.int64) / 1e6


def _recording(path: str, cols: dict[str, np.ndarray], notices: list[str],
               rate: float | None, meta: dict[str, str]) -> Recording:  # fmt: skip
    t = cols["t"] - cols["t"][0]
    accel = np.column_stack([cols["ax"], cols["ay"], cols["az"]])
    gyro = np.column_stack([cols["gx"], cols["gy"], cols["gz"]]) if "gx" in cols else None
    declared = check_rate(rate, path, "--rate") if rate is not None else None
    r = declared if declared is not None else rate_from_times(path, t)
    samples = Samples(t, accel, gyro)
    notices = notices + check_samples(samples, r, declared)
    return Recording(path, samples, r, meta, {}, notices)


def import_csv(path: str | os.PathLike[str], options: ImportOptions) -> Recording:
    """Load a foreign CSV through explicit options (see :class:`ImportOptions`)."""
    p = str(path)
    _check_options(options)
    with open_input(p) as fh:
        if file_size(fh) == 0:
            raise InputError("file is empty, expected a CSV recording", path=p)
        cols, notices = _read_table(fh, p, options)
    meta = {"imported_from": os.path.basename(p), "time": options.time}
    return _recording(p, cols, notices, options.sample_rate_hz, meta)


# ----------------------------------------------------------------------------- exports


class _Members:
    """(name, open binary file) of the CSV files in a .zip, a folder, or the file itself;
    a context manager that closes everything it opened."""

    def __init__(self, path: str, what: str) -> None:
        self.items: list[tuple[str, IO[bytes]]] = []
        self._closers: list[IO[bytes] | zipfile.ZipFile] = []
        p = Path(path)
        if p.is_dir():
            names = sorted(q for q in p.rglob("*.csv") if "meta" not in q.relative_to(p).parts)
            if not names:
                raise InputError(f"folder has no CSV files; expected a {what} export", path=path)
            for q in names:
                f = open_input(str(q))
                self._closers.append(f)
                self.items.append((str(q), f))
            return
        fh = open_input(path)
        self._closers.append(fh)
        head = fh.read(4)
        fh.seek(0)
        if head != b"PK\x03\x04":
            self.items.append((path, fh))
            return
        try:
            zf = zipfile.ZipFile(fh)
            self._closers.insert(0, zf)
            for i in zf.infolist():
                low = i.filename.lower()
                if low.endswith(".csv") and not low.startswith("meta/"):
                    f = zf.open(i)
                    self._closers.insert(0, f)
                    self.items.append((f"{path}:{i.filename}", f))
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            self.close()
            raise InputError(f"damaged zip file ({err})", path=path) from None
        if not self.items:
            self.close()
            raise InputError(f"zip has no CSV files; expected a {what} export", path=path)

    def close(self) -> None:
        for c in self._closers:
            c.close()
        self._closers = []

    def __enter__(self) -> list[tuple[str, IO[bytes]]]:
        return self.items

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(fh: IO[bytes]) -> str:
    raw = fh.read(4096)
    fh.seek(0)
    return raw.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")


def _merge(path: str, acc: dict[str, np.ndarray], gyr: dict[str, np.ndarray] | None,
           notices: list[str]) -> dict[str, np.ndarray]:  # fmt: skip
    """Gyro columns interpolated onto the accelerometer's time base (their overlap)."""
    if gyr is None:
        return acc
    ta, tg = acc["t"], gyr["t"]
    keep = (ta >= tg[0]) & (ta <= tg[-1])
    if not keep.any():
        raise InputError("accelerometer and gyroscope files do not overlap in time", path=path)
    if (~keep).sum():
        notices.append(f"{int((~keep).sum())} accelerometer samples outside the gyroscope's "
                       "time span dropped")  # fmt: skip
    out = {k: v[keep] for k, v in acc.items()}
    for k in ("gx", "gy", "gz"):
        out[k] = np.interp(out["t"], tg, gyr[k])
    return out


def _phyphox_dialect(line: str) -> tuple[str, str]:
    for d in (";", "\t", ","):
        if f'"{d}"' in line:
            return d, ("," if d != "," else ".")
    return ",", "."


def import_phyphox(path: str, rate: float | None = None) -> Recording:
    """A phyphox export: one CSV ("Acceleration with g", "Accelerometer"), or a zipped or
    folder export with separate accelerometer and gyroscope files (merged onto the
    accelerometer's time base). Quoted headers with units; any of phyphox's five CSV
    dialects (comma / tab / semicolon, decimal point or comma)."""
    acc = gyr = None
    notices: list[str] = []
    with _Members(path, "phyphox") as members:
        for name, fh in members:
            first = _first_line(fh)
            delim, _ = _phyphox_dialect(first)
            header = [_clean_name(h) for h in _split(first, delim)]
            low = [h.lower() for h in header]
            time_i = next((i for i, h in enumerate(low) if h.startswith("time")), None)
            if time_i is None:
                continue
            decimal = _decimal_of(fh, delim)
            if any(h.startswith("linear acceleration") for h in low):
                raise InputError("phyphox 'Linear Acceleration' has gravity removed; record "
                                 "'Acceleration with g' (or 'Accelerometer')",
                                 path=name)  # fmt: skip
            a = _find_xyz(low, "acceleration")
            g = _find_xyz(low, "gyroscope")
            if a is not None and acc is None:
                units = "g" if "(g)" in header[a[0]] else "m/s^2"
                spec = f"t={header[time_i]}," + ",".join(
                    f"a{c}={header[i]}" for c, i in zip("xyz", a, strict=True)
                )
                o = ImportOptions(columns=spec, header=True, delimiter=delim, decimal=decimal,
                                  accel_units=units)  # fmt: skip
                acc, n = _read_table(fh, name, o)
                notices += n
            elif g is not None and gyr is None:
                spec = f"t={header[time_i]}," + ",".join(
                    f"g{c}={header[i]}" for c, i in zip("xyz", g, strict=True)
                )
                o = ImportOptions(columns=spec, header=True, delimiter=delim, decimal=decimal,
                                  gyro_units="rad/s")  # fmt: skip
                gyr, n = _read_table(fh, name, o, need_accel=False)
                notices += n
    if acc is None:
        raise InputError("no phyphox accelerometer data (expected columns 'Time (s)', "
                         "'Acceleration x (m/s^2)', ...)", path=path)  # fmt: skip
    cols = _merge(path, acc, gyr, notices)
    return _recording(path, cols, notices, rate, {"imported_from": os.path.basename(path),
                                                  "format": "phyphox"})  # fmt: skip


def _find_xyz(low: list[str], prefix: str) -> list[int] | None:
    """Indices of the '<prefix> x/y/z (unit)' columns, or None if any is missing."""
    idx = [next((i for i, h in enumerate(low) if h.startswith(f"{prefix} {c}")), -1) for c in "xyz"]
    return None if -1 in idx else idx


def _decimal_of(fh: IO[bytes], delim: str) -> str:
    if delim == ",":
        return "."
    head = fh.read(4096)
    fh.seek(0)
    rows = head.split(b"\n")[1:3]
    return "," if any(b"," in r for r in rows) else "."


SENSORLOGGER_TIME = "seconds_elapsed"
SENSORLOGGER_FILES = ("totalacceleration", "accelerometer", "gravity", "gyroscope")


def import_sensorlogger(path: str, rate: float | None = None) -> Recording:
    """A Sensor Logger export (zip, folder or one CSV): ``time`` (ns since epoch),
    ``seconds_elapsed``, ``z, y, x`` in m/s^2 (accelerometers) and rad/s (gyroscope).
    Acceleration with gravity comes from TotalAcceleration.csv, or Accelerometer.csv plus
    Gravity.csv (iOS logs acceleration without gravity)."""
    tables: dict[str, dict[str, np.ndarray]] = {}
    notices: list[str] = []
    with _Members(path, "Sensor Logger") as members:
        for name, fh in members:
            stem = Path(name.split(":")[-1]).stem.lower()
            if (
                stem not in ("totalacceleration", "accelerometer", "gravity", "gyroscope")
                and len(members) > 1
            ):
                continue
            header = [_clean_name(h) for h in _first_line(fh).split(",")]
            if not {SENSORLOGGER_TIME, "x", "y", "z"} <= set(header):
                if len(members) == 1:
                    raise InputError("not a Sensor Logger CSV (expected columns time, "
                                     "seconds_elapsed, z, y, x)", path=name)  # fmt: skip
                continue
            gyro = stem == "gyroscope"
            pre = "g" if gyro else "a"
            spec = f"t={SENSORLOGGER_TIME}," + ",".join(f"{pre}{c}={c}" for c in "xyz")
            o = ImportOptions(columns=spec, header=True, accel_units="m/s^2",
                              gyro_units="rad/s")  # fmt: skip
            cols, n = _read_table(fh, name, o, need_accel=not gyro)
            notices += n
            known = stem in SENSORLOGGER_FILES
            tables[stem if known else "totalacceleration"] = cols
    acc = tables.get("totalacceleration")
    if acc is None and "accelerometer" in tables:
        if "gravity" not in tables:
            raise InputError("Sensor Logger's Accelerometer.csv has gravity removed and there "
                             "is no Gravity.csv or TotalAcceleration.csv; give the whole export",
                             path=path)  # fmt: skip
        acc = dict(tables["accelerometer"])
        grav = tables["gravity"]
        for k in ("ax", "ay", "az"):
            acc[k] = acc[k] + np.interp(acc["t"], grav["t"], grav[k])
    if acc is None:
        raise InputError("no Sensor Logger accelerometer data (TotalAcceleration.csv or "
                         "Accelerometer.csv + Gravity.csv)", path=path)  # fmt: skip
    cols = _merge(path, acc, tables.get("gyroscope"), notices)
    return _recording(path, cols, notices, rate, {"imported_from": os.path.basename(path),
                                                  "format": "sensorlogger"})  # fmt: skip


# ----------------------------------------------------------------------------- raw capture

RAW_SUFFIXES = (".bin", ".raw")


def looks_like_raw_capture(path: str) -> bool:
    """A byte capture of the board's stream (``live --raw``), told by name or content."""
    from imu_host.protocol.frames import SYNC

    try:
        fh = open_input(path)
    except InputError:
        return False  # the v1 reader names the problem
    with fh:
        head = fh.read(4096)
    if head.startswith(b"# imu-host"):
        return False
    if path.lower().endswith(RAW_SUFFIXES) and SYNC in head:
        return True
    return SYNC in head and (b"\x00" in head or not _is_utf8(head))


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start > len(b) - 4  # a character cut at the end of the sample is fine
    return True


def read_raw_capture(path: str) -> Recording:
    """Replay a raw byte capture through the live path's decoder and assembler: the same
    frames, duplicate filter, unit conversion and file rounding, so the samples are the
    ones a live session fed to its pipeline (and wrote to its recording)."""
    from imu_host.protocol.frames import DeviceInfo, FrameDecoder, SampleAssembler, SampleFrame

    decoder = FrameDecoder()
    assembler = SampleAssembler()
    info: DeviceInfo | None = None
    blocks: list[Samples] = []
    seen: list[tuple[int, int, bytes]] = []
    seen_set: set[tuple[int, int, bytes]] = set()
    duplicates = changed = 0
    with open_input(path) as fh:
        while True:
            try:
                data = fh.read(CHUNK_BYTES)
            except OSError as err:
                raise InputError(f"cannot read: {err.strerror}", path=path) from None
            if not data:
                break
            for frame in decoder.feed(data):
                if isinstance(frame, SampleFrame):
                    key = (frame.seq, frame.t_us, frame.counts.tobytes())
                    if key in seen_set:
                        duplicates += 1
                        continue
                    if len(seen) == 64:  # the live session's window
                        seen_set.discard(seen.pop(0))
                    seen.append(key)
                    seen_set.add(key)
                elif isinstance(frame, DeviceInfo):
                    if info is None:
                        info = frame
                    elif (frame.odr_hz, frame.channels) != (info.odr_hz, info.channels):
                        changed += 1
                else:
                    continue
                for block in assembler.push(frame):
                    if info is not None and info.channels == 3 and block.gyro_dps is not None:
                        block = Samples(block.t_s, block.accel_g, None)
                    blocks.append(as_recorded(block))
    if info is None:
        raise InputError("no device-info frame in the capture; expected bytes of the board's "
                         "stream (live --raw)", path=path)  # fmt: skip
    samples = Samples.concat([b for b in blocks if len(b)])
    if len(samples) == 0:
        raise InputError("no samples in the capture", path=path)
    if samples.gyro_dps is None and info.channels == 6:
        samples = Samples(samples.t_s, samples.accel_g, None)
    notices = []
    if decoder.crc_errors or decoder.malformed:
        notices.append(f"{decoder.crc_errors} CRC errors, {decoder.malformed} malformed frames "
                       "skipped")  # fmt: skip
    if changed:
        notices.append("the board changed its stream mid-capture; kept the first settings")
    if duplicates:
        notices.append(f"{duplicates} duplicate frames ignored")
    rate = check_rate(info.odr_hz, path, "the board's")
    notices += check_samples(samples, rate, None)
    meta = {"imported_from": os.path.basename(path), "format": "raw",
            "device": f"{info.sensor_model} firmware {info.firmware_version}"}  # fmt: skip
    return Recording(path, samples, rate, meta, {}, notices)


__all__ = ["MEX_OPTIONS", "ImportOptions", "import_csv", "import_file", "import_phyphox",
           "import_sensorlogger", "looks_like_raw_capture", "read_raw_capture"]  # fmt: skip
