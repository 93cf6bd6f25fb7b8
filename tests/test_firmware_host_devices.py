"""Issue 11: `imu-host devices` shows each board's unique id (BLE name suffix) and, with
--probe, its firmware version, self-test result and battery from the info / DEVICE /
status frames (here: bytes the host encoders make, fed through a fake transport)."""

from __future__ import annotations

import argparse
import json

from imu_host.cli import devices as cmd_devices
from imu_host.protocol.frames import (
    DeviceHealth,
    DeviceInfo,
    StatusFrame,
    encode_device,
    encode_info,
    encode_status,
)
from imu_host.transport.base import DeviceEntry, DeviceListing


def _stream() -> bytes:
    info = DeviceInfo(
        1,
        "1.1.0",
        1,
        "MPU-6050",
        0x68,
        6,
        4,
        100.0,
        4,
        500,
        1 / 8192,
        1 / 65.5,
        (1, 2, 3),
        30,
        "ble",
        False,
        0,
        0,
        True,
    )
    health = DeviceHealth("246F28A1B2C3", 0x8F, 1002, 3870, 0, 0, 0, 0, 0, "esp32")
    st = StatusFrame(0, 0, 0, 0, 0, 3870, True, True, False)
    return b"\x00garbage" + encode_info(info) + encode_status(st) + encode_device(health)


class FakeTransport:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = b""
        self.opened = self.closed = False

    def open(self) -> None:
        self.opened = True

    def write(self, b: bytes) -> None:
        self.sent += b

    def read(self, timeout: float) -> bytes:
        d, self.data = self.data[:7], self.data[7:]  # in small pieces
        return d

    def close(self) -> None:
        self.closed = True


def _run(monkeypatch, capsys, *argv: str) -> str:
    import imu_host.transport.base as tr

    listing = DeviceListing(
        [],
        [
            DeviceEntry("ble", "AA:BB:CC:DD:EE:01", "KneeRoll-A1B2C3", "RSSI -60 dBm"),
            DeviceEntry("ble", "AA:BB:CC:DD:EE:02", "KneeRoll", "RSSI -70 dBm"),
        ],
    )
    monkeypatch.setattr(tr, "list_devices", lambda **k: listing)
    made = []

    def fake_open(**kw):
        t = FakeTransport(_stream() if kw.get("ble", "").endswith("01") else b"")
        made.append(t)
        return t

    monkeypatch.setattr(tr, "open_transport", fake_open)
    p = argparse.ArgumentParser()
    cmd_devices.add_arguments(p)
    assert cmd_devices.run(p.parse_args(list(argv))) == 0
    for t in made:
        assert t.closed and b"\xa5\x5a\x10" in t.sent  # asked for an info frame
    return capsys.readouterr().out


def test_devices_shows_the_unique_id_from_the_advertised_name(monkeypatch, capsys):
    out = _run(monkeypatch, capsys, "--scan-time", "0.1")
    assert "KneeRoll-A1B2C3  (id A1B2C3)" in out and "--ble KneeRoll-A1B2C3" in out


def test_devices_probe_shows_firmware_selftest_battery(monkeypatch, capsys):
    out = _run(monkeypatch, capsys, "--scan-time", "0.1", "--probe", "--probe-time", "0.5")
    assert "fw 1.1.0, MPU-6050, id 246F28A1B2C3, self-test passed, battery 3.87 V" in out
    assert "(no answer)" in out  # the second board said nothing
    js = json.loads(
        _run(monkeypatch, capsys, "--scan-time", "0.1", "--probe", "--probe-time", "0.5", "--json")
    )
    b = js["ble"][0]
    assert b["unique_id"] == "A1B2C3" and b["probe"]["battery_mv"] == 3870
    assert b["probe"]["gravity_mg"] == 1002 and b["probe"]["board"] == "esp32"
