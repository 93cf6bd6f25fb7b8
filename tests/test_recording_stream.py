"""The streaming v1 reader (``open_recording``) and the streamed replay against the
whole-file reader (``read_recording``) and the in-memory analysis: the same values bit for
bit, the same error line for a bad row wherever it is, the same notices, the same results;
and a streamed replay does not hold the recording's samples."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_host.analysis import analyze, analyze_path, analyze_stream
from imu_host.cli.main import main
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io import recording as rec
from imu_host.io import source
from imu_host.io.plausibility import SampleChecks, check_samples, checked_step
from imu_host.io.recording import open_recording, read_recording, write_recording

GOLDEN = sorted((Path(__file__).resolve().parents[1] / "recordings").glob("*.csv"))
GYRO = Path(__file__).resolve().parents[1] / "recordings" / "controlled_medium_s1.csv"


def small_reads(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Read files in blocks of ``chunk`` bytes (many block boundaries in a small file)."""
    monkeypatch.setattr(rec, "raw_line_blocks", lambda fh, p: source.raw_line_blocks(fh, p, chunk))


def by_read(path: Path):
    """What read_recording gives: arrays (as bytes), rate, meta, notices; or the error."""
    try:
        r = read_recording(path)
    except InputError as err:
        return str(err)
    s = r.samples
    g = None if s.gyro_dps is None else s.gyro_dps.tobytes()
    return s.t_s.tobytes(), s.accel_g.tobytes(), g, r.sample_rate_hz, r.meta, r.notices


def by_stream(path: Path, size: int):
    """The same from the stream, its blocks of ``size`` samples put together."""
    try:
        with open_recording(path) as st_:
            blocks = list(st_.blocks(size))
            assert all(len(b) == size for b in blocks[:-1])
            s = Samples.concat(blocks)
            g = None if s.gyro_dps is None else s.gyro_dps.tobytes()
            assert st_.samples_read == len(s)
            return (
                s.t_s.tobytes(),
                s.accel_g.tobytes(),
                g,
                st_.sample_rate_hz,
                st_.meta,
                st_.notices,
            )
    except InputError as err:
        return str(err)


@pytest.mark.parametrize("path", GOLDEN[::3], ids=lambda p: p.name)
def test_golden_recordings_stream_to_the_same_samples(path, monkeypatch):
    want = by_read(path)
    assert not isinstance(want, str)
    for chunk in (source.RAW_CHUNK_BYTES, 5000):
        small_reads(monkeypatch, chunk)
        for size in (16384, 1000, 1):
            if size == 1 and chunk != 5000:
                continue
            assert by_stream(path, size) == want, (chunk, size)


def summary_text(a) -> str:
    return json.dumps(a.summary)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_recordings_streamed_analyse_as_in_memory(path, monkeypatch):
    """analyze_path (streamed) gives the in-memory analysis: reps, events, summary, notices."""
    whole = read_recording(path)
    want = analyze(whole)
    got = analyze_path(str(path))
    assert got.recording is None  # it was streamed
    assert summary_text(got) == summary_text(want)
    assert got.reps == want.reps and got.events == want.events
    assert got.notices == whole.notices
    assert np.array_equal(got.angle_t_s, want.angle_t_s)
    assert np.array_equal(got.angle_deg, want.angle_deg, equal_nan=True)


def test_streamed_analysis_with_small_reads_and_feeds(monkeypatch):
    path = GOLDEN[0]
    want = analyze(read_recording(path), chunk=777)
    small_reads(monkeypatch, 3000)
    with open_recording(path) as s:
        got = analyze_stream(s, chunk=777)
    assert summary_text(got) == summary_text(want)


# ----------------------------------------------------------------- damaged files

HEAD = "# imu-host recording v1\n# sample_rate_hz: 100\nt_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"


def rows(n: int) -> list[str]:
    t = np.arange(n) / 100.0
    return [f"{x:.6f},0.0100,-0.2000,0.9800,0.10,-0.20,0.05" for x in t]


def damaged(
    tmp_path: Path, where: int, how: str, n: int = 6000, head: str = HEAD
) -> tuple[Path, int]:
    """A v1 file of ``n`` rows with row ``where`` damaged ``how``, and that row's line."""
    r = rows(n)
    if how == "text":
        r[where] = r[where].replace("0.9800", "0.98zz")
    elif how == "short":
        r[where] = r[where].rsplit(",", 1)[0]
    elif how == "backwards":  # (row 0 cannot go back: then row 1 does)
        where = max(where, 1)
        r[where] = "-1.000000," + r[where].split(",", 1)[1]
    elif how == "bound":
        r[where] = r[where].replace("0.9800", "2000.0")
    elif how == "nul":
        r[where] = r[where].replace("0.98", "0.\x0098")
    elif how == "cut":
        r = r[: where + 1]
        r[-1] = r[-1][:12]
        p = tmp_path / f"{how}_{where}.csv"
        p.write_text(head + "\n".join(r))  # no final newline: a cut-off last row
        return p, where + 4
    p = tmp_path / f"{how}_{where}.csv"
    p.write_text(head + "\n".join(r) + "\n")
    return p, where + 4


