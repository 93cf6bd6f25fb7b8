"""Live sessions end to end over real pseudo-terminals, against the motion script's truth.

The board side is either the firmware under the MicroPython Unix port or the in-process
simulated board (same protocol, same motion script); the host side is the real serial
path: pyserial on the pty -> FrameDecoder -> SampleAssembler -> Pipeline -> events.
Truth comes from the firmware's motion script (``motion.truth``), never from outputs.
"""

from __future__ import annotations

import io
import os
import random
import threading

import pytest

from imu_host.analysis import analyze
from imu_host.core.events import FAST_DROP, FlagEvent, GapEvent, RepEvent
from imu_host.io.recording import read_recording
from imu_host.live.session import LiveOptions, LiveSession
from imu_host.sim import board as sim_board
from imu_host.transport.base import Backoff
from imu_host.transport.serial import PtyDevicePort, SerialTransport

WAIT = 20.0


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


@pytest.fixture(scope="module")
def script_data():
    return sim_board.script_samples()


@pytest.fixture
def port(tmp_path):
    p = PtyDevicePort(str(tmp_path / "ttyIMU"))
    yield p
    p.close()


def options(tmp_path, **kw) -> LiveOptions:
    kw.setdefault("record_path", tmp_path / "rec.csv")
    kw.setdefault("backoff", Backoff(initial=0.01, maximum=0.05))
    kw.setdefault("duration_s", 120.0)  # safety net only; sessions end when the board is done
    return LiveOptions(**kw)


def run_session(port, opts, board_done, out=None, **kw) -> tuple[LiveSession, dict]:
    out = out if out is not None else io.StringIO()
    s = LiveSession(SerialTransport(port.path), opts, out=out, err=io.StringIO(), **kw)
    summary = s.run(board_done.is_set)
    return s, summary


def reps_of(events) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.rep.side, e.rep.flags) for e in events if isinstance(e, RepEvent)]


