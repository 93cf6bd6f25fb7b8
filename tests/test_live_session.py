"""The session loop and its view sinks without a pty: an in-memory transport hands the
host the bytes the in-process board encodes (answering info/start like the board), a fake
clock drives time. Moved here from the pty tests in test_live.py (JSON stream, terminal
view and bell, --quiet, --target, --duration), same meaning, no real-time waits.
Truth: the demo motion script's ``motion.truth``.
"""

from __future__ import annotations

import io
import json

import pytest

from imu_host.core.events import FAST_DROP
from imu_host.live.session import LiveOptions, LiveSession
from imu_host.live.view import LiveState, NullSink
from imu_host.protocol import frames as p
from imu_host.sim import board as sim_board
from imu_host.transport.base import Transport

SPF = 5


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class MemoryBoard(Transport):
    """The board's frames from memory, 0.05 s of stream per read (clock advances so)."""

    description = "memory board"

    def __init__(self, clock: FakeClock, accel, gyro) -> None:
        self.clock = clock
        self.board = sim_board.SimulatedBoard(None, accel, gyro, samples_per_frame=SPF)
        c = self.board.counts
        self.frames = [
            p.encode_samples(i, 1000 + i * 10_000, 10_000, c[i : i + SPF])
            for i in range(0, len(c), SPF)
        ]
        self.pos = 0
        self.streaming = False
        self.commands: list[str] = []
        self._dec = p.FrameDecoder()
        self._pending = b""

    @property
    def done(self) -> bool:
        return self.pos >= len(self.frames)

    def open(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        for fr in self._dec.feed(data):
            if isinstance(fr, p.CommandFrame):
                name = p.COMMAND_NAMES.get(fr.command, str(fr.command))
                self.commands.append(name)
                if name == "info":
                    self._pending += self.board.info_bytes(not self.streaming)
                elif name == "start":
                    self.streaming = True

    def read(self, timeout: float) -> bytes:
        self.clock.t += 0.05
        out, self._pending = self._pending, b""
        if self.streaming and not self.done:
            out += self.frames[self.pos]
            self.pos += 1
        return out

    def close(self) -> None:
        pass


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


@pytest.fixture(scope="module")
def script_data():
    return sim_board.script_samples()


def run(script_data, out=None, **kw):
    clock = FakeClock()
    board = MemoryBoard(clock, *script_data)
    sinks = kw.pop("sinks", ())
    opts = LiveOptions(record_path=None, **kw)
    s = LiveSession(board, opts, out=out or io.StringIO(), err=io.StringIO(), clock=clock,
                    sinks=sinks)  # fmt: skip
    summary = s.run(lambda: board.done)
    return s, summary, board


def test_json_events_stream(script_data, truth):
    out = io.StringIO()
    s, _, board = run(script_data, out, mode="json")
    assert board.commands[:2] == ["info", "start"]
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    reps = [o for o in objs if o["event"] == "rep"]
    assert [o["side"] for o in reps] == [r["side"] for r in truth["reps"]]
    flags = [o for o in objs if o["event"] == "flag"]
    assert [o["kind"] for o in flags] == [FAST_DROP] * len(truth["fast_reps"])
    assert "\a" not in out.getvalue()  # no bell in a JSON stream (not a terminal)
    assert s.stop_reason == "source finished"


def test_tty_view_and_bell(script_data, truth):
    out = FakeTTY()
    s, _, _ = run(script_data, out, mode="tty", target=5)
    text = out.getvalue()
    assert text.count("\a") == len(truth["fast_reps"])
    assert "FLAG dropped too fast (left)" in text  # plain words, never a flag name
    assert "fast_drop" not in text and "FAST DROP" not in text
    view = "\n".join(s.render_view())
    n_left = truth["reps_per_side"]["left"]
    assert f"L {n_left:3d}/5" in view and "samples/s" in view and "crc errors 0" in view
    assert "\x1b[" in text  # the view is redrawn in place


def test_quiet_tty_has_no_bell(script_data):
    out = FakeTTY()
    run(script_data, out, mode="tty", quiet=True)
    assert "\a" not in out.getvalue()


def test_target_ends_session(script_data, truth):
    s, summary, board = run(script_data, target=1)
    assert s.stop_reason == "target reached"
    assert summary["reps_left"] >= 1 and summary["reps_right"] >= 1
    assert summary["reps_total"] < len(truth["reps"])
    assert board.commands[-1] == "stop"  # the board is told to stop streaming


def test_duration_ends_session(script_data):
    s, summary, _ = run(script_data, duration_s=1.0)
    assert s.stop_reason == "duration reached"
    # 1 s of (fake) wall clock at 0.05 s per 5-sample frame: about 100 samples
    assert 90 <= summary["live"]["samples"] <= 110


class Recorder(NullSink):
    def __init__(self) -> None:
        self.events: list[tuple[object, LiveState]] = []
        self.ticks = 0
        self.closed = 0

    def on_event(self, ev: object, state: LiveState) -> None:
        self.events.append((ev, state))

    def on_tick(self, state: LiveState) -> None:
        self.ticks += 1

    def close(self) -> None:
        self.closed += 1


def test_every_sink_sees_every_event_with_the_counts_so_far(script_data, truth):
    rec = Recorder()
    s, _, _ = run(script_data, sinks=[rec])
    assert [e for e, _ in rec.events] == s.events
    rep_events = [(ev, st) for ev, st in rec.events if hasattr(ev, "rep")]
    left = right = 0
    for (ev, st), r in zip(rep_events, truth["reps"], strict=True):
        left += r["side"] == "left"
        right += r["side"] == "right"
        assert (st.left, st.right) == (left, right) and ev.rep.side == r["side"]
    assert rec.ticks > 0 and rec.closed == 1


def test_replay_table_names_faults_in_plain_words(tmp_path):
    """The replay table says what went wrong as a user reads it (the rep flagged by the
    simulator's truth as a momentum drop reads "dropped too fast", never ``fast_drop``)."""
    from imu_host.analysis import analyze
    from imu_host.cli.replay import render_table
    from imu_host.io.recording import Recording
    from imu_host.sim.generate import simulate

    sim = simulate("fast_drops_mixed", seed=3)
    a = analyze(Recording("sim", sim.samples, sim.sample_rate_hz, {}))
    table = render_table(a)
    assert any(r["fast_drop"] for r in sim.truth["reps"]), "the scenario has momentum drops"
    assert "dropped too fast" in table and "clean" in table
    assert "fast_drop" not in table
