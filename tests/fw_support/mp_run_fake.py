# MicroPython test harness: firmware streamer + driver (auto-detected) on a fake I2C bus.
# usage: micropython mp_run_fake.py KEY=VALUE ...
#   sensor=mpu6050|mpu6500|lsm6ds3|lsm6dso  motion=PATH(float32 x6 per sample)  out=PATH
#   seconds=F step_us=N stall_every=N stall_us=N heap_lock=0|1 spf=N rate=HZ
#   cmds=PATH (host command bytes) cmd_at_s=F (when the host sends them) warmup_s=F
#   who=0xNN (WHO_AM_I the fake answers) freq=HZ (timed I2C bus: the clock advances per
#   byte) fault_t0_s=F fault_t1_s=F fault_errno=N (every transaction fails in that
#   window) fault_power_cycle=1 (the sensor loses its configuration in it)
#   corrupt_every=N (DSO: bad tag parity) gyro_delay_slots=N backfill=N (ring samples)
#   link=mem|stall stall_t0_s stall_t1_s (USB host holds the port but stops reading)
#   selftest=1 idle_after_s=F
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
    if "motion_scale" in a:  # e.g. a wrong accelerometer scale: |g| = 1.2 at rest
        k = float(a["motion_scale"])
        for i in range(len(motion)):
            if i % 6 < 3:
                motion[i] *= k
    clock = FakeClock(start=int(a.get("clock_start", "1000")))
    cls, who, addr = SENSORS[a["sensor"]]
    if "who" in a:
        who = int(a["who"], 16)
    dev = cls(clock, motion, who)
    dev.rate_error_ppm = int(a.get("rate_error_ppm", "0"))
    if "corrupt_every" in a:
        dev.corrupt_every = int(a["corrupt_every"])
    if "gyro_delay_slots" in a:
        dev.gyro_delay_slots = int(a["gyro_delay_slots"])
    bus = FakeI2C({addr: dev}, clock=clock, freq=int(a.get("freq", "0")))
    sensor = imu.detect(bus, int(a["rate"]), 4, 500, fifo=a.get("fifo", "1") == "1")
    if "fault_t0_s" in a:
        t0 = clock.now + int(float(a["fault_t0_s"]) * 1e6)
        t1 = clock.now + int(float(a["fault_t1_s"]) * 1e6)
        bus.window = (t0, t1, int(a.get("fault_errno", "110")))
        if a.get("fault_power_cycle") == "1":
            bus.after_window = dev.power_cycle
    if a.get("link") == "stall":
        from link_serial import SerialLink
        from memlink import StallingUsb

        sink = StallingUsb(
            clock,
            clock.now + int(float(a.get("stall_t0_s", "1")) * 1e6),
            clock.now + int(float(a.get("stall_t1_s", "2")) * 1e6),
        )
        link = SerialLink(sink, None, clock=clock.ticks_us, stall_ms=20)
        link._poller = None
        link.inp = bytearray(0)  # (the harness feeds no commands on this link)
    else:
        link = sink = MemLink(capacity=2 << 20, max_write=int(a["max_write"]))
    if a["cmds"]:
        with open(a["cmds"], "rb") as f:
            link.inp = bytearray(f.read())
    cmds2 = b""
    if a.get("cmds2"):
        with open(a["cmds2"], "rb") as f:
            cmds2 = f.read()
    cmd2_at = clock.now + int(float(a.get("cmd2_at_s", "2.0")) * 1e6)
    selftest = None
    if a.get("selftest") == "1":
        import selftest as st_mod

        def advance():
            clock.now += 1000

        selftest = st_mod.run(sensor, clock.ticks_us, advance)
    kw = {}  # only what a run asks for (so an older firmware can run the same harness)
    if selftest is not None:
        kw["selftest"] = selftest
    if "backfill" in a:
        kw["backfill_samples"] = int(a["backfill"])
    if int(a.get("freq", "0")):
        kw["bus_hz"] = int(a["freq"])
    try:
        s = Streamer(sensor, link, spf=int(a["spf"]), clock=clock.ticks_us, **kw)
    except TypeError:  # an older firmware without these options
        s = Streamer(sensor, link, spf=int(a["spf"]), clock=clock.ticks_us)
    step = int(a["step_us"])
    stall_every = int(a["stall_every"])
    stall_us = int(a["stall_us"])
    end_us = clock.now + int(float(a["seconds"]) * 1e6)
    warm_end = clock.now + int(float(a["warmup_s"]) * 1e6)
    cmd_at = clock.now + int(float(a["cmd_at_s"]) * 1e6)
    ninp = len(link.inp) if isinstance(link, MemLink) else 0
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
        f.write(memoryview(sink.out)[: sink.pos])
    extra = {
        "bus_errors": getattr(s, "bus_errors", 0),
        "reinits": getattr(s, "reinits", 0),
        "discarded_batches": getattr(s, "discarded_batches", 0),
        "dev_errors": bus.errors,
        "resets_ignored": getattr(dev, "resets_ignored", 0),
        "power_cycles": getattr(dev, "power_cycles", 0),
        "dev_overflowed": dev.overflowed,
        "bad_tags_injected": getattr(dev, "bad_tags", 0),
        "link_drops": getattr(link, "drops", 0),
        "backfilled": getattr(s, "backfilled", 0),
        "max_write_us": getattr(link, "max_write_us", 0),
        "selftest": list(selftest) if selftest else None,
        "clock_end": clock.now,
    }
    res = {
        "driver": sensor.name,
        "first_index": dev.first_index,
        "produced": dev.produced,
        "seq": s.seq,
        "lost": s.lost,
        "dropped": s.dropped,
        "overflows": sensor.overflows,
        "frames_sent": s.frames_sent,
        "polls": polls,
        "bytes": sink.pos,
        "heap_locked": locked,
        "mem_before": mem_before,
        "t_start": dev.t_start,
        "period_us": dev.period_us,
        "commands_ok": s.cmd.ok,
        "commands_bad": s.cmd.bad,
        "spf": s.spf,
    }
    res.update(extra)
    print(json.dumps(res))


main()
