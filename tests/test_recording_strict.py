"""The v1 reader's strict-row readers (the numpy one and its compiled twin) against
Python's ``float()`` of each field, against each other, and the whole reader with each of
them against the general reader (loadtxt / line by line): the same arrays, notices and
error lines, whatever the block boundaries."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_csv import v1_texts

from imu_host.errors import InputError
from imu_host.io import recording as rec
from imu_host.io import source

GOLDEN = sorted((Path(__file__).resolve().parents[1] / "recordings").glob("*.csv"))
COLS7 = ["t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"]
BOUNDS7 = np.array([rec.BOUNDS[c] for c in COLS7])

needs_c = pytest.mark.skipif(
    rec._strict_csv is None and not os.environ.get("CI"),
    reason="the compiled reader is not built here (pip install -e . builds it)",
)


def by_float(raw: bytes) -> np.ndarray:
    """The definition: Python's float() of each field."""
    rows = [[float(x) for x in line.split(",")] for line in raw.decode().splitlines()]
    return np.array(rows, dtype=np.float64)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


def readers() -> list:
    out = [rec._exact_block_numpy]
    if rec._strict_csv is not None:
        out.append(rec._exact_block_c)
    return out


def body_of(path: Path) -> tuple[bytes, int]:
    """The data rows of a v1 file and their column count."""
    lines = path.read_bytes().split(b"\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith(b"t_s"))
    return b"\n".join(lines[k + 1 :]), len(lines[k].split(b","))


@needs_c
def test_the_compiled_reader_is_built():
    """CI installs as the README says (pip install -e .), which builds it."""
    assert rec._strict_csv is not None
    assert rec._exact_block is rec._exact_block_c


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_rows_read_exactly_as_float_reads_them(path):
    raw, ncol = body_of(path)
    want = by_float(raw)
    bounds = BOUNDS7[:ncol]
    for read in readers():
        got = read(raw, ncol, bounds)
        assert got is not None, read.__name__
        assert same_bits(np.ascontiguousarray(got), want), read.__name__


FIELD = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False).flatmap(
        lambda x: st.sampled_from(["%.6f", "%.4f", "%.1f", "%.8f", "%.9f", "%g", "%.0f", "%r"]).map(
            lambda f: f % x
        )
    ),
    st.sampled_from(["-0.000000", "0.0", "00.5", "-.5", "1.", "99999999.99999999", "12345678.1234567",
                     "1234567.12345678", "123456789.1", "1e3", "nan", "inf", "1_0.0", " 1.0", "+1.0",
                     "0x1.0", "--1.0", "1.-0", "1.0.0", "", "1001.0", "-100001.0"]),
)  # fmt: skip


@st.composite
def blocks(draw: st.DrawFn) -> tuple[bytes, int]:
    ncol = draw(st.sampled_from([1, 4, 7]))
    rows = draw(st.lists(st.lists(FIELD, min_size=ncol, max_size=ncol), min_size=0, max_size=12))
    text = "".join(",".join(r) + "\n" for r in rows)
    if draw(st.booleans()) and text:  # damage one byte
        i = draw(st.integers(0, len(text) - 1))
        text = (
            text[:i]
            + draw(st.sampled_from(["", ",", "\n", "\r", "-", ".", " ", "#", "9", "é"]))
            + text[i + 1 :]
        )
    return text.encode(), ncol  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_strict_readers_agree_and_equal_float(block):
    raw, ncol = block
    bounds = np.array([1e3] * ncol)
    got = [read(raw, ncol, bounds) for read in readers()]
    if got[0] is None:
        assert all(g is None for g in got)
        return
    want = by_float(raw)
    assert (np.abs(want) <= bounds).all()
    for g in got:
        assert g is not None and same_bits(np.ascontiguousarray(g), want)


def test_strict_readers_refuse_what_float_reads_differently_or_not_at_all():
    """What loadtxt and float() disagree on, or the general reader must name, is left to
    the general reader."""
    for text in [b"1_0.0\n", b"nan\n", b"inf\n", b" 1.0\n", b"0x10\n", b"1e3\n", b"1.0\r\n",
                 b"1.0", b"\n", b"1.0\n\n", b"#1.0\n", b"1\n", b"+1.0\n", b"1234567890123.45\n",
                 b"2000.0\n"]:  # fmt: skip
        for read in readers():
            assert read(text, 1, np.array([1e3])) is None, (read.__name__, text)


MODES = ["compiled", "numpy", "general"]