WHERE = [0, 5, 1999, 2001, 4100, 5999]  # in the first block, around the rate's look-ahead, last
HOW = ["text", "short", "backwards", "bound", "nul"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("where", WHERE)
def test_a_bad_row_anywhere_gives_the_same_error_line(tmp_path, monkeypatch, how, where):
    p, line = damaged(tmp_path, where, how)
    want = by_read(p)
    assert isinstance(want, str) and want.split(" ")[0] in (f"{p}:{line},", f"{p}:{line}:"), want
    for chunk in (source.RAW_CHUNK_BYTES, 4096, 333):
        small_reads(monkeypatch, chunk)
        assert by_stream(p, 1024) == want, chunk


@pytest.mark.parametrize("where", [3, 2500, 5999])
def test_a_cut_off_last_row_is_the_same_notice(tmp_path, monkeypatch, where):
    p, _ = damaged(tmp_path, where, "cut")
    want = by_read(p)
    assert not isinstance(want, str) and any("incomplete" in n for n in want[-1])
    for chunk in (source.RAW_CHUNK_BYTES, 1000):
        small_reads(monkeypatch, chunk)
        assert by_stream(p, 700) == want


@pytest.mark.parametrize(
    "head",
    [
        "# imu-host recording v1\nt_s,ax_g,ay_g,az_g\n",  # no declared rate: from the times
        "# imu-host recording v1\n# sample_rate_hz: fast\nt_s,ax_g,ay_g,az_g\n",  # bad rate
        "# imu-host recording v1\n# sample_rate_hz: 0.01\nt_s,ax_g,ay_g,az_g\n",  # implausible
    ],
)
@pytest.mark.parametrize("bad_row", [None, 10, 4000])
def test_rate_errors_come_after_any_bad_row_as_in_read_recording(
    tmp_path, monkeypatch, head, bad_row
):
    """With no declared rate the stream reads ahead for the times; a bad declared rate is
    reported only when every row is fine (as read_recording, which reads all rows first)."""
    r = [f"{i * 0.01:.6f},0.0100,-0.2000,0.9800" for i in range(5000)]
    if bad_row is not None:
        r[bad_row] = "x,y"
    p = tmp_path / "f.csv"
    p.write_text(head + "\n".join(r) + "\n")
    want = by_read(p)
    if bad_row is not None:
        line = bad_row + len(head.splitlines()) + 1
        assert isinstance(want, str) and f"f.csv:{line}: row has 2 fields" in want
    for chunk in (source.RAW_CHUNK_BYTES, 4096):  # (4096: row 4000 is past the look-ahead)
        small_reads(monkeypatch, chunk)
        assert by_stream(p, 512) == want


def test_times_that_give_no_rate_and_files_with_no_samples(tmp_path):
    for body in ["", "# only a comment\n", "0.5,0,0,1\n0.5,0,0,1\n", "0,0,0,1\n0.000001,0,0,1\n"]:
        p = tmp_path / "f.csv"
        p.write_text("# imu-host recording v1\nt_s,ax_g,ay_g,az_g\n" + body)
        want = by_read(p)
        assert isinstance(want, str), body
        assert by_stream(p, 100) == want


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n=st.integers(1, 3000),
    damage=st.lists(
        st.tuples(st.integers(0, 2999), st.sampled_from(["x", "", "#c", "1,2"])), max_size=2
    ),  # fmt: skip
    declared=st.booleans(),
    chunk=st.sampled_from([1 << 18, 500, 97]),
    size=st.sampled_from([1, 64, 5000]),
)
def test_fuzzed_files_stream_or_fail_as_they_read(n, damage, declared, chunk, size):
    import tempfile

    r = [f"{i * 0.01:.6f},{np.sin(i) * 0.3:.4f},-0.2000,0.9800" for i in range(n)]
    for i, text in damage:
        if i < n:
            r[i] = text
    head = "# imu-host recording v1\n" + ("# sample_rate_hz: 100\n" if declared else "")
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        p = Path(d) / "f.csv"
        p.write_text(head + "t_s,ax_g,ay_g,az_g\n" + "\n".join(r) + "\n")
        small_reads(mp, chunk)
        assert by_stream(p, size) == by_read(p)


# ----------------------------------------------------------------- the CLI


