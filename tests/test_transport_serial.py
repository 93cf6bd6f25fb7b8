"""Serial transport over real pseudo-terminals (pyserial opens the pty slave path)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from imu_host.errors import InputError
from imu_host.transport.base import Backoff, LinkLost, ReconnectingTransport, open_transport
from imu_host.transport.serial import PtyDevicePort, SerialTransport, looks_like_micropython

WAIT = 10.0  # generous upper bound for waits on events; never a synchronisation sleep


def read_exactly(t, n: int, limit: float = WAIT) -> bytes:
    buf = bytearray()
    deadline = time.monotonic() + limit
    while len(buf) < n and time.monotonic() < deadline:
        buf += t.read(0.05)
    return bytes(buf)


@pytest.fixture
def port(tmp_path):
    p = PtyDevicePort(str(tmp_path / "ttyBOARD"))
    yield p
    p.close()


def test_import_is_light():
    code = (
        "import imu_host, imu_host.cli.main, sys;"
        "assert 'serial' not in sys.modules and 'bleak' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_build_parser_is_light():
    code = (
        "import sys, imu_host.cli.main as c\n"
        "try:\n    c.build_parser()\nexcept ImportError:\n    pass\n"
        "assert 'serial' not in sys.modules and 'bleak' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bytes_both_ways_over_pty(port):
    t = SerialTransport(port.path)
    t.open()
    try:
        payload = bytes(range(256)) * 20  # every byte value, incl. CR/LF/^C/^D
        writer = threading.Thread(target=port.write, args=(payload, 5.0))
        writer.start()
        got = read_exactly(t, len(payload))
        writer.join()
        assert got == payload
        t.write(b"\x03\r\n\x00cmd")
        deadline = time.monotonic() + WAIT
        back = b""
        while len(back) < 7 and time.monotonic() < deadline:
            back += port.read(0.1)
        assert back == b"\x03\r\n\x00cmd"
        assert t.read(0.01) == b""  # nothing echoed back
    finally:
        t.close()


def test_unplug_raises_link_lost(port):
    t = SerialTransport(port.path)
    t.open()
    port.write(b"abc")
    assert read_exactly(t, 3) == b"abc"
    port.unplug()
    with pytest.raises(LinkLost):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            t.read(0.05)
    t.close()


def test_missing_port_is_one_clear_line(tmp_path):
    t = ReconnectingTransport(SerialTransport(str(tmp_path / "nope")))
    with pytest.raises(InputError, match="cannot connect to serial .*nope.*does not exist"):
        t.open()


def test_reconnects_after_port_vanishes_and_comes_back(port):
    connected = threading.Event()
    lost = threading.Event()
    connects: list[int] = []

    def on_connect(n: int) -> None:
        connects.append(n)
        connected.set()

    t = ReconnectingTransport(
        SerialTransport(port.path),
        backoff=Backoff(initial=0.01, maximum=0.05),
        on_connect=on_connect,
        on_lost=lambda _e: lost.set(),
    )
    t.open()
    assert connects == [1]
    connected.clear()
    port.write(b"before")
    assert read_exactly(t, 6) == b"before"

    port.unplug()
    deadline = time.monotonic() + WAIT
    while not lost.is_set() and time.monotonic() < deadline:
        assert t.read(0.05) == b""
    assert lost.is_set() and not t.connected
    # while unplugged, reads keep returning promptly (the live view keeps refreshing)
    for _ in range(3):
        assert t.read(0.01) == b""

    port.plug()  # a new pty behind the same stable path
    deadline = time.monotonic() + WAIT
    while not connected.is_set() and time.monotonic() < deadline:
        t.read(0.05)
    assert connects == [1, 2]
    port.write(b"after")
    assert read_exactly(t, 5) == b"after"
    assert t.stats.losses == 1 and t.stats.connects == 2
    t.close()


def test_write_while_down_is_dropped_not_raised(port):
    t = ReconnectingTransport(SerialTransport(port.path), backoff=Backoff(initial=10))
    t.open()
    port.unplug()
    deadline = time.monotonic() + WAIT
    while t.connected and time.monotonic() < deadline:
        t.read(0.05)
    t.write(b"start")  # no exception
    t.close()


def test_open_transport_facade(tmp_path, port):
    t = open_transport(serial=port.path)
    assert isinstance(t, SerialTransport)
    with pytest.raises(InputError):
        open_transport(serial=port.path, ble="x")


def test_micropython_port_heuristics():
    assert looks_like_micropython(0x2E8A, 0x0005)
    assert looks_like_micropython(0x10C4, 0xEA60)
    assert not looks_like_micropython(0x10C4, 0x1234)
    assert not looks_like_micropython(None, None, "ttyS0")
    assert looks_like_micropython(None, None, "Board in FS mode - MicroPython")


def test_pty_path_is_a_real_tty(port):
    fd = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)
