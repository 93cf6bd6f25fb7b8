"""BLE transport through bleak's public API, backed by Bumble's in-process virtual link.

Real ATT/GATT traffic: scan (name + NUS service), connect, MTU exchange, discovery,
CCCD write, notifications cut to ATT_MTU-3, write commands, disconnection events.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest

pytest.importorskip("bumble")

from bumble_backend import BOARD_ADDRESS, BumbleWorld  # noqa: E402

from imu_host.errors import InputError  # noqa: E402
from imu_host.transport.base import (  # noqa: E402
    Backoff,
    LinkLost,
    ReconnectingTransport,
    list_devices,
    open_transport,
)
from imu_host.transport.ble import BleTransport, BluetoothUnavailable, scan_nus  # noqa: E402

WAIT = 20.0


def make_world(loop, **kw) -> BumbleWorld:
    world = BumbleWorld(loop, **kw)
    world.run(world.start())
    return world


def ble(world: BumbleWorld, target: str = "KneeRoll") -> BleTransport:
    client, scanner = world.backends()
    return BleTransport(
        target, client_backend=client, scanner_backend=scanner, loop=world.loop, scan_timeout=5
    )


def read_n(t, n: int) -> bytes:
    buf = bytearray()
    deadline = time.monotonic() + WAIT
    while len(buf) < n and time.monotonic() < deadline:
        buf += t.read(0.1)
    return bytes(buf)


def test_scan_finds_board_by_service_with_name_address_rssi(loop):
    world = make_world(loop)
    _client, scanner = world.backends()
    found = scan_nus(0.5, scanner_backend=scanner, loop=loop)
    assert [(d.kind, d.address, d.name) for d in found] == [("ble", BOARD_ADDRESS, "KneeRoll")]
    assert found[0].detail.startswith("RSSI ") and found[0].detail.endswith(" dBm")


def test_devices_listing_includes_ble(loop):
    world = make_world(loop)
    _client, scanner = world.backends()
    listing = list_devices(ble_timeout=0.5, scanner_backend=scanner, ble_loop=loop)
    assert [d.address for d in listing.ble] == [BOARD_ADDRESS]
    assert listing.ble_error is None


class _NoBusScanner:
    """Stands in for BlueZ without a system bus: bleak raises plain FileNotFoundError."""

    def __init__(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")


def test_no_bluetooth_is_one_clear_line():
    with pytest.raises(BluetoothUnavailable, match="Bluetooth is not available"):
        scan_nus(0.1, scanner_backend=_NoBusScanner)
    listing = list_devices(ble_timeout=0.1, scanner_backend=_NoBusScanner)
    assert listing.ble == [] and "Bluetooth is not available" in listing.ble_error


@pytest.mark.parametrize("mtu", [23, 64, 185, 247])
def test_notify_stream_cut_to_mtu(loop, mtu):
    world = make_world(loop, board_mtu=mtu, client_mtu=247)
    t = ble(world)
    t.open()
    try:
        assert t.mtu == mtu
        payload = bytes((i * 7 + 3) & 0xFF for i in range(3000))
        world.run(world.board.send(payload))
        assert read_n(t, len(payload)) == payload
        assert world.board.notifications_sent == math.ceil(len(payload) / (mtu - 3))
        assert t.notifications == world.board.notifications_sent
    finally:
        t.close()


def test_several_small_sends_arrive_in_order(loop):
    world = make_world(loop)
    t = ble(world)
    t.open()
    try:
        parts = [bytes([i]) * (1 + i % 13) for i in range(200)]
        for p in parts:
            world.run(world.board.send(p))
        assert read_n(t, sum(map(len, parts))) == b"".join(parts)
    finally:
        t.close()


def test_rx_commands_reach_board(loop):
    world = make_world(loop, board_mtu=23)
    t = ble(world, BOARD_ADDRESS)  # by address this time
    t.open()
    try:
        cmd = bytes(range(50)) + b"start"
        t.write(cmd)
        deadline = time.monotonic() + WAIT
        while bytes(world.board.received) != cmd and time.monotonic() < deadline:
            world.run(asyncio.wait_for(world.board.rx_event.wait(), WAIT))
            world.board.rx_event.clear()
        assert bytes(world.board.received) == cmd
    finally:
        t.close()


def test_unknown_name_fails_clearly(loop):
    world = make_world(loop)
    client, scanner = world.backends()
    t = BleTransport(
        "NOPE", client_backend=client, scanner_backend=scanner, loop=loop, scan_timeout=0.3
    )
    with pytest.raises(InputError, match="no BLE device 'NOPE'"):
        ReconnectingTransport(t).open()


def test_disconnect_then_reconnect_and_stale_notifications_dropped(loop):
    world = make_world(loop, board_mtu=64)
    connected = threading.Event()
    lost = threading.Event()
    connects: list[int] = []

    def on_connect(n: int) -> None:
        connects.append(n)
        connected.set()

    t = ReconnectingTransport(
        ble(world),
        backoff=Backoff(initial=0.01, maximum=0.1),
        on_connect=on_connect,
        on_lost=lambda _e: lost.set(),
    )
    t.open()
    connected.clear()
    world.run(world.board.send(b"first"))
    assert read_n(t, 5) == b"first"

    inner: BleTransport = t.inner  # type: ignore[assignment]
    # a notification queued from the old connection must not leak into the new one
    inner._q.put((inner._generation - 1, b"STALE"))
    world.run(world.board.drop_link())
    deadline = time.monotonic() + WAIT
    while not connected.is_set() and time.monotonic() < deadline:
        assert t.read(0.1) == b""
    assert lost.is_set() and connects == [1, 2]
    world.run(asyncio.wait_for(world.board.subscribed.wait(), WAIT))
    world.run(world.board.send(b"second"))
    assert read_n(t, 6) == b"second"
    assert t.stats.losses == 1
    t.close()


def test_open_transport_facade_ble(loop):
    world = make_world(loop)
    client, scanner = world.backends()
    t = open_transport(
        ble="KneeRoll", client_backend=client, scanner_backend=scanner, ble_loop=loop
    )
    assert isinstance(t, BleTransport)
    t.open()
    t.close()


def test_read_before_open_raises_link_lost():
    t = BleTransport("x")
    with pytest.raises(LinkLost):
        t.read(0.01)


def test_auto_picks_the_only_board(loop, monkeypatch):
    from imu_host.transport import serial as transport_serial

    monkeypatch.setattr(transport_serial, "list_serial_ports", lambda all_ports=False: [])
    world = make_world(loop)
    client, scanner = world.backends()
    t = open_transport(
        client_backend=client, scanner_backend=scanner, ble_loop=loop, ble_timeout=0.5
    )
    assert isinstance(t, BleTransport) and t.target == BOARD_ADDRESS


def test_auto_with_no_board_is_one_clear_line(monkeypatch):
    from imu_host.transport import serial as transport_serial

    monkeypatch.setattr(transport_serial, "list_serial_ports", lambda all_ports=False: [])
    with pytest.raises(InputError, match="no board found.*Bluetooth is not available"):
        open_transport(scanner_backend=_NoBusScanner, ble_timeout=0.1)


def test_ble_target_matches_full_name_prefix_and_unique_id():
    """Boards advertise KneeRoll-<unique id> (firmware README); --ble KneeRoll still finds one."""
    from imu_host.transport.ble import name_matches

    assert name_matches("KneeRoll", "KneeRoll")  # older firmware
    assert name_matches("KneeRoll", "KneeRoll-A1B2C3")  # the prefix alone
    assert name_matches("kneeroll-a1b2c3", "KneeRoll-A1B2C3")  # full name, any case
    assert name_matches("A1B2C3", "KneeRoll-A1B2C3")  # the unique id alone
    assert not name_matches("KneeRoll-D4E5F6", "KneeRoll-A1B2C3")  # another board
    assert not name_matches("Knee", "KneeRoll-A1B2C3")  # not a name prefix
    assert not name_matches("KneeRoll", None)
    assert not name_matches("", "KneeRoll")
