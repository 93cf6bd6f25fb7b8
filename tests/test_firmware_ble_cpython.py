"""The firmware's BLE NUS module imports and works under CPython too (with a stand-in
`bluetooth` module), so a host-side BLE stack (e.g. Bumble) can drive the same code."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from imu_host.protocol.frames import FrameDecoder, encode_command, encode_samples

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def fw(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "fw_support"))
    monkeypatch.syspath_prepend(str(ROOT / "firmware_micropython"))
    for name in ("link_ble", "bluetooth"):
        sys.modules.pop(name, None)
    link_ble = importlib.import_module("link_ble")
    bluetooth = importlib.import_module("bluetooth")
    yield link_ble, bluetooth
    for name in ("link_ble", "bluetooth"):
        sys.modules.pop(name, None)


def test_notifications_respect_the_mtu_and_reassemble(fw):
    link_ble, bluetooth = fw
    ble = bluetooth.BLE()
    link = link_ble.BleNusLink("Knee", bluetooth=bluetooth, ble=ble)
    frame = encode_samples(7, 1000, 10_000, [[1, 2, 3, 4, 5, 6]] * 8)  # 114 bytes
    assert not link.write(frame)  # nobody connected: refused (counted as dropped)
    ble.sim_connect()
    assert link.write(frame)  # default MTU 23: split into 20-byte notifications
    assert [ble.note_len[i] for i in range(ble.notes)] == [20] * 5 + [14]
    ble.sim_mtu(185)
    assert link.max_write == 182
    assert link.write(frame)  # fits one notification now
    assert ble.notes == 7 and ble.note_len[6] == 114 and ble.oversize == 0
    frames = FrameDecoder().feed(bytes(ble.log[: ble.log_pos]))
    assert (
        len(frames) == 2
        and frames[0].seq == 7
        and frames[1].counts.tolist()[7] == [1, 2, 3, 4, 5, 6]
    )


def test_rx_writes_are_queued_and_disconnect_readvertises(fw):
    link_ble, bluetooth = fw
    ble = bluetooth.BLE()
    link = link_ble.BleNusLink("Knee", bluetooth=bluetooth, ble=ble)
    ble.sim_connect()
    cmd = encode_command("ping", 0, 5) + encode_command("info", 0, 6)
    ble.sim_write(link.rx_handle, cmd[:10])
    ble.sim_write(link.rx_handle, cmd[10:])
    buf = bytearray(64)
    n = link.read_into(buf)
    assert bytes(buf[:n]) == cmd
    assert link.read_into(buf) == 0
    assert len(ble.adverts) == 1
    ble.sim_disconnect()
    assert not link.connected and len(ble.adverts) == 2 and link.max_write == 20
    ble.sim_connect(65)
    assert link.connected and link.conn == 65


def test_notify_failure_is_reported_not_raised(fw):
    link_ble, bluetooth = fw
    ble = bluetooth.BLE()
    link = link_ble.BleNusLink("Knee", bluetooth=bluetooth, ble=ble)
    ble.sim_connect()
    ble.fail_notify = True  # the stack's buffers are full
    assert not link.write(b"\xa5\x5a" + bytes(40))
    assert link.notify_errors == 1
