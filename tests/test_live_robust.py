"""Live sessions that survive hostile boards, full disks and closed terminals (issue 15)
and that fill short BLE outages from the board's backfill ring (issue 11).

The board side is the in-process board's own encoder on the demo motion script (or the
firmware itself for the signal tests); truth comes from the motion script
(``motion.truth``), from the bytes we chose to corrupt / repeat / withhold, or from the
disk size we gave, never from the session's output.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_host.core.events import FAST_DROP, GapEvent, RepEvent
from imu_host.io.recording import read_recording
from imu_host.live.session import LiveOptions, LiveSession
from imu_host.live.stream import SampleBlock, StreamNotice, StreamStage
from imu_host.protocol import frames as p
from imu_host.sim import board as sim_board
from imu_host.transport.base import Backoff, LinkLost, Transport

SPF = 5
ODR = 100.0
DT_US = 10_000
LOST = object()  # in a chunk script: the link drops here


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


@pytest.fixture(scope="module")
def script_data():
    return sim_board.script_samples()


@pytest.fixture(scope="module")
def board(script_data):
    return sim_board.SimulatedBoard(None, *script_data, samples_per_frame=SPF)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class ScriptedLink(Transport):
    """Hands the host a fixed list of chunks, one per read, 0.05 s of fake wall clock
    each; ``LOST`` in the list drops the link (the next read reconnects)."""

    description = "scripted board"

    def __init__(self, clock: FakeClock, chunks: list, step_s: float = SPF / ODR) -> None:
        self.clock = clock
        self.chunks = list(chunks)
        self.pos = 0
        self.step_s = step_s

    @property
    def done(self) -> bool:
        return self.pos >= len(self.chunks)

    def open(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    def read(self, timeout: float) -> bytes:
        self.clock.t += self.step_s
        if self.done:
            return b""
        c = self.chunks[self.pos]
        self.pos += 1
        if c is LOST:
            raise LinkLost("cable pulled")
        return c

    def close(self) -> None:
        pass


def frames(board, seq0=0, t0_us=1_000, start=0, stop=None, backfill=False) -> list[bytes]:
    c = board.counts
    stop = len(c) if stop is None else stop
    return [
        p.encode_samples(
            seq0 + i, t0_us + i * DT_US, DT_US, c[i : min(stop, i + SPF)], backfill=backfill
        )
        for i in range(start, stop, SPF)
    ]


def session_on(chunks, tmp_path: Path | None, **kw) -> tuple[LiveSession, dict, io.StringIO]:
    clock = FakeClock()
    link = ScriptedLink(clock, chunks)
    kw.setdefault("record_path", tmp_path / "rec.csv" if tmp_path is not None else None)
    kw.setdefault("backoff", Backoff(initial=0.0, maximum=0.0))
    kw.setdefault("mode", "lines")
    kw.setdefault("quiet", True)
    out = io.StringIO()
    s = LiveSession(link, LiveOptions(**kw), out=out, err=io.StringIO(), clock=clock)
    summary = s.run(lambda: link.done)
    return s, summary, out


def samples_of(items) -> list:
    return [i.samples for i in items if isinstance(i, SampleBlock)]


def reps_of(events) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.rep.side, e.rep.flags) for e in events if isinstance(e, RepEvent)]


def assert_replay_reproduces(session: LiveSession, path) -> None:
    from imu_host.analysis import analyze

    a = analyze(read_recording(path))
    assert [r.to_dict() for r in a.reps] == [
        e.rep.to_dict() for e in session.events if isinstance(e, RepEvent)
    ]


def assert_truth(session: LiveSession, truth: dict) -> None:
    got = [e.rep for e in session.events if isinstance(e, RepEvent)]
    assert [r.side for r in got] == [r["side"] for r in truth["reps"]]
    assert [FAST_DROP in r.flags for r in got] == [r["fast"] for r in truth["reps"]]


# ---------------------------------------------------------------- 1. disk full


class SmallDisk(io.RawIOBase):
    """A file on a disk with ``room`` bytes free: writes take what fits, then ENOSPC
    (what write(2) does on a full disk)."""

    def __init__(self, path: Path, room: int) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.room = room

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, b) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        data = bytes(b)[: self.room]
        n = os.write(self.fd, data)
        self.room -= n
        return n

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def test_disk_full_keeps_counting_says_so_once_and_keeps_the_file_valid(
    monkeypatch, tmp_path, board, truth
):
    import imu_host.io.recording as recording

    room = 40_000  # header + about 650 rows of the ~60 s script
    monkeypatch.setattr(
        recording,
        "create_exclusive",
        lambda path, what, text=False: io.TextIOWrapper(
            io.BufferedWriter(SmallDisk(Path(path), room)), encoding="utf-8", newline="\n"
        ),
    )
    s, summary, out = session_on([board.info_bytes(True), *frames(board)], tmp_path)
    assert_truth(s, truth)  # counting went on to the end
    assert summary["reps_total"] == len(truth["reps"])
    text = out.getvalue()
    assert text.count("recording stopped") == 1 and "No space left" in text
    rec = read_recording(tmp_path / "rec.csv")  # valid: whole rows only
    assert os.path.getsize(tmp_path / "rec.csv") <= room
    n = len(rec.samples)
    assert 300 < n < len(board.counts)
    assert np.allclose(np.diff(rec.samples.t_s), 1 / ODR)  # a prefix, in order
    assert rec.samples.t_s[0] == 0.0
    live = summary["live"]
    assert live["recording"] == str(tmp_path / "rec.csv")
    assert live["recording_stopped"]["samples"] == n
    assert "No space left" in live["recording_stopped"]["reason"]


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
    )
    return r.returncode == 0


def test_disk_full_on_a_real_small_tmpfs(tmp_path, board, truth):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "64k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        s, summary, out = session_on(
            [board.info_bytes(True), *frames(board)], None, record_path=disk / "rec.csv"
        )
        assert summary["reps_total"] == len(truth["reps"])
        assert out.getvalue().count("recording stopped") == 1
        rec = read_recording(disk / "rec.csv")
        assert 300 < len(rec.samples) < len(board.counts)
        assert np.allclose(np.diff(rec.samples.t_s), 1 / ODR)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------- 2. info frames


def info_of(board, **changes) -> bytes:
    info = p.decode_all(board.info_bytes(True))[0]
    return p.encode_info(replace(info, **changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"odr_hz": 0.001},
        {"odr_hz": 4_000_000.0},
        {"accel_g_per_lsb": float("nan")},
        {"gyro_dps_per_lsb": float("inf")},
        {"accel_g_per_lsb": -1.2e-4},
        {"axis_map": (1, 1, 3)},
        {"axis_map": (0, 2, 3)},
        {"axis_map": (4, 2, 3)},
    ],
)
def test_hostile_info_frames_are_refused_and_counted(board, changes):
    dec = p.FrameDecoder()
    assert dec.feed(info_of(board, **changes)) == []
    assert dec.malformed == 1 and dec.info_rejected == 1
    assert dec.last_rejected  # says why
    # the good info right after it decodes
    assert isinstance(dec.feed(board.info_bytes(True))[0], p.DeviceInfo)


def test_session_never_sees_a_hostile_info_and_replay_accepts_the_recording(tmp_path, board, truth):
    bad = [info_of(board, accel_g_per_lsb=float("nan")), info_of(board, odr_hz=0.001)]
    chunks = [*bad, board.info_bytes(True), *frames(board)]
    for i in range(40, len(chunks), 60):  # a hostile info now and then mid-session
        chunks.insert(i, bad[i % 2])
    s, summary, _ = session_on(chunks, tmp_path)
    assert_truth(s, truth)
    assert summary["live"]["info_rejected"] == len([c for c in chunks if c in bad])
    rec = read_recording(tmp_path / "rec.csv")
    assert np.isfinite(rec.samples.accel_g).all() and rec.sample_rate_hz == ODR
    assert_replay_reproduces(s, tmp_path / "rec.csv")


@pytest.mark.parametrize("change", ["channels", "rate"])
def test_changed_stream_mid_session_keeps_the_original_and_refuses_its_frames(
    tmp_path, board, truth, change
):
    """Policy (docs/PROTOCOL.md): the first info fixes the session's stream; frames of a
    changed stream are refused (counted, one notice) until the board is back."""
    n = len(board.counts)
    cut, back = 1500, 2000  # samples 1500-1999 sent in the changed stream
    if change == "channels":
        b3 = sim_board.SimulatedBoard(None, *sim_board.script_samples()[:1], None)
        changed_info = info_of(b3, seq_next=cut, stream_start=True)
        changed = [
            p.encode_samples(i, 1_000 + i * DT_US, DT_US, b3.counts[i : i + SPF])
            for i in range(cut, back, SPF)
        ]
    else:
        changed_info = info_of(board, odr_hz=50.0, seq_next=cut, stream_start=True)
        changed = [  # half the rate: every other sample, 20 ms apart
            p.encode_samples(
                cut + k * SPF, 1_000 + cut * DT_US + k * SPF * 20_000, 20_000,
                board.counts[i : i + 2 * SPF : 2],
            )
            for k, i in enumerate(range(cut, back, 2 * SPF))
        ]  # fmt: skip
    chunks = [
        board.info_bytes(True),
        *frames(board, stop=cut),
        changed_info,
        *changed,
        info_of(board, seq_next=back, stream_start=False),
        *frames(board, start=back),
    ]
    s, summary, out = session_on(chunks, tmp_path)
    assert out.getvalue().count("board changed its stream") == 1
    live = summary["live"]
    assert live["samples_refused"] == sum(f.n for f in p.decode_all(b"".join(changed))
                                          if isinstance(f, p.SampleFrame))  # fmt: skip
    assert live["samples"] == n - (back - cut)
    rec = read_recording(tmp_path / "rec.csv")
    assert rec.sample_rate_hz == ODR and rec.samples.gyro_dps is not None
    assert len(rec.samples) == n - (back - cut)
    gaps = [e for e in s.events if isinstance(e, GapEvent)]
    assert len(gaps) == 1 and gaps[0].start_s == pytest.approx((cut - 1) / ODR, abs=0.02)
    # every rep clear of the refused stretch is still found on its side
    got = [e.rep for e in s.events if isinstance(e, RepEvent)]
    for w in truth["reps"]:
        if w["end_s"] < cut / ODR or w["start_s"] > back / ODR:
            assert len([g for g in got if g.start_s < w["peak_s"] < g.end_s + 0.5]) == 1
    assert_replay_reproduces(s, tmp_path / "rec.csv")


# ---------------------------------------------------------------- 3. board text


def test_control_characters_from_the_board_never_reach_the_recording(tmp_path, board, truth):
    nasty = "MPU\x1b[2J\r\n#\x00\x07"
    info = p.decode_all(board.info_bytes(True))[0]
    data = p.encode_info(info, sensor_code=nasty)
    decoded = p.decode_all(data)[0]
    assert decoded.sensor_model.isprintable()
    s, _, _ = session_on([data, *frames(board)], tmp_path)
    raw = (tmp_path / "rec.csv").read_bytes()
    header = raw[: raw.index(b"t_s,")]
    assert all(32 <= c < 127 for c in header.replace(b"\n", b""))
    rec = read_recording(tmp_path / "rec.csv")  # readable
    assert len(rec.samples) == len(board.counts)
    assert "MPU" in rec.meta.get("device", "")


# ---------------------------------------------------------------- 5. late duplicate


def test_a_duplicate_frame_150_frames_late_is_not_a_board_restart(board, truth):
    fr = frames(board)
    chunks = [board.info_bytes(True), *fr[:200], fr[50], *fr[200:]]
    stage = StreamStage()
    items = []
    for k, c in enumerate(chunks):
        items += stage.feed(c, k * SPF / ODR)
    assert [i.state for i in items if isinstance(i, StreamNotice)] == []
    t = np.concatenate([i.samples.t_s for i in items if isinstance(i, SampleBlock)])
    assert len(t) == len(board.counts)  # nothing invented
    assert np.allclose(np.diff(t), 1 / ODR)  # no fake gap
    q = stage.update_quality(10.0)
    assert q.device_resets == 0 and q.duplicates == 1


def test_a_stale_frame_from_the_current_stream_is_dropped_by_the_assembler(board):
    """Sequence and clock both went back together, consistently with the stream: a
    late frame, not a restart (a restart starts a new clock)."""
    asm = p.SampleAssembler()
    fr = p.decode_all(b"".join([board.info_bytes(True), *frames(board, stop=1000)]))
    out = asm.feed(fr[:150])
    late = replace(fr[60], counts=fr[60].counts + 1)  # same seq and clock, other counts
    assert asm.push(late) == []
    out += asm.feed(fr[150:])
    t = np.concatenate([b.t_s for b in out])
    assert len(t) == 1000 and asm.device_resets == 0 and asm.late_frames == 1
    assert np.allclose(np.diff(t), 1 / ODR)


# ---------------------------------------------------------------- 6. options, no data


def _parse_live(*argv):
    import argparse

    from imu_host.cli import live as cmd_live

    ap = argparse.ArgumentParser()
    cmd_live.add_arguments(ap)
    return ap.parse_args(list(argv))


# --duration nan / inf / 0 / -1: refused with one line in every command, before anything
# opens (tests/test_cli.py::test_duration_refused_with_one_line)


def test_record_without_data_says_what_happened(tmp_path):
    from imu_host.cli import live as cmd_live

    rec = tmp_path / "rec.csv"
    s, summary, _ = session_on([], None, record_path=rec, info_timeout_s=1e9)
    out = io.StringIO()
    cmd_live.print_summary(summary, "lines", out, io.StringIO())
    text = out.getvalue()
    assert "--no-record" not in text
    assert "no samples arrived" in text and str(rec) in text and "not created" in text
    assert not rec.exists()


def test_record_with_info_but_no_samples_removes_the_empty_file(tmp_path, board):
    from imu_host.cli import live as cmd_live

    rec = tmp_path / "rec.csv"
    s, summary, _ = session_on([board.info_bytes(True)], None, record_path=rec)
    out = io.StringIO()
    cmd_live.print_summary(summary, "lines", out, io.StringIO())
    text = out.getvalue()
    assert "--no-record" not in text and "no samples arrived" in text and "removed" in text
    assert not rec.exists()


# ---------------------------------------------------------------- 4. SIGTERM / SIGHUP


@pytest.mark.slow
@pytest.mark.realtime
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_session_like_ctrl_c(tmp_path, script_data, signame):
    import signal
    import time

    from imu_host.history.store import HistoryDB
    from imu_host.transport.serial import PtyDevicePort

    port = PtyDevicePort(str(tmp_path / "ttyIMU"))
    rec, db = tmp_path / "rec.csv", tmp_path / "history.sqlite3"
    board = sim_board.SimulatedBoard(port, *script_data, speed=1.0).start()
    argv = ["live", "--serial", port.path, "--record", str(rec), "--db", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "imu_host.cli.main", *argv, "--lines", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            not rec.exists() or rec.read_bytes().count(b"\n") < 250  # > 2 s recorded
        ):
            time.sleep(0.1)
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=30)
    finally:
        board.stop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        port.close()
    assert proc.returncode == 0, err
    assert f"session ended: stopped by {signame}" in out
    assert "saved to history as session 1" in out
    r = read_recording(rec)
    t = r.samples.t_s  # a real-time board: its timestamps jitter by a few ms
    assert len(t) >= 200 and np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx((len(t) - 1) / ODR, abs=0.1)  # no sample missing
    with HistoryDB(db) as h:
        rows = h.sessions()
    assert len(rows) == 1 and rows[0].source == str(rec)


# ---------------------------------------------------------------- 7. backfill (issue 11)


def device_frame(ring: int) -> bytes:
    return p.encode_device(p.DeviceHealth("A1B2C3", 0x8F, 1000, None, 0, 0, 0, 0, ring, "esp32"))


def outage_chunks(board, truth, *, backfill_after: int, per_live: int = 2) -> tuple[list, int, int]:
    """A BLE drop in the middle of rep 3's descent for 2 s: the board keeps those
    samples and, after the reconnect, sends them as BACKFILL frames, ``per_live`` per
    live frame, starting ``backfill_after`` live frames after the reconnect."""
    rep3 = truth["reps"][2]
    a = int((rep3["start_s"] + 1.0) * ODR) // SPF * SPF
    b = a + 200
    live = frames(board)
    bf = frames(board, start=a, stop=b, backfill=True)
    after: list = [p.encode_info(replace(p.decode_all(board.info_bytes(False))[0], seq_next=b)),
                   device_frame(b - a)]  # fmt: skip
    rest = live[b // SPF :]
    k = 0
    for i, fr in enumerate(rest):
        after.append(fr)
        if i >= backfill_after:
            after.extend(bf[k : k + per_live])
            k += per_live
    chunks = [board.info_bytes(True), device_frame(0), *live[: a // SPF], LOST]
    chunks += [b""] * 40  # 2 s of wall clock while the link is down
    return chunks + after, a, b


def test_short_ble_drop_loses_nothing_thanks_to_backfill(tmp_path, board, truth):
    chunks, a, b = outage_chunks(board, truth, backfill_after=3)
    s, summary, _ = session_on(chunks, tmp_path)
    assert_truth(s, truth)  # rep 3, cut by the drop, is counted with its flag
    assert not [e for e in s.events if isinstance(e, GapEvent)]
    live = summary["live"]
    assert live["reconnects"] == 1 and live["samples_lost"] == 0
    assert live["backfilled"] == b - a and live["samples"] == len(board.counts)
    rec = read_recording(tmp_path / "rec.csv")  # every sample, in time order
    assert len(rec.samples) == len(board.counts)
    assert np.allclose(np.diff(rec.samples.t_s), 1 / ODR)
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def test_backfill_hold_is_bounded_and_late_backfill_is_dropped_in_order(tmp_path, board, truth):
    # the backfill starts 6 s (120 live frames) after the reconnect: past the 5 s hold
    chunks, a, b = outage_chunks(board, truth, backfill_after=120)
    s, summary, _ = session_on(chunks, tmp_path)
    gaps = [e for e in s.events if isinstance(e, GapEvent)]
    assert len(gaps) == 1
    assert gaps[0].start_s == pytest.approx((a - 1) / ODR, abs=0.02)
    assert gaps[0].end_s == pytest.approx(b / ODR, abs=0.02)
    live = summary["live"]
    assert live["backfill_late"] == b - a and live["samples_lost"] == b - a
    assert live["backfilled"] == 0
    rec = read_recording(tmp_path / "rec.csv")
    assert len(rec.samples) == len(board.counts) - (b - a)
    assert np.all(np.diff(rec.samples.t_s) > 0)
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def test_hold_lasts_at_most_backfill_hold_s_and_not_at_all_without_a_ring(board):
    live = frames(board)
    for ring, want_delay in ((200, 5.0), (0, 0.0)):
        stage = StreamStage()
        wall = 0.0
        out_at: dict[int, float] = {}
        chunks = [board.info_bytes(True), device_frame(0), *live[:100], device_frame(ring)]
        first_at = (len(chunks) + 1) * SPF / ODR  # wall time the first sample after the gap comes
        chunks += live[140:]  # 200 samples never arrive, not even as backfill
        n_out = 0
        held = 0
        for c in chunks:
            wall += SPF / ODR
            held += stage.holding
            for it in stage.feed(c, wall) + stage.tick(wall):
                if isinstance(it, SampleBlock):
                    out_at[n_out] = wall
                    n_out += len(it.samples)
        first_after = next(k for k in sorted(out_at) if k >= 500)
        assert held == round(want_delay * ODR / SPF)  # the view can say "catching up"
        assert out_at[first_after] - first_at == pytest.approx(want_delay, abs=SPF / ODR + 1e-9)


def test_firmware_ble_short_disconnect_through_the_stream_stage(tmp_path):
    """The firmware's own BLE byte stream of a 2 s disconnect (MicroPython Unix port,
    tests/fw_support/mp_run_ble_scenarios.py): every sample reaches the pipeline once,
    in time order, nothing lost."""
    tfp = pytest.importorskip("test_firmware_ports")
    if tfp.MP is None:
        pytest.skip("MicroPython Unix port binary not found")
    res, data = tfp.run_ble(
        tmp_path, "scenario=backfill", "stack=none", "backfill=3000", "gap_s=2", "spf=8"
    )
    # cut the byte stream into frames; the host's link dropped where the live sequence
    # jumps (the firmware's first frame after the reconnect)
    chunks, dec, start = [], p.FrameDecoder(), 0
    for k in range(len(data)):
        for fr in dec.feed(data[k : k + 1]):
            chunks.append((fr, data[start : k + 1]))
            start = k + 1
    stage = StreamStage()
    blocks, wall, next_seq, reconnected = [], 0.0, None, False
    for fr, raw in chunks:
        wall += 0.01
        if isinstance(fr, p.SampleFrame) and not fr.backfill:
            if next_seq is not None and fr.seq != next_seq:
                assert not reconnected  # one drop in this scenario
                stage.lost()
                stage.connected(reconnect=True)
                reconnected = True
            next_seq = fr.seq + fr.n
        blocks += samples_of(stage.feed(raw, wall) + stage.tick(wall))
    blocks += samples_of(stage.drain(wall))
    assert reconnected
    t = np.concatenate([b.t_s for b in blocks])
    q = stage.update_quality(wall)
    assert q.backfilled >= 190 and q.backfill_late == 0 and q.samples_lost == 0
    assert len(t) == res["seq"] and np.all(np.diff(t) > 0.009)


def test_summary_says_what_was_refused_and_backfilled(tmp_path, board, truth):
    from imu_host.cli import live as cmd_live

    chunks, a, b = outage_chunks(board, truth, backfill_after=3)
    chunks.insert(5, info_of(board, odr_hz=0.001))
    _, summary, _ = session_on(chunks, tmp_path)
    out = io.StringIO()
    cmd_live.print_summary(summary, "lines", out, io.StringIO())
    text = out.getvalue()
    assert "1 implausible info frames" in text
    assert f"backfill: {b - a} samples filled gaps, 0 came too late" in text


def test_a_board_name_with_escapes_is_shown_and_stored_clean(board):
    chunks = [board.info_bytes(True), *frames(board, stop=100)]
    clock = FakeClock()
    link = ScriptedLink(clock, chunks)
    link.description = "ble KneeRoll-\x1b]0;pwned\x07\r\n"
    out = io.StringIO()
    s = LiveSession(link, LiveOptions(record_path=None, quiet=True), out=out, clock=clock)
    summary = s.run(lambda: link.done)
    assert summary["live"]["source"].isprintable() and "KneeRoll-" in summary["live"]["source"]
    assert s.state().source.isprintable()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    backfill_after=st.integers(0, 150),
    per_live=st.integers(1, 4),
    repeat=st.sets(st.integers(0, 39), max_size=5),
)
def test_any_backfill_timing_gives_each_sample_once_in_time_order(
    board, truth, backfill_after, per_live, repeat
):
    """However late the backfill comes, and with some backfill frames sent twice, the
    stage gives out strictly increasing times, each sample at most once, and every
    sample is accounted for: given out, or counted lost."""
    chunks, a, b = outage_chunks(board, truth, backfill_after=backfill_after, per_live=per_live)
    bf = set(frames(board, start=a, stop=b, backfill=True))
    extra = [c for c in chunks if c in bf]
    for k in sorted(repeat, reverse=True):  # a few backfill frames arrive twice
        if k < len(extra):
            i = chunks.index(extra[k])
            chunks.insert(i + 1, extra[k])
    stage, wall, out = StreamStage(), 0.0, []
    for c in chunks:
        wall += SPF / ODR
        if c is LOST:
            stage.lost()
            stage.connected(reconnect=True)
            continue
        out += samples_of(stage.feed(c, wall) + stage.tick(wall))
    out += samples_of(stage.drain(wall))
    t = np.concatenate([s.t_s for s in out])
    assert np.all(np.diff(t) > 0)
    q = stage.update_quality(wall)
    assert len(t) + q.samples_lost == len(board.counts)
    assert q.backfilled + q.backfill_late == b - a
    n_bf = (b - a) // SPF  # each live or backfill frame is a chunk of 0.05 s wall clock
    chunks_to_done = backfill_after + n_bf + -(-n_bf // per_live) + len(repeat)
    if chunks_to_done * SPF / ODR < 4.5:  # the backfill is done within the 5 s hold
        assert q.backfill_late == 0 and q.samples_lost == 0


def test_a_recording_that_cannot_be_created_does_not_stop_the_session(
    monkeypatch, tmp_path, board, truth
):
    import imu_host.io.recording as recording
    from imu_host.cli import live as cmd_live
    from imu_host.errors import InputError

    def refuse(path, what, text=False):
        raise InputError("cannot create: No space left on device", path=str(path))

    monkeypatch.setattr(recording, "create_exclusive", refuse)
    s, summary, out = session_on([board.info_bytes(True), *frames(board)], tmp_path)
    assert_truth(s, truth)
    assert out.getvalue().count("recording not started") == 1
    text = io.StringIO()
    cmd_live.print_summary(summary, "lines", text, io.StringIO())
    assert "recording: none (could not start it" in text.getvalue()
    assert summary["live"]["recording"] is None and not (tmp_path / "rec.csv").exists()
