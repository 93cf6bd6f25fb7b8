"""``imu-host devices``: serial ports that look like MicroPython boards, BLE NUS devices."""

from __future__ import annotations

import argparse
import json

HELP = "list boards: USB serial ports that look like MicroPython, BLE devices with NUS"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--all", action="store_true", help="list every serial port, not just likely boards"
    )
    p.add_argument("--no-ble", action="store_true", help="skip the Bluetooth scan")
    p.add_argument(
        "--scan-time", type=float, default=4.0, metavar="S", help="BLE scan time (default 4 s)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from imu_host.errors import InputError
    from imu_host.transport.base import list_devices

    if args.scan_time <= 0:
        raise InputError("--scan-time must be > 0")
    listing = list_devices(ble=not args.no_ble, ble_timeout=args.scan_time, all_serial=args.all)
    if args.json:
        print(
            json.dumps(
                {
                    "serial": [d.to_dict() for d in listing.serial],
                    "ble": [d.to_dict() for d in listing.ble],
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
    if args.no_ble:
        return 0
    print("Bluetooth LE (Nordic UART Service):")
    if listing.ble_error:
        print(f"  {listing.ble_error}")
    elif not listing.ble:
        print("  none found")
    for d in listing.ble:
        print(f"  {d.address:<24} {d.detail:<20} {d.name}")
    return 0
