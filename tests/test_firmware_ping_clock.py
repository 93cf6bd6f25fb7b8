"""The ping ACK's device clock is the time the command was handled (PROTOCOL.md, 0x04 ACK:
"device clock when handled (ping: use for round-trip / clock offset)"), not a time read
earlier in the same poll pass, before the samples were read and the link polled. The
host's ping clock takes the largest host_sent - device per bucket, so a stamp that is
early by the pass's duration biased a board's offset by up to half of it.

The firmware's sample loop (streamer.py) under CPython with the simulated IMU, an
in-memory link and a clock that advances on every read."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from imu_host.protocol.frames import AckFrame, decode_all, encode_command

ROOT = Path(__file__).resolve().parents[1]
MASK30 = (1 << 30) - 1


@pytest.fixture()
def fw(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "fw_support"))
    monkeypatch.syspath_prepend(str(ROOT / "firmware_micropython"))
    mods = ("streamer", "drv_sim", "memlink", "wire", "motion", "imu")
    for name in mods:
        sys.modules.pop(name, None)
    yield tuple(importlib.import_module(m) for m in ("streamer", "drv_sim", "memlink"))
    for name in mods:
        sys.modules.pop(name, None)


class TickingClock:
    """Advances by ``step_us`` on every reading (a poll pass takes time)."""

    def __init__(self, start_us: int = 5_000_000, step_us: int = 700) -> None:
        self.now, self.step = start_us, step_us

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def test_ping_ack_is_stamped_when_the_command_is_handled(fw):
    streamer, drv_sim, memlink = fw
    clock = TickingClock()
    imu = drv_sim.SimIMU(realtime=False, clock=clock)

    class Link(memlink.MemLink):
        read_at: list[int] = []

        def read_into(self, buf):  # noqa: ANN001, ANN201
            clock()  # reading the samples and polling the link took time
            n = super().read_into(buf)
            if n:
                self.read_at.append(clock.now & MASK30)  # the command is here from now on
            return n

    link = Link()
    s = streamer.Streamer(imu, link, spf=4, clock=clock)
    for _ in range(20):
        s.poll()
    link.inp = bytearray(encode_command("ping", 0, 4711))
    link.send_from_host(len(link.inp))
    for _ in range(5):
        s.poll()
    acks = [f for f in decode_all(bytes(link.out[: link.pos])) if isinstance(f, AckFrame)]
    ping = [a for a in acks if a.command_name == "ping"]
    assert len(ping) == 1 and ping[0].token == 4711 and link.read_at
    assert ping[0].t_us >= link.read_at[0], (ping[0].t_us, link.read_at[0])
