# MicroPython test harness: firmware streamer + BLE NUS link on the stand-in bluetooth
# module, with the fake MPU-6050 on a fake I2C bus and a virtual clock.
# usage: micropython mp_run_ble.py motion=PATH out=PATH cmds=PATH heap_lock=0|1
# Script: 1 s nobody connected (samples dropped), connect, 0.5 s at MTU 23, MTU 185,
# host writes commands (ping, info), 2 s streaming, disconnect 0.5 s, reconnect 1 s.
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
    a = {"heap_lock": "0", "cmds": ""}
    for arg in sys.argv[1:]:
        k, v = arg.split("=", 1)
        a[k] = v
    with open(a["motion"], "rb") as f:
        motion = array("f", f.read())
    clock = FakeClock()
    dev = FakeMPU(clock, motion, 0x68)
    sensor = imu.detect(FakeI2C({0x68: dev}), 100, 4, 500)
    ble = bluetooth.BLE()
    try:
        link = BleNusLink("KneeTest", bluetooth=bluetooth, ble=ble, clock=clock.ticks_us)
    except TypeError:  # an older firmware
        link = BleNusLink("KneeTest", bluetooth=bluetooth, ble=ble)
    s = Streamer(sensor, link, spf=8, clock=clock.ticks_us)
    cmds = b""
    if a["cmds"]:
        with open(a["cmds"], "rb") as f:
            cmds = f.read()
    marks = {}

    def run(seconds, lock=False):
        end = clock.now + int(seconds * 1e6)
        if lock:
            micropython.heap_lock()
        try:
            while clock.now < end:
                s.poll()
                clock.now += 1000
        finally:
            if lock:
                micropython.heap_unlock()

    locked = a["heap_lock"] == "1"
    run(1.0)  # advertising, nobody connected: sampling continues, samples dropped
    marks["dropped_before_connect"] = s.dropped
    ble.sim_connect()
    run(0.5, locked)  # default MTU 23: frames split into 20-byte notifications
    marks["spf_mtu23"] = s.spf
    ble.sim_mtu(185)
    run(0.1)  # (the streamer re-fits samples per frame here; allocation allowed)
    marks["spf_mtu185"] = s.spf
    # the host writes its commands in two pieces (BLE writes of up to MTU-3 bytes)
    half = len(cmds) // 2
    ble.sim_write(link.rx_handle, cmds[:half])
    ble.sim_write(link.rx_handle, cmds[half:])
    run(2.0, locked)
    ble.sim_disconnect()
    marks["adverts_after_disconnect"] = len(ble.adverts)
    run(0.5)
    ble.sim_connect(65)
    run(1.0, locked)
    s._flush()
    with open(a["out"], "wb") as f:
        f.write(memoryview(ble.log)[: ble.log_pos])
    print(
        json.dumps(
            {
                "services": ble.services,
                "buffers": {str(k): v for k, v in ble.buffers.items()},
                "handles": {str(k): v for k, v in ble.handles.items()},
                "tx_handle": link.tx_handle,
                "rx_handle": link.rx_handle,
                "adverts": [(i, bytes(d).hex(), bytes(r).hex()) for i, d, r in ble.adverts],
                "note_len": list(ble.note_len[: ble.notes]),
                "note_conn": list(ble.note_conn[: ble.notes]),
                "oversize": ble.oversize,
                "marks": marks,
                "dropped": s.dropped,
                "lost": s.lost,
                "seq": s.seq,
                "first_index": dev.first_index,
                "commands_ok": s.cmd.ok,
                "cfg": {k: str(v) for k, v in ble.cfg.items()},
                "heap_locked": locked,
            }
        )
    )


main()
