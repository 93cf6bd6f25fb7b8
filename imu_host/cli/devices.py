"""``imu-host devices``: serial ports that look like MicroPython boards, BLE NUS devices."""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

HELP = "list boards: USB serial ports that look like MicroPython, BLE devices with NUS"

_UID_SUFFIX = re.compile(r"-([0-9A-Fa-f]{6})$")  # firmware >= 1.1: "KneeRoll-A1B2C3"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--all", action="store_true", help="list every serial port, not just likely boards"
    )
    p.add_argument("--no-ble", action="store_true", help="skip the Bluetooth scan")
    p.add_argument(
        "--scan-time", type=float, default=4.0, metavar="S", help="BLE scan time (default 4 s)"
    )
    p.add_argument(
        "--probe",
        action="store_true",
        help="connect to each board and show firmware, unique id, self-test and battery",
    )
    p.add_argument(
        "--probe-time", type=float, default=3.0, metavar="S", help="listen per board (3 s)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")


def uid_from_name(name: str) -> str:
    """The unique-id suffix of an advertised name ("KneeRoll-A1B2C3" -> "A1B2C3")."""
    m = _UID_SUFFIX.search(name or "")
    return m.group(1).upper() if m else ""


def probe(transport: Any, seconds: float) -> dict[str, Any]:
    """Open a transport, ask for info, read for up to ``seconds``: what the board says."""
    from imu_host.protocol.frames import (
        DeviceHealth,
        DeviceInfo,
        FrameDecoder,
        StatusFrame,
        encode_command,
    )

    out: dict[str, Any] = {}
    dec = FrameDecoder()
    transport.open()
    try:
        transport.write(encode_command("info", 0, 1))
        end = time.monotonic() + seconds
        while time.monotonic() < end and not ("info" in out and "health" in out):
            for f in dec.feed(transport.read(0.2)):
                if isinstance(f, DeviceInfo):
                    out["info"] = f
                elif isinstance(f, DeviceHealth):
                    out["health"] = f
                elif isinstance(f, StatusFrame):
                    out["status"] = f
    finally:
        transport.close()
    return summarize(out)


def summarize(found: dict[str, Any]) -> dict[str, Any]:
    info, health, status = found.get("info"), found.get("health"), found.get("status")
    res: dict[str, Any] = {}
    if info is not None:
        res["firmware"] = info.firmware_version
        res["sensor"] = info.sensor_model
        res["odr_hz"] = info.odr_hz
        if info.selftest is not None:
            res["selftest"] = "passed" if info.selftest else "FAILED"
    if health is not None:
        res["unique_id"] = health.unique_id
        res["board"] = health.board
        res["selftest"] = health.selftest_text
        if health.gravity_mg:
            res["gravity_mg"] = health.gravity_mg
        if health.battery_mv:
            res["battery_mv"] = health.battery_mv
        res["bus_errors"] = health.bus_errors
    if "battery_mv" not in res and status is not None and status.battery_mv:
        res["battery_mv"] = status.battery_mv
    return res


def _describe(p: dict[str, Any]) -> str:
    if not p:
        return "(no answer)"
    if "error" in p:
        return f"(probe failed: {p['error']})"
    parts = [f"fw {p.get('firmware', '?')}", p.get("sensor", "?")]
    if p.get("unique_id"):
        parts.append(f"id {p['unique_id']}")
    parts.append(f"self-test {p.get('selftest', 'unknown')}")
    if p.get("battery_mv"):
        parts.append(f"battery {p['battery_mv'] / 1000:.2f} V")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from imu_host.errors import InputError
    from imu_host.transport.base import list_devices, open_transport

    if args.scan_time <= 0:
        raise InputError("--scan-time must be > 0")
    listing = list_devices(ble=not args.no_ble, ble_timeout=args.scan_time, all_serial=args.all)
    probes: dict[str, dict[str, Any]] = {}
    if args.probe:
        for d in listing.serial + listing.ble:
            if d.kind == "serial" and not d.likely_board:
                continue
            kw: dict[str, Any] = {"serial": d.address} if d.kind == "serial" else {"ble": d.address}
            try:
                probes[d.address] = probe(open_transport(**kw), args.probe_time)
            except Exception as err:  # a busy port, a board out of range: say so, go on
                probes[d.address] = {"error": str(err) or type(err).__name__}
    if args.json:
        print(
            json.dumps(
                {
                    "serial": [
                        dict(d.to_dict(), **({"probe": probes[d.address]} if args.probe else {}))
                        for d in listing.serial
                    ],
                    "ble": [
                        dict(
                            d.to_dict(),
                            unique_id=uid_from_name(d.name),
                            **({"probe": probes.get(d.address, {})} if args.probe else {}),
                        )
                        for d in listing.ble
                    ],
                    "ble_error": listing.ble_error,
                },
                indent=2,
            )
        )
        return 0
    print("Serial ports" + ("" if args.all else " (likely MicroPython boards)") + ":")
    if not listing.serial:
        print("  none found" + ("" if args.all else " (try --all)"))
    for d in listing.serial:
        mark = "" if d.likely_board or not args.all else "  (not a known board)"
        print(f"  {d.address:<24} {d.detail:<20} {d.name}{mark}")
        if d.address in probes:
            print(f"  {'':<24} {_describe(probes[d.address])}")
    if args.no_ble:
        return 0
    print("Bluetooth LE (Nordic UART Service):")
    if listing.ble_error:
        print(f"  {listing.ble_error}")
    elif not listing.ble:
        print("  none found")
    for d in listing.ble:
        uid = uid_from_name(d.name)
        print(f"  {d.address:<24} {d.detail:<20} {d.name}" + (f"  (id {uid})" if uid else ""))
        if d.address in probes:
            print(f"  {'':<24} {_describe(probes[d.address])}")
    if listing.ble and not args.probe:
        first = listing.ble[0].name or listing.ble[0].address
        print(f"  (select one with --ble NAME or ADDRESS, e.g. --ble {first})")
    return 0