def assert_matches_truth(
    session: LiveSession,
    truth: dict,
    skip: tuple[int, ...] = (),
    shift: tuple[float, float] = (0, 0),
) -> None:
    """Each truth rep (minus ``skip``, 1-based) found once, in order, on the right side;
    fast drops flagged exactly on the truth's fast reps, with a live cue before the end.
    ``shift=(t0, dt)``: stream times of script times after t0 are later by dt."""
    t0, dt = shift
    want = []
    for i, r in enumerate(truth["reps"], 1):
        if i in skip:
            continue
        r = dict(r)
        if r["start_s"] > t0 and dt:
            r["peak_s"] += dt
        want.append(r)
    got = [e.rep for e in session.events if isinstance(e, RepEvent)]
    assert [r.side for r in got] == [r["side"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g.start_s < w["peak_s"] < g.end_s + 0.5  # the same excursion
        assert (FAST_DROP in g.flags) == w["fast"]
        assert abs(g.rom_deg - w["rom_deg"]) < 8.0
    cues = [e for e in session.events if isinstance(e, FlagEvent) and e.kind == FAST_DROP]
    fast = [g for g, w in zip(got, want, strict=True) if w["fast"]]
    assert len(cues) == len(fast)
    for cue, rep in zip(cues, fast, strict=True):
        assert rep.start_s <= cue.t_s <= rep.peak_s + 0.3  # while still falling / arriving


def assert_replay_reproduces(session: LiveSession, path) -> None:
    rec = read_recording(path)
    a = analyze(rec)
    assert reps_of(a.events) == reps_of(session.events)
    live_flags = [(e.kind, e.side) for e in session.events if isinstance(e, FlagEvent)]
    assert [(e.kind, e.side) for e in a.events if isinstance(e, FlagEvent)] == live_flags
    assert [r.to_dict() for r in a.reps] == [
        e.rep.to_dict() for e in session.events if isinstance(e, RepEvent)
    ]
    live_gaps = [(e.start_s, e.end_s) for e in session.events if isinstance(e, GapEvent)]
    assert [(e.start_s, e.end_s) for e in a.events if isinstance(e, GapEvent)] == live_gaps


# ---------------------------------------------------------------- MicroPython firmware


@pytest.mark.skipif(
    sim_board.micropython_exe() is None
    or sim_board.firmware_dir() is None
    or not (sim_board.firmware_dir() / sim_board.UNIX_ENTRY).is_file(),
    reason="MicroPython Unix port or firmware entry point not available",
)
def test_serial_e2e_firmware_under_micropython(tmp_path, port, truth):
    board, what = sim_board.start_board("micropython", port, fast=True)
    try:
        assert "micropython" in what
        s, summary = run_session(port, options(tmp_path), board.done)
    finally:
        board.stop()
    assert summary["reps_left"] == truth["reps_per_side"]["left"]
    assert summary["reps_right"] == truth["reps_per_side"]["right"]
    assert summary["fast_drops"] == len(truth["fast_reps"])
    assert_matches_truth(s, truth)
    assert s.quality.crc_errors == 0 and s.quality.samples_lost == 0
    assert s.stop_reason == "source finished"
    assert_replay_reproduces(s, tmp_path / "rec.csv")


# ---------------------------------------------------------------- in-process board


def test_serial_e2e_in_process_board(tmp_path, port, truth, script_data):
    board = sim_board.SimulatedBoard(port, *script_data, speed=0).start()
    try:
        s, summary = run_session(port, options(tmp_path), board.done)
    finally:
        board.stop()
    assert board.commands[:2] == ["info", "start"]  # asked for info, then started
    assert_matches_truth(s, truth)
    assert summary["live"]["samples"] == len(script_data[0])
    assert summary["live"]["recording"] == str(tmp_path / "rec.csv")
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def test_fault_injection_garbage_truncation_duplicates_bitflips(tmp_path, port, truth, script_data):
    rng = random.Random(7)
    hits = {"garbage": 0, "cut": 0, "dup": 0, "flip": 0}

    def tap(frame: bytes, i: int) -> bytes:
        if i < 20 or i % 9:
            return frame
        kind = ("garbage", "cut", "dup", "flip")[(i // 9) % 4]
        hits[kind] += 1
        if kind == "garbage":
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) + frame
        if kind == "cut":
            return frame[: rng.randrange(2, len(frame) - 1)]
        if kind == "dup":
            return frame + frame
        b = bytearray(frame)
        b[rng.randrange(4, len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)

    board = sim_board.SimulatedBoard(port, *script_data, speed=0, tap=tap).start()
    try:
        s, summary = run_session(port, options(tmp_path), board.done)
    finally:
        board.stop()
    assert min(hits.values()) > 10
    assert_matches_truth(s, truth)
    q = s.quality
    assert q.duplicates == hits["dup"]
    assert q.crc_errors >= hits["flip"]
    assert q.bytes_discarded > 0
    assert q.samples_lost > 0  # truncated and bit-flipped frames are lost samples
    assert summary["live"]["crc_errors"] == q.crc_errors
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def _frame_at(t_s: float, spf: int = 5, odr: float = 100.0) -> int:
    return int(t_s * odr / spf)


class ProgressSession(LiveSession):
    """Signals when the host has processed a given number of samples."""

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self.want_samples = 1 << 62
        self.reached = threading.Event()

    def _feed_samples(self, block, arrived):
        events = super()._feed_samples(block, arrived)
        if self.quality.samples >= self.want_samples:
            self.reached.set()
        return events

    def wait_processed(self, n: int) -> bool:
        self.reached.clear()
        self.want_samples = n
        if self.quality.samples >= n:
            return True
        return self.reached.wait(WAIT)


def _unplug_session(tmp_path, port, truth, script_data):
    reconnected = threading.Event()
    lost = threading.Event()
    rep3 = truth["reps"][2]
    cut_from = _frame_at(rep3["start_s"] + 1.0)  # in the middle of rep 3's descent
    cut_to = _frame_at(rep3["peak_s"] + 0.5)
    board = None

    def on_frame(i: int) -> None:
        if i == cut_from:
            # the host has everything sent before the cable is pulled
            assert session.wait_processed(board.next_index)
            port.unplug()
            assert lost.wait(WAIT)
        elif i == cut_to:
            port.plug()
            assert reconnected.wait(WAIT)

    def on_link(state: str) -> None:
        (reconnected if state == "connected" else lost).set()

    session = ProgressSession(
        SerialTransport(port.path),
        options(tmp_path),
        out=io.StringIO(),
        err=io.StringIO(),
        on_link=on_link,
    )
    board = sim_board.SimulatedBoard(port, *script_data, speed=0, on_frame=on_frame).start()
    try:
        summary = session.run(board.done.is_set)
    finally:
        board.stop()
    return session, summary, rep3


def test_unplug_mid_rep_reconnects_and_marks_gap(tmp_path, port, truth, script_data):
    s, summary, rep3 = _unplug_session(tmp_path, port, truth, script_data)
    assert s.quality.reconnects == 1
    gaps = [e for e in s.events if isinstance(e, GapEvent)]
    assert len(gaps) == 1
    assert gaps[0].start_s <= rep3["start_s"] + 1.05 and gaps[0].end_s >= rep3["peak_s"] + 0.45
    for e in s.events:  # no rep spans the gap
        if isinstance(e, RepEvent):
            assert e.rep.end_s <= gaps[0].start_s or e.rep.start_s >= gaps[0].end_s
    # every rep clear of the gap is found, on its side, with its fast-drop flag
    got = [e.rep for e in s.events if isinstance(e, RepEvent)]
    for i, w in enumerate(truth["reps"], 1):
        if i == 3:
            continue
        match = [g for g in got if g.start_s < w["peak_s"] < g.end_s + 0.5]
        assert len(match) == 1 and match[0].side == w["side"]
        assert (FAST_DROP in match[0].flags) == w["fast"]
    assert summary["gaps"] == 1 and summary["live"]["samples_lost"] > 0
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def test_unplug_mid_rep_does_not_count_the_rep_cut_by_the_gap(tmp_path, port, truth, script_data):
    s, _summary, _rep3 = _unplug_session(tmp_path, port, truth, script_data)
    assert_matches_truth(s, truth, skip=(3,))


def test_device_reset_mid_session_is_detected(tmp_path, port, truth, script_data):
    """The board reboots behind a UART bridge (port stays): sequence and clock restart,
    streaming stops; the host notices the silence, restarts the stream, marks the gap."""
    reset_at = _frame_at(truth["reps"][1]["end_s"] + 0.3)  # centre rest after rep 2
    board = None
    done_reset = []

    def on_frame(i: int) -> None:
        if i == reset_at and not done_reset:
            done_reset.append(i)
            board.reset()

    board = sim_board.SimulatedBoard(port, *script_data, speed=0, on_frame=on_frame)
    board.start()
    try:
        s, summary = run_session(port, options(tmp_path), board.done)
    finally:
        board.stop()
    assert s.quality.device_resets == 1
    assert board.commands.count("start") >= 2
    gaps = [e for e in s.events if isinstance(e, GapEvent)]
    assert len(gaps) == 1
    t_reset = truth["reps"][1]["end_s"] + 0.3
    assert gaps[0].start_s == pytest.approx(t_reset, abs=0.06)
    # the outage lasted at least the host's stall timeout; later stream times move with it
    shift = gaps[0].end_s - gaps[0].start_s - 0.01
    assert shift > 1.5
    assert_matches_truth(s, truth, shift=(t_reset, shift))
    assert_replay_reproduces(s, tmp_path / "rec.csv")


# ---------------------------------------------------------------- recording
# (output modes, --target and --duration: tests/test_live_session.py, without a pty)


def isatty(self) -> bool:
    return True


def test_existing_recording_is_never_overwritten(tmp_path, port):
    rec = tmp_path / "rec.csv"
    rec.write_text("precious")
    s = LiveSession(SerialTransport(port.path), options(tmp_path), out=io.StringIO())
    from imu_host.errors import InputError

    with pytest.raises(InputError, match="refusing to overwrite"):
        s.run()
    assert rec.read_text() == "precious"


def test_raw_capture_holds_received_bytes(tmp_path, port, script_data):
    raw = tmp_path / "raw.bin"
    board = sim_board.SimulatedBoard(port, *script_data, speed=0).start()
    try:
        s, _ = run_session(port, options(tmp_path, raw_path=raw), board.done)
    finally:
        board.stop()
    from imu_host.protocol.frames import SampleFrame, decode_all

    frames = [f for f in decode_all(raw.read_bytes()) if isinstance(f, SampleFrame)]
    assert sum(f.n for f in frames) == len(script_data[0])
    assert os.path.getsize(raw) > 0


@pytest.mark.slow
@pytest.mark.realtime
def test_killed_session_keeps_recording_up_to_the_last_second(tmp_path, port, script_data):
    """A crash (SIGKILL) mid-session: the recording on disk holds everything but about
    the last second, and it loads."""
    import queue
    import signal
    import subprocess
    import sys

    rec = tmp_path / "crash.csv"
    board = sim_board.SimulatedBoard(port, *script_data, speed=1.0).start()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imu_host.cli.main",
            "live",
            "--serial",
            port.path,
            "--record",
            str(rec),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        rep_line = ""
        while " REP " not in rep_line:
            rep_line = lines.get(timeout=WAIT)
        t_rep = float(rep_line.split("s")[0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT)
    finally:
        board.stop()
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT)
        proc.stdout.close()
        proc.stderr.close()
    r = read_recording(rec)
    assert r.samples.t_s[-1] >= t_rep - 1.5  # flushed about every second
    assert r.samples.t_s[0] == 0.0 and len(r.samples) == round(r.samples.t_s[-1] * 100) + 1
