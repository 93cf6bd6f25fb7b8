"""Property test: whatever the bytes, the CSV readers either load a recording or raise one
InputError whose message is a single bounded line (never another exception)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_host.errors import InputError
from imu_host.io.importers import MEX_OPTIONS, ImportOptions, import_csv
from imu_host.io.limits import MAX_RATE_HZ, MIN_RATE_HZ
from imu_host.io.recording import read_recording

TOKENS = st.sampled_from(
    ["0", "1", "-1", "0.01", "1e154", "-1e308", "nan", "inf", "", " ", "x", "1,5", "\"1\"",
     "2018-11-08 11:34:51.474000", "1e-9", "9" * 400, "\x00", "é", "#", "t_s", "ax_g",
     "gx_dps", "\t", ";", "0x10", "1_0"]
)  # fmt: skip
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-40000, 40000).map(str),
    st.sampled_from(["0", "0.01", "1", "1e154", "nan"]),
)
JUNK_ROW = st.lists(TOKENS, min_size=0, max_size=9).map(",".join)
NUMERIC_ROW = st.integers(1, 8).flatmap(lambda n: st.lists(NUMBER, min_size=n, max_size=n))
ROW = st.one_of(JUNK_ROW, NUMERIC_ROW.map(",".join))


@st.composite
def tables(draw: st.DrawFn) -> list[str]:
    """Mostly well-formed rows (increasing or equal times), some damaged."""
    n = draw(st.integers(0, 30))
    ncol = draw(st.sampled_from([4, 7]))
    t = 0.0
    rows = []
    for _ in range(n):
        t += draw(st.sampled_from([0.0, 0.01, 0.01, 0.01, 25.0, -0.5, 1e-9]))
        vals = draw(st.lists(st.sampled_from(["0", "0.5", "1", "-1", "9.81", "16384", "1e154"]),
                             min_size=ncol - 1, max_size=ncol - 1))  # fmt: skip
        rows.append(",".join([repr(t), *vals]))
    if draw(st.booleans()):
        rows.extend(draw(st.lists(ROW, max_size=3)))
    return rows


HEADERS = st.sampled_from(
    ["t_s,ax_g,ay_g,az_g", "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps", "t_s,ax_g,ax_g,az_g",
     "t_s,ax_g,ay_g,az_g,gx_dps", "t_s,ax_g,ay_g,az_g,extra", ""]
)  # fmt: skip
META = st.sampled_from(
    ["", "# sample_rate_hz: 100\n", "# sample_rate_hz: inf\n", "# sample_rate_hz: 1e-9\n",
     "# bad meta\n", "# sample_rate_hz: 1e9\n"]
)  # fmt: skip


@st.composite
def v1_texts(draw: st.DrawFn) -> bytes:
    magic = draw(st.sampled_from(["# imu-host recording v1\n", "", "# imu-host recording v2\n"]))
    rows = draw(st.one_of(st.lists(ROW, max_size=30), tables()))
    body = magic + draw(META) + draw(HEADERS) + "\n" + "\n".join(rows)
    if draw(st.booleans()):
        body += "\n"
    raw = body.encode("utf-8")
    if draw(st.booleans()):
        junk = draw(st.binary(max_size=20))
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + junk + raw[at:]
    return raw


def _check(fn, raw: bytes) -> None:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.csv"
        p.write_bytes(raw)
        try:
            rec = fn(p)
        except InputError as err:
            msg = str(err)
            assert "\n" not in msg and "\r" not in msg, msg
            assert len(msg) < 600, msg
            return
    s = rec.samples
    assert len(s) >= 1 and math.isfinite(rec.sample_rate_hz)
    assert MIN_RATE_HZ <= rec.sample_rate_hz <= MAX_RATE_HZ
    assert np.isfinite(s.t_s).all() and np.isfinite(s.accel_g).all()
    assert (np.diff(s.t_s) >= 0).all()


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v1_texts())
def test_v1_reader_only_raises_one_line_input_errors(raw):
    _check(read_recording, raw)


OPTIONS = st.builds(
    ImportOptions,
    columns=st.sampled_from(["t,ax,ay,az", "t,ax,ay,az,gx,gy,gz", "-,t,ax,ay,az", "t,ax,ay,az,az",
                             "t=t_s,ax=ax_g,ay=ay_g,az=az_g", "t,ax", "q,ax,ay,az"]),
    header=st.booleans(),
    time=st.sampled_from(["s", "ms", "us", "ns", "iso", "h"]),
    accel_units=st.sampled_from(["g", "m/s^2", "counts"]),
    gyro_units=st.sampled_from(["dps", "rad/s", "counts"]),
    delimiter=st.sampled_from([",", ";", "\t", " ", ""]),
    sample_rate_hz=st.sampled_from([None, 100.0, math.inf, 0.0, 1e-9]),
    accel_lsb_per_g=st.sampled_from([None, 16384.0, 0.0, math.nan]),
    gyro_lsb_per_dps=st.sampled_from([None, 131.0]),
    decimal=st.sampled_from([".", ","]),
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v1_texts(), OPTIONS)
def test_foreign_reader_only_raises_one_line_input_errors(raw, options):
    _check(lambda p: import_csv(p, options), raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["2018-11-08 11:34:51.474000", "x", "", "2018-13-40"]),
                          ROW), max_size=20))  # fmt: skip
def test_mex_reader_only_raises_one_line_input_errors(rows):
    raw = "\n".join(f"{t},{r}" for t, r in rows).encode()
    _check(lambda p: import_csv(p, MEX_OPTIONS), raw)