def test_replay_of_a_file_bad_halfway_prints_one_line_and_nothing_else(tmp_path, capsys):
    p, line = damaged(tmp_path, 40000, "text", n=60000)  # after two feeds of 16384
    before = p.read_bytes()
    db = tmp_path / "h.sqlite3"
    assert main(["replay", str(p), "--json", "--db", str(db)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.count("\n") == 1 and cap.err.startswith("imu-host: error: ")
    assert f"{p}:{line}, field 'az_g'" in cap.err
    assert not db.exists()  # nothing saved
    assert p.read_bytes() == before  # nothing touched


def test_replay_json_streamed_equals_the_in_memory_path(tmp_path, capsys, monkeypatch):
    """The whole command: streamed (the default for a v1 file) and loaded whole (the
    streaming switched off) print the same bytes, warnings included."""
    import imu_host.analysis as analysis

    sim = read_recording(GYRO).samples
    p = tmp_path / "long.csv"  # m/s^2 read as g: a warning, and > 3 x max_checked samples
    k = 10
    n = len(sim)
    t = np.concatenate([sim.t_s + j * (sim.t_s[-1] + 0.01) for j in range(k)])
    write_recording(p, Samples(t, np.tile(sim.accel_g * 9.80665, (k, 1)),
                               np.tile(sim.gyro_dps, (k, 1))), 100.0)  # fmt: skip
    assert k * n > 3 * 20_000
    outs = []
    for streamed in (True, False):
        if not streamed:
            monkeypatch.setattr(analysis, "starts_with_magic", lambda _p: False)
        assert main(["replay", str(p), "--json", "--no-save"]) == 0
        cap = capsys.readouterr()
        outs.append((cap.out, cap.err))
    assert outs[0] == outs[1]
    assert "m/s^2" in outs[0][1]


# ----------------------------------------------------------------- the unit checks


def test_checks_fed_in_blocks_keep_exactly_the_strided_samples():
    rng = np.random.default_rng(3)
    n = 150_001
    acc = rng.normal(0, 1, (n, 3))
    s = Samples(np.arange(n) / 100.0, acc, rng.normal(0, 5, (n, 3)))
    step = checked_step(n, 20_000)
    assert step == 4  # 150001 // 20000 = 7: the power of two below it
    for cuts in ([], [1, 2, 3, 40_000, 40_001, 149_999], sorted(rng.integers(0, n, 30))):
        c = SampleChecks(100.0)
        for a, b in zip([0, *cuts], [*cuts, n], strict=True):
            c.add(s.slice(a, b))
        kept = np.concatenate([a for _, a, _ in c._kept])
        assert kept.tobytes() == acc[::step].tobytes()
        assert all(i % step == 0 for i, a, _ in c._kept if len(a))


@pytest.mark.parametrize("seed", range(4))
def test_checks_in_blocks_say_what_the_whole_check_says(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 90_000))
    t = np.cumsum(rng.choice([0.01, 0.01, 0.01, 0.05, 25.0], n, p=[0.6, 0.2, 0.1, 0.0999, 0.0001]))
    acc = rng.normal(0, 1, (n, 3)) + [0, 0, rng.choice([1.0, 9.8])]
    s = Samples(t, acc, rng.normal(0, rng.choice([1.0, 3000.0]), (n, 3)))
    declared = [None, 100.0, 50.0][int(rng.integers(3))]
    want = check_samples(s, 100.0, declared)
    c = SampleChecks(100.0, declared)
    cuts = sorted(set(rng.integers(1, n, 20).tolist()))
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        c.add(s.slice(a, b))
    assert c.notices() == want
    assert want  # each seed's data is implausible in some way


# ----------------------------------------------------------------- memory


def test_a_streamed_replay_does_not_hold_the_samples(tmp_path, monkeypatch):
    """The peak of Python allocations while streaming a 33-minute recording (small reads and
    feeds) stays well below what its samples take as float64, which the whole-file path
    holds (checked too, so this test can fail)."""
    sim = read_recording(GYRO).samples
    k = 30
    t = np.concatenate([sim.t_s + j * (sim.t_s[-1] + 0.01) for j in range(k)])
    p = tmp_path / "long.csv"
    write_recording(p, Samples(t, np.tile(sim.accel_g, (k, 1)), np.tile(sim.gyro_dps, (k, 1))),
                    100.0)  # fmt: skip
    samples_bytes = len(t) * 7 * 8
    small_reads(monkeypatch, 1 << 15)
    peaks = []
    for streamed in (True, False):
        tracemalloc.start()
        try:
            if streamed:
                with open_recording(p) as s:
                    analyze_stream(s, chunk=2048, trace=False)
            else:
                analyze(read_recording(p), chunk=2048, trace=False)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] > samples_bytes  # the whole-file path holds them
    assert peaks[0] < samples_bytes / 2, (peaks, samples_bytes)
