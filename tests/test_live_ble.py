"""Live sessions over BLE end to end: the in-process board's protocol stream goes out as
NUS notifications (cut to ATT_MTU-3) from a Bumble GATT server, through Bumble's virtual
link, to the real BLE transport via bleak's public API, and into the live pipeline.
Compared against the motion script's truth."""

from __future__ import annotations

import asyncio
import io
import queue
import threading

import pytest

pytest.importorskip("bumble")

from bumble_backend import BumbleWorld  # noqa: E402
from test_live import assert_matches_truth, assert_replay_reproduces  # noqa: E402

from imu_host.core.events import GapEvent  # noqa: E402
from imu_host.core.pipeline import Settings  # noqa: E402
from imu_host.live.session import LiveOptions, LiveSession  # noqa: E402
from imu_host.sim import board as sim_board
from imu_host.transport.base import Backoff  # noqa: E402
from imu_host.transport.ble import BleTransport  # noqa: E402

WAIT = 20.0


class BlePort:
    """The SimulatedBoard's port interface on top of the virtual board's NUS service."""

    def __init__(self, world: BumbleWorld) -> None:
        self.world = world
        self.rx: queue.Queue[bytes] = queue.Queue()
        world.board.on_rx = self.rx.put

    def write(self, data: bytes, timeout: float = 0.5) -> int:
        board = self.world.board
        if board.connection is None or not board.subscribed.is_set():
            return 0  # nobody listening: the board drops the samples
        self.world.run(board.send(data))
        return len(data)

    def read(self, timeout: float) -> bytes:
        try:
            data = self.rx.get(timeout=timeout) if timeout > 0 else self.rx.get_nowait()
        except queue.Empty:
            return b""
        while not self.rx.empty():
            data += self.rx.get_nowait()
        return data


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


@pytest.fixture(scope="module")
def script_data():
    return sim_board.script_samples()


def ble_session(world, tmp_path, **kw) -> LiveSession:
    client, scanner = world.backends()
    t = BleTransport(
        "KneeRoll", client_backend=client, scanner_backend=scanner, loop=world.loop, scan_timeout=5
    )
    opts = LiveOptions(
        record_path=tmp_path / "rec.csv",
        backoff=Backoff(initial=0.01, maximum=0.1),
        duration_s=120.0,
    )
    return LiveSession(t, opts, out=io.StringIO(), err=io.StringIO(), **kw)


@pytest.mark.parametrize("mtu", [23, 247])
def test_ble_e2e_matches_truth(loop, tmp_path, truth, script_data, mtu):
    world = BumbleWorld(loop, board_mtu=mtu)
    world.run(world.start())
    board = sim_board.SimulatedBoard(BlePort(world), *script_data, speed=0).start()
    s = ble_session(world, tmp_path)
    try:
        summary = s.run(board.done.is_set)
    finally:
        board.stop()
    assert s.link.inner.mtu == mtu
    assert board.commands[:2] == ["info", "start"]  # RX commands reached the board
    assert_matches_truth(s, truth)
    assert summary["live"]["samples"] == len(script_data[0])
    assert s.quality.crc_errors == 0 and s.quality.samples_lost == 0
    # several notifications per frame at MTU 23, several frames per notification at 247
    per_frame = world.board.notifications_sent / board.frames_sent
    assert per_frame > 2 if mtu == 23 else per_frame <= 1.2
    assert_replay_reproduces(s, tmp_path / "rec.csv")


def test_ble_link_drop_reconnects_and_resets_reassembler(loop, tmp_path, truth, script_data):
    world = BumbleWorld(loop, board_mtu=64)
    world.run(world.start())
    port = BlePort(world)
    reconnected = threading.Event()
    drop_at = int((truth["reps"][1]["end_s"] + 0.2) * 100 / 5)  # centre rest after rep 2
    lost_samples = 40
    board = None

    def on_frame(i: int) -> None:
        if i != drop_at:
            return
        # half a frame goes out, then the radio link dies
        half = board.info_bytes(False)[:20]
        world.run(world.board.send(half))
        world.run(world.board.drop_link())
        assert reconnected.wait(WAIT)
        world.run(asyncio.wait_for(world.board.subscribed.wait(), WAIT))
        board.next_index += lost_samples  # sampled while nobody was connected: lost

    board = sim_board.SimulatedBoard(port, *script_data, speed=0, on_frame=on_frame)
    s = ble_session(
        world, tmp_path, on_link=lambda st: reconnected.set() if st == "connected" else None
    )
    board.start()
    try:
        summary = s.run(board.done.is_set)
    finally:
        board.stop()
    assert s.quality.reconnects == 1
    # the half frame from before the drop was discarded, not glued to new notifications
    assert s.quality.crc_errors == 0
    assert s.quality.bytes_discarded == 20
    assert s.quality.samples_lost == lost_samples
    # a 0.4 s hole in the centre rest: a gap (if above the pipeline's threshold), no rep lost
    gaps = [e for e in s.events if isinstance(e, GapEvent)]
    expect_gap = lost_samples / 100 > Settings().gap_reset_s
    assert len(gaps) == (1 if expect_gap else 0)
    if gaps:
        assert gaps[0].end_s - gaps[0].start_s == pytest.approx(lost_samples / 100 + 0.01)
    assert_matches_truth(s, truth)
    assert summary["live"]["reconnects"] == 1
    assert_replay_reproduces(s, tmp_path / "rec.csv")
