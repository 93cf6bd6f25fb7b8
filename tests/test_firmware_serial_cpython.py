"""The firmware's serial link with a UART-like object (any() / readinto() / write()),
run under CPython: host commands in, frames out."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from imu_host.protocol.frames import encode_command

ROOT = Path(__file__).resolve().parents[1]


class FakeUart:
    def __init__(self, incoming: bytes) -> None:
        self.incoming = bytearray(incoming)
        self.sent = bytearray()

    def any(self) -> int:
        return len(self.incoming)

    def readinto(self, buf) -> int:
        n = min(len(buf), len(self.incoming))
        buf[:n] = self.incoming[:n]
        del self.incoming[:n]
        return n

    def write(self, data) -> int:
        self.sent += bytes(data)
        return len(data)


def test_uart_link_reads_commands_and_writes_frames(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "firmware_micropython"))
    for name in ("link_serial", "wire"):
        sys.modules.pop(name, None)
    link_serial = importlib.import_module("link_serial")
    wire = importlib.import_module("wire")
    cmds = encode_command("ping", 0, 1) + encode_command("set_rate", 200, 2)
    uart = FakeUart(cmds)
    link = link_serial.SerialLink(uart, uart)
    buf = bytearray(8)  # smaller than the input: read in pieces
    got = bytearray()
    while n := link.read_into(buf):
        got += buf[:n]
    assert bytes(got) == cmds
    dec = wire.CommandDecoder()
    decoded = [(dec.cmd, dec.token, dec.arg) for x in got if dec.feed_byte(x)]
    assert decoded == [(6, 1, 0), (3, 2, 200)]
    assert link.write(memoryview(b"\xa5\x5aabc")) and bytes(uart.sent) == b"\xa5\x5aabc"
    for name in ("link_serial", "wire"):
        sys.modules.pop(name, None)