def read_with(mode: str, path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch):
    """read_recording through one strict reader (or none), in blocks of ``chunk`` bytes:
    the arrays and notices, or the error line."""
    exact = {"compiled": rec._exact_block_c if rec._strict_csv is not None else None,
             "numpy": rec._exact_block_numpy, "general": lambda *a: None}[mode]  # fmt: skip
    if exact is None:
        pytest.skip("the compiled reader is not built here")
    monkeypatch.setattr(rec, "_exact_block", exact)
    monkeypatch.setattr(rec, "raw_line_blocks", lambda fh, p: source.raw_line_blocks(fh, p, chunk))
    try:
        r = rec.read_recording(path)
    except InputError as err:
        return str(err)
    s = r.samples
    g = None if s.gyro_dps is None else s.gyro_dps.tobytes()
    extra = {k: list(v) for k, v in r.extra.items()}
    return s.t_s.tobytes(), s.accel_g.tobytes(), g, r.notices, r.meta, extra, r.sample_rate_hz


@pytest.mark.parametrize("path", GOLDEN[::4], ids=lambda p: p.name)
def test_golden_recordings_load_the_same_through_every_reader(path, monkeypatch):
    want = read_with("general", path, source.CHUNK_BYTES, monkeypatch)
    for mode in ("numpy", "compiled"):
        for chunk in (source.CHUNK_BYTES, 4096):
            assert read_with(mode, path, chunk, monkeypatch) == want, (mode, chunk)


BAD_BODIES = [
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,0.2\n",  # short row
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,zz,1.0\n",  # not a number
    "0.000000,0.1,0.2,1.0\n0.020000,0.1,0.2,1.0\n0.010000,0.1,0.2,1.0\n",  # backwards
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,2000.0,1.0\n",  # beyond the bound
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,0.2,1.0\n0.020000,0.1,0.",  # cut-off last row
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,0.2,1.0\n0.020000,0.1,0.2,1.0",  # no final newline
    "0.000000,0.1,0.2,1.0\n0.010000,0.1,0.2,1.0\n0.005000,0.1,0.2,1.0\n0.02,\xff",  # both
    "0.000000,0.1,0.2,1.0\n# a comment\n\n0.010000,-0.1,0.2,1.0\r\n",
]


@pytest.mark.parametrize("k", range(len(BAD_BODIES)))
def test_bad_rows_give_the_same_line_through_every_reader(tmp_path, monkeypatch, k):
    p = tmp_path / "f.csv"
    head = "# imu-host recording v1\n# sample_rate_hz: 100\nt_s,ax_g,ay_g,az_g\n"
    p.write_bytes((head + BAD_BODIES[k]).encode("latin-1"))  # '\xff': one non-UTF-8 byte
    for chunk in (1 << 20, 64, 100):
        want = read_with("general", p, chunk, monkeypatch)
        for mode in ("numpy", "compiled"):
            assert read_with(mode, p, chunk, monkeypatch) == want, (mode, chunk)


@st.composite
def strict_files(draw: st.DrawFn) -> bytes:
    """v1 files of mostly strict rows (the writer's formats and others), some damaged."""
    ncol = draw(st.sampled_from([4, 7]))
    header = ",".join(COLS7[:ncol])
    fmts = st.sampled_from(["%.6f", "%.4f", "%.2f", "%g", "%.9f"])
    rows, t = [], 0.0
    for _ in range(draw(st.integers(1, 60))):
        t += draw(st.sampled_from([0.01, 0.01, 0.0, -0.02]))
        vals = [draw(fmts) % draw(st.floats(-20, 20)) for _ in range(ncol - 1)]
        rows.append(",".join([f"{t:.6f}", *vals]))
    if draw(st.booleans()):
        i = draw(st.integers(0, len(rows) - 1))
        rows[i] = draw(st.sampled_from(["", "# c", "1,2", rows[i] + " ", rows[i].replace(".", "", 1),
                                        "nan," * (ncol - 1) + "1", "\r", rows[i] + ",x"]))  # fmt: skip
    body = f"# imu-host recording v1\n# sample_rate_hz: 100\n{header}\n" + "\n".join(rows)
    if draw(st.booleans()):
        body += "\n"
    else:  # maybe cut inside the last row
        body = body[: len(body) - draw(st.integers(0, 10))]
    return body.encode()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(v1_texts(), strict_files()), st.sampled_from([1 << 20, 64, 333]))
def test_fuzzed_files_load_or_fail_the_same_through_every_reader(raw, chunk):
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        p = Path(d) / "f.csv"
        p.write_bytes(raw)
        want = read_with("general", p, chunk, mp)
        for mode in ("numpy", "compiled"):
            if mode == "compiled" and rec._strict_csv is None:
                continue
            assert read_with(mode, p, chunk, mp) == want, mode
