# MicroPython test harness: BLE scenarios for issue 11 (streamer + BleNusLink on the
# stand-in bluetooth module with a stack profile, fake MPU-6050, virtual clock).
# usage: micropython mp_run_ble_scenarios.py motion=PATH out=PATH scenario=NAME [k=v ...]
#   scenario=btstack   5 s connected at MTU 23, link drains `per_event` per `interval_us`
#   scenario=backfill  connect 1 s, disconnect `gap_s`, reconnect 3 s (ring: backfill=N)
#   scenario=idle      nobody connects for idle_after_s + 2 s, then a central connects
# Prints one JSON line.
import json
import sys
from array import array

import bluetooth
import imu
import micropython
from fake_i2c import FakeClock, FakeI2C, FakeMPU
from link_ble import BleNusLink
from streamer import Streamer


def main():
    a = {"scenario": "btstack", "stack": "btstack", "interval_us": "45000", "per_event": "3"}
    for arg in sys.argv[1:]:
        k, v = arg.split("=", 1)
        a[k] = v
    with open(a["motion"], "rb") as f:
        motion = array("f", f.read())
    clock = FakeClock()
    dev = FakeMPU(clock, motion, 0x68)
    sensor = imu.detect(FakeI2C({0x68: dev}), 100, 4, 500)
    stack = a["stack"] if a["stack"] != "none" else None
    ble = bluetooth.BLE(
        stack=stack, interval_us=int(a["interval_us"]), per_event=int(a["per_event"])
    )
    try:
        link = BleNusLink("KneeTest", bluetooth=bluetooth, ble=ble, clock=clock.ticks_us)
    except TypeError:  # an older firmware
        link = BleNusLink("KneeTest", bluetooth=bluetooth, ble=ble)
    kw = {}
    if "backfill" in a:
        kw["backfill_samples"] = int(a["backfill"])
    if "idle_after_s" in a:
        kw["idle_after_ms"] = int(float(a["idle_after_s"]) * 1000)
    try:
        s = Streamer(sensor, link, spf=int(a.get("spf", "4")), clock=clock.ticks_us, **kw)
    except TypeError:  # an older firmware without these options
        s = Streamer(sensor, link, spf=int(a.get("spf", "4")), clock=clock.ticks_us)
    marks = {}

    locked = a.get("heap_lock") == "1"

    def run(seconds, lock=True):
        end = clock.now + int(seconds * 1e6)
        if lock and locked:
            micropython.heap_lock()
        try:
            while clock.now < end:
                s.poll()
                ble.sim_run(clock.now)
                clock.now += 1000
        finally:
            if lock and locked:
                micropython.heap_unlock()

    sc = a["scenario"]
    if sc == "btstack":
        ble.sim_connect()
        ble.sim_conn_update(int(a["interval_us"]))
        run(5.0)
    elif sc == "backfill":
        ble.sim_connect()
        ble.sim_mtu(185)
        run(0.05, lock=False)  # (re-fitting frames to the new MTU may allocate)
        run(1.0)
        ble.sim_disconnect()
        run(0.01, lock=False)
        run(float(a.get("gap_s", "2")))
        ring = getattr(s, "ring", None)
        marks["ring_after_gap"] = ring.count if ring is not None else 0
        ble.sim_connect(65)
        ble.sim_mtu(185, conn=65)
        run(0.05, lock=False)
        run(3.0)
    elif sc == "idle":
        run(float(a["idle_after_s"]) + 2.0)
        marks["idle"] = getattr(s, "idle", False)
        marks["adv_interval_idle"] = ble.adverts[-1][0]
        marks["sensor_asleep"] = (dev.regs[0x6B] & 0x40) != 0
        marks["produced_while_idle"] = dev.produced
        run(1.0)
        marks["produced_later"] = dev.produced
        ble.sim_connect()
        run(2.0)
        marks["idle_after_connect"] = getattr(s, "idle", False)
        marks["adv_interval_after"] = [x[0] for x in ble.adverts]
    s._flush()
    for _ in range(200):  # let the queue drain
        clock.now += 10000
        ble.sim_run(clock.now)
    with open(a["out"], "wb") as f:
        f.write(memoryview(ble.log)[: ble.log_pos])
    print(
        json.dumps(
            {
                "marks": marks,
                "seq": s.seq,
                "dropped": s.dropped,
                "lost": s.lost,
                "backfilled": getattr(s, "backfilled", 0),
                "link_drops": getattr(link, "drops", 0),
                "notify_errors": link.notify_errors,
                "max_queue": ble.max_queue,
                "queued_bytes_max": ble.queued_bytes_max,
                "enomem": ble.enomem,
                "mtu_exchanges": ble.mtu_exchanges,
                "interval_us": getattr(link, "interval_us", 0),
                "produced": dev.produced,
                "heap_locked": locked,
            }
        )
    )


main()
