# MicroPython test harness: firmware streamer + driver (auto-detected) on a fake I2C bus.
# usage: micropython mp_run_fake.py KEY=VALUE ...
#   sensor=mpu6050|mpu6500|lsm6ds3|lsm6dso  motion=PATH(float32 x6 per sample)  out=PATH
#   seconds=F step_us=N stall_every=N stall_us=N heap_lock=0|1 spf=N rate=HZ
#   cmds=PATH (host command bytes) cmd_at_s=F (when the host sends them) warmup_s=F
# Prints one JSON line with what happened.
import json
import sys
from array import array

import imu
import micropython
from fake_i2c import FakeClock, FakeI2C, FakeLSM6, FakeMPU
from memlink import MemLink
from streamer import Streamer

SENSORS = {
    "mpu6050": (FakeMPU, 0x68, 0x68),
    "mpu6500": (FakeMPU, 0x70, 0x69),
    "lsm6ds3": (FakeLSM6, 0x69, 0x6A),
    "lsm6dso": (FakeLSM6, 0x6C, 0x6B),
}


def main():
    a = {
        "seconds": "3",
        "step_us": "1000",
        "stall_every": "0",
        "stall_us": "0",
        "heap_lock": "0",
        "spf": "4",
        "rate": "100",
        "cmds": "",
        "cmd_at_s": "1.0",
        "warmup_s": "0.2",
        "max_write": "0",
    }
    for arg in sys.argv[1:]:
        k, v = arg.split("=", 1)
        a[k] = v
    with open(a["motion"], "rb") as f:
        motion = array("f", f.read())
    clock = FakeClock(start=int(a.get("clock_start", "1000")))
    cls, who, addr = SENSORS[a["sensor"]]
    dev = cls(clock, motion, who)
    dev.rate_error_ppm = int(a.get("rate_error_ppm", "0"))
    bus = FakeI2C({addr: dev})
    sensor = imu.detect(bus, int(a["rate"]), 4, 500, fifo=a.get("fifo", "1") == "1")
    link = MemLink(capacity=2 << 20, max_write=int(a["max_write"]))
    if a["cmds"]:
        with open(a["cmds"], "rb") as f:
            link.inp = bytearray(f.read())
    cmds2 = b""
    if a.get("cmds2"):
        with open(a["cmds2"], "rb") as f:
            cmds2 = f.read()
    cmd2_at = clock.now + int(float(a.get("cmd2_at_s", "2.0")) * 1e6)
    s = Streamer(sensor, link, spf=int(a["spf"]), clock=clock.ticks_us)
    step = int(a["step_us"])
    stall_every = int(a["stall_every"])
    stall_us = int(a["stall_us"])
    end_us = clock.now + int(float(a["seconds"]) * 1e6)
    warm_end = clock.now + int(float(a["warmup_s"]) * 1e6)
    cmd_at = clock.now + int(float(a["cmd_at_s"]) * 1e6)
    ninp = len(link.inp)
    polls = 0
    # warm-up runs unlocked (first frames, lazily created objects), then the loop is locked
    while clock.now < warm_end:
        s.poll()
        clock.now += step
        polls += 1
    locked = a["heap_lock"] == "1"
    mem_before = 0
    if locked:
        import gc

        gc.collect()
        mem_before = micropython.mem_current() if hasattr(micropython, "mem_current") else 0
        micropython.heap_lock()
    try:
        while clock.now < end_us:
            if ninp and clock.now >= cmd_at:
                link.send_from_host(ninp)
                ninp = 0
            if cmds2 and clock.now >= cmd2_at:
                if locked:
                    micropython.heap_unlock()
                link.inp = link.inp + cmds2  # (test setup, not firmware: may allocate)
                link.send_from_host(len(cmds2))
                cmds2 = b""
                if locked:
                    micropython.heap_lock()
            s.poll()
            polls += 1
            if stall_every and polls % stall_every == 0:
                clock.now += stall_us  # e.g. a slow BLE write blocked the loop
            clock.now += step
    finally:
        if locked:
            micropython.heap_unlock()
    s._flush()
    s.send_status(clock.now & 0x3FFFFFFF)  # final counters
    with open(a["out"], "wb") as f:
        f.write(memoryview(link.out)[: link.pos])
    print(
        json.dumps(
            {
                "driver": sensor.name,
                "first_index": dev.first_index,
                "produced": dev.produced,
                "seq": s.seq,
                "lost": s.lost,
                "dropped": s.dropped,
                "overflows": sensor.overflows,
                "frames_sent": s.frames_sent,
                "polls": polls,
                "bytes": link.pos,
                "heap_locked": locked,
                "mem_before": mem_before,
                "t_start": dev.t_start,
                "period_us": dev.period_us,
                "commands_ok": s.cmd.ok,
                "commands_bad": s.cmd.bad,
                "spf": s.spf,
            }
        )
    )


main()
