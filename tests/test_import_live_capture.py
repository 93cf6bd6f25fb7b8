"""A live session's ``--raw`` byte capture replays to exactly the reps the session showed
(and that its recording replays to), even with garbage, cut, duplicated and bit-flipped
frames on the wire. Truth: the demo's motion script (``script_truth``)."""

from __future__ import annotations

import io
import json
import random

import pytest

from imu_host.cli.main import main
from imu_host.core.events import RepEvent
from imu_host.live.session import LiveOptions, LiveSession
from imu_host.sim import board as sim_board
from imu_host.transport.base import Backoff
from imu_host.transport.serial import PtyDevicePort, SerialTransport


def _tap(rng: random.Random):  # noqa: ANN202
    def tap(frame: bytes, i: int) -> bytes:
        if i < 20 or i % 11:
            return frame
        kind = (i // 11) % 4
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) + frame
        if kind == 1:
            return frame[: rng.randrange(2, len(frame) - 1)]
        if kind == 2:
            return frame + frame
        b = bytearray(frame)
        b[rng.randrange(4, len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)

    return tap


@pytest.mark.slow
@pytest.mark.parametrize("faults", [False, True])
def test_live_raw_capture_replays_to_the_reps_live_showed(tmp_path, capsys, faults):
    acc, gyr = sim_board.script_samples()
    truth = sim_board.script_truth()
    port = PtyDevicePort(str(tmp_path / "ttyIMU"))
    tap = _tap(random.Random(3)) if faults else None
    board = sim_board.SimulatedBoard(port, acc, gyr, speed=0, tap=tap).start()
    raw, rec = tmp_path / "session.bin", tmp_path / "session.csv"
    opts = LiveOptions(record_path=rec, raw_path=raw, duration_s=120.0,
                       backoff=Backoff(initial=0.01, maximum=0.05))  # fmt: skip
    try:
        s = LiveSession(SerialTransport(port.path), opts, out=io.StringIO(), err=io.StringIO())
        s.run(board.done.is_set)
    finally:
        board.stop()
        port.close()
    live_reps = [e.rep.to_dict() for e in s.events if isinstance(e, RepEvent)]
    assert [r["side"] for r in live_reps] == [t["side"] for t in truth["reps"]]

    assert main(["replay", str(raw), "--json", "--no-save"]) == 0
    from_raw = json.loads(capsys.readouterr().out)
    assert main(["replay", str(rec), "--json", "--no-save"]) == 0
    from_rec = json.loads(capsys.readouterr().out)
    assert from_raw["reps"] == live_reps
    assert from_rec["reps"] == live_reps
    assert from_raw["source"]["samples"] == from_rec["source"]["samples"]
