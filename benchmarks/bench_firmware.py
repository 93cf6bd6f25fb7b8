"""Per-sample cost of the firmware sample loop under the MicroPython Unix port.

    .venv/bin/python benchmarks/bench_firmware.py [--seconds 20]

Runs the real firmware modules (streamer, wire, drivers) in `micropython` and prints a
table: microseconds of loop time per sample for the simulated IMU and for the fake
MPU-6050 / LSM6DS3 on a fake I2C bus (the fake bus emulation is included in those
numbers, so they are upper bounds of the firmware's own cost), plus frame sizes and
link bytes, frames and link writes (BLE notifications) per second at 100 Hz. Numbers
are for this PC, not a board: expect an ESP32 or RP2040 to be much slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MP = Path(sys.prefix) / "bin" / "micropython"

MP_SCRIPT = r"""
import sys, time, json
from array import array
import micropython, gc
from streamer import Streamer
import wire, imu
from drv_sim import SimIMU
from fake_i2c import FakeClock, FakeI2C, FakeMPU, FakeLSM6
from memlink import MemLink

SECONDS = float(sys.argv[1])
results = []

def bench(name, sensor, clock, spf, max_write=0, ble=False):
    if ble:
        import bluetooth
        from link_ble import BleNusLink
        b = bluetooth.BLE(log_capacity=4 << 20, max_notifications=1 << 18)
        link = BleNusLink("bench", bluetooth=bluetooth, ble=b, clock=clock.ticks_us)
        b.sim_connect()
        if max_write:
            b.sim_mtu(max_write + 3)
    else:
        link = MemLink(capacity=4 << 20, max_write=max_write)
    s = Streamer(sensor, link, spf=spf, clock=clock.ticks_us)
    s.poll()
    n = int(SECONDS * 100)
    gc.collect()
    micropython.heap_lock()
    t0 = time.ticks_us()
    done = 0
    while done < n:
        clock.now += 10000  # one sample period per poll
        done += s.poll()
    dt = time.ticks_diff(time.ticks_us(), t0)
    micropython.heap_unlock()
    sent = link.pos if not ble else b.log_pos
    packets = link.writes if not ble else b.notes
    results.append({"name": name, "spf": s.spf, "us_per_sample": dt / done, "samples": done,
                    "bytes": sent, "frames": s.frames_sent, "packets": packets})

motion = array("f", [0.0, 0.0, 1.0, 0.0, 0.0, 0.0] * 100)
for spf in (1, 4, 8):
    c = FakeClock()
    sim = SimIMU([("still", 2.0)], realtime=True, clock=c.ticks_us, loop=True)
    bench("sim IMU -> serial", sim, c, spf)
for spf in (1, 4):
    c = FakeClock()
    d = FakeMPU(c, motion, 0x68)
    bench("fake MPU-6050 FIFO -> serial", imu.detect(FakeI2C({0x68: d})), c, spf)
    c = FakeClock()
    d = FakeLSM6(c, motion, 0x69)
    bench("fake LSM6DS3 FIFO -> serial", imu.detect(FakeI2C({0x6A: d})), c, spf)
    c = FakeClock()
    d = FakeLSM6(c, motion, 0x6C)
    bench("fake LSM6DSO tagged FIFO -> serial", imu.detect(FakeI2C({0x6B: d})), c, spf)
    c = FakeClock()
    d = FakeLSM6(c, motion, 0x69)
    bench("fake LSM6DS3 data-ready -> serial", imu.detect(FakeI2C({0x6A: d}), fifo=False), c, spf)
for mtu in (23, 185, 247):
    c = FakeClock()
    sim = SimIMU([("still", 2.0)], realtime=True, clock=c.ticks_us, loop=True)
    bench("sim IMU -> BLE NUS MTU %d" % mtu, sim, c, 4, max_write=mtu - 3, ble=True)

# the parts: CRC over a 4-sample frame (viper and pure), frame finish
fb = wire.SampleFrameBuf(20, 6)
t0 = time.ticks_us()
for i in range(2000):
    wire.crc16(fb.buf, 2, 64)
crc_us = time.ticks_diff(time.ticks_us(), t0) / 2000
t0 = time.ticks_us()
for i in range(2000):
    wire.crc16_pure(fb.buf, 2, 64)
crc_pure_us = time.ticks_diff(time.ticks_us(), t0) / 2000
t0 = time.ticks_us()
for i in range(2000):
    fb.finish(4, i, i, 10000)
fin_us = time.ticks_diff(time.ticks_us(), t0) / 2000
print(json.dumps({"results": results, "crc16_66B_us": crc_us, "finish_4_us": fin_us,
                  "crc16_pure_66B_us": crc_pure_us, "crc_impl": wire.CRC_IMPL,
                  "sizes": {"samples_n": [wire.samples_frame_size(n, 6) for n in range(1, 21)],
                            "status": wire.frame_size(wire.STATUS_LEN),
                            "ack": wire.frame_size(wire.ACK_LEN),
                            "command": wire.frame_size(wire.COMMAND_LEN),
                            "info_sim": wire.frame_size(wire.INFO_FIXED + 1 + 3),
                            "info_mpu6050": wire.frame_size(wire.INFO_FIXED + 1 + 8)}}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per case")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the fastest is reported")
    args = ap.parse_args()
    if not MP.exists():
        print(f"MicroPython Unix port not found at {MP}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as td:
        script = Path(td) / "bench_mp.py"
        script.write_text(MP_SCRIPT)
        env = dict(
            os.environ,
            MICROPYPATH=f"{ROOT / 'firmware_micropython'}:{ROOT / 'tests' / 'fw_support'}",
        )
        runs = []
        for _ in range(max(1, args.repeat)):
            r = subprocess.run(
                [str(MP), "-X", "heapsize=64M", str(script), str(args.seconds)],
                capture_output=True,
                text=True,
                env=env,
                cwd=td,
            )
            if r.returncode != 0:
                print(r.stderr, file=sys.stderr)
                return 1
            runs.append(json.loads(r.stdout))
    res = runs[0]
    for i, x in enumerate(res["results"]):
        x["us_per_sample"] = min(run["results"][i]["us_per_sample"] for run in runs)
    res["crc16_66B_us"] = min(run["crc16_66B_us"] for run in runs)
    res["crc16_pure_66B_us"] = min(run["crc16_pure_66B_us"] for run in runs)
    res["finish_4_us"] = min(run["finish_4_us"] for run in runs)
    print(
        f"MicroPython Unix port, {args.seconds:g} s of 100 Hz samples per case, heap locked,"
        f" best of {max(1, args.repeat)}"
    )
    print("(writes/s = link writes; on BLE = notifications/s)")
    print(
        f"{'case':34} {'spf':>4} {'us/sample':>10} {'bytes/s':>8} {'frames/s':>9} {'writes/s':>9}"
    )
    for x in res["results"]:
        secs = x["samples"] / 100.0
        print(
            f"{x['name']:34} {x['spf']:>4} {x['us_per_sample']:>10.1f} "
            f"{x['bytes'] / secs:>8.0f} {x['frames'] / secs:>9.1f} {x['packets'] / secs:>9.1f}"
        )
    print(
        f"\ncrc16 over a 66-byte frame: {res['crc_impl']} {res['crc16_66B_us']:.2f} us,"
        f" pure Python {res['crc16_pure_66B_us']:.2f} us"
        f" ({res['crc16_pure_66B_us'] / res['crc16_66B_us']:.0f}x);"
        f" finishing a 4-sample frame (header + CRC): {res['finish_4_us']:.1f} us"
    )
    sz = res["sizes"]
    print(
        "\nframe sizes (bytes): samples n=1..8: "
        + ", ".join(str(v) for v in sz["samples_n"][:8])
        + f"; n=20: {sz['samples_n'][19]}; status {sz['status']}; ack {sz['ack']};"
        f" command {sz['command']}; info {sz['info_mpu6050']} (MPU-6050 name)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
