"""Issue 11: main.py boots under each port profile (ESP32, ESP32-S3, ESP32-C3, Pico W)
with the stand-in `machine` / `bluetooth` modules, and the BLE link behaves like the
stack of that port (btstack queues without limit, NimBLE raises ENOMEM).

Profiles: tests/fw_support/board/machine.py (GPIO tables, flash/radio pins, UART
defaults, ADC attenuation, WDT, unique_id) and tests/fw_support/bluetooth.py (stacks).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from test_firmware_micropython import FW, MP, SUP, VEC, by_seq, expected_counts, find_k0

from imu_host.core.samples import Samples
from imu_host.protocol.frames import (
    DeviceHealth,
    DeviceInfo,
    FrameDecoder,
    SampleAssembler,
    SampleFrame,
    StatusFrame,
)

pytestmark = pytest.mark.skipif(MP is None, reason="MicroPython Unix port binary not found")

UIDS = {
    "esp32": "246F28A1B2C3",
    "esp32s3": "348518010203",
    "esp32c3": "58CF790A0B0C",
    "rp2": "E6614104035B2A21",
}


def boot(tmp_path, board, config_extra="", feeds=900, connect=True, env_extra=None):
    (tmp_path / "config.py").write_text((FW / "config.py").read_text() + config_extra)
    shutil.copy(FW / "main.py", tmp_path / "main.py")
    env = dict(
        os.environ,
        MICROPYPATH=f"{SUP / 'board'}:{FW}:{SUP}",
        IMU_BOARD=board,
        IMU_SIM_FEEDS=str(feeds),
        IMU_SIM_CONNECT="1" if connect else "0",
        IMU_SIM_BLE_OUT=str(tmp_path / "ble.bin"),
        IMU_SIM_STATE=str(tmp_path / "state.json"),
        **(env_extra or {}),
    )
    r = subprocess.run(
        [MP, "-X", "heapsize=8M", str(tmp_path / "main.py")],
        capture_output=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
    )
    p = tmp_path / "state.json"
    state = json.loads(p.read_text()) if p.exists() else {}
    return r, state


@pytest.mark.parametrize("board", ["esp32", "esp32s3", "esp32c3", "rp2"])
def test_main_boots_and_streams_over_ble_on_every_port_profile(tmp_path, board):
    r, state = boot(tmp_path, board)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert b"REPL is yours" in r.stdout
    assert state["errors"] == []  # no missing GPIO, no flash / radio pin used
    i2c = state["i2c"][0]
    assert i2c[1] != i2c[2]
    # TRANSPORT = "auto" means BLE here: the advert carries the unique id suffix
    resp = bytes.fromhex(state["adverts"][0][2])
    assert f"KneeRoll-{UIDS[board][-6:]}".encode() in resp
    assert state["mtu_exchanges"] >= 1  # the board asked for a bigger MTU
    assert state["wdt"] and 2000 <= state["wdt"][0] <= 8388 and state["feeds"] >= 900
    # after Ctrl-C a periodic timer keeps feeding it, so the REPL / mpremote stay usable
    assert state["timers"] and state["timers"][0][1] <= state["wdt"][0] // 2
    dec = FrameDecoder()
    frames = dec.feed((tmp_path / "ble.bin").read_bytes())
    assert dec.crc_errors == 0 and dec.bytes_discarded == 0
    info = next(f for f in frames if isinstance(f, DeviceInfo))
    health = next(f for f in frames if isinstance(f, DeviceHealth))
    assert info.transport == "ble" and info.selftest is True
    assert health.unique_id == UIDS[board] and health.board == board
    s = Samples.concat(SampleAssembler().feed(frames))
    assert len(s) > 20 and np.allclose(s.accel_g, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("board", ["esp32", "esp32s3", "esp32c3", "rp2"])
def test_uart_transport_uses_safe_explicit_pins(tmp_path, board):
    r, state = boot(tmp_path, board, "\nTRANSPORT = 'uart'\n", feeds=200, connect=False)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert state["errors"] == [] and len(state["uart"]) == 1
    uid, tx, rx = state["uart"][0]
    assert tx != rx
    if board == "esp32":
        assert not {tx, rx} & set(range(6, 12))  # WROOM SPI flash


def test_esp32_battery_uses_11db_and_calibrated_read_uv(tmp_path):
    r, state = boot(
        tmp_path, "esp32", "\nBATTERY_ADC_PIN = 35\nBATTERY_DIVIDER = 2.0\n", feeds=1500
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    frames = FrameDecoder().feed((tmp_path / "ble.bin").read_bytes())
    st = [f for f in frames if isinstance(f, StatusFrame)]
    assert st and st[-1].battery_mv == pytest.approx(3900, rel=0.01)  # IMU_SIM_BATTERY_V
    assert ["uv", 35, 3] in state["adc"]


def test_pico_w_vsys_is_read_with_the_radio_pins_handled(tmp_path):
    r, state = boot(tmp_path, "rp2", "\nBATTERY_ADC_PIN = 'VSYS'\n", feeds=1500)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    frames = FrameDecoder().feed((tmp_path / "ble.bin").read_bytes())
    st = [f for f in frames if isinstance(f, StatusFrame)]
    assert st and st[-1].battery_mv == pytest.approx(4800, rel=0.01)  # VSYS / 3 * 3
    pins = state["pins"]
    last29 = [p for p in pins if p[0] == "29"][-1]
    assert last29[1] == 3 and last29[2] == 7  # GPIO29 back to the radio's SPI clock


# ------------------------------------------------------------------ BLE stacks


def run_ble(tmp_path, *args):
    out = tmp_path / "ble.bin"
    env = dict(os.environ, MICROPYPATH=f"{FW}:{SUP}")
    r = subprocess.run(
        [
            MP,
            "-X",
            "heapsize=32M",
            str(SUP / "mp_run_ble_scenarios.py"),
            f"motion={VEC / 'motion.f32'}",
            f"out={out}",
            *args,
        ],
        capture_output=True,
        env=env,
        timeout=120,
        cwd=str(FW),
    )
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    return json.loads(r.stdout), out.read_bytes()


@pytest.mark.parametrize("stack", ["btstack", "nimble"])
def test_notifications_are_rate_limited_to_what_the_link_drains(tmp_path, stack):
    # default MTU 23: 66-byte frames are 4 notifications, ~110 notifications/s at 100 Hz;
    # the link carries 3 per 45 ms connection event = 67/s
    res, data = run_ble(tmp_path, "scenario=btstack", f"stack={stack}", "interval_us=45000")
    assert res["interval_us"] == 45000  # learned from _IRQ_CONNECTION_UPDATE
    # btstack queues a heap copy per notification: bounded now (bucket depth), not
    # growing with time; NimBLE never runs out of buffers
    assert res["max_queue"] <= 16 and res["enomem"] == 0
    assert res["link_drops"] > 20
    dec = FrameDecoder()
    dec.feed(data)
    assert dec.crc_errors == 0 and dec.bytes_discarded == 0  # only whole frames went out
    assert res["mtu_exchanges"] >= 1


def test_short_disconnect_loses_nothing_thanks_to_backfill(tmp_path):
    res, data = run_ble(
        tmp_path,
        "scenario=backfill",
        "stack=none",
        "backfill=3000",
        "gap_s=2",
        "spf=8",
        "heap_lock=1",
    )
    assert res["heap_locked"]  # ring + backfill frames allocate nothing
    assert res["marks"]["ring_after_gap"] >= 190 and res["dropped"] == 0
    frames = FrameDecoder().feed(data)
    assert any(isinstance(f, SampleFrame) and f.backfill for f in frames)
    asm = SampleAssembler(backfill=True)
    s = Samples.concat(asm.feed(frames))
    assert asm.samples_lost == 0 and asm.backfill_duplicates == 0
    # (backfill that comes before the next live frame simply continues the stream)
    assert res["backfilled"] >= 190 and asm.samples_backfilled > 0
    order = np.argsort(s.t_s)
    assert np.all(np.diff(s.t_s[order]) > 0.009)  # every sample once, 10 ms apart
    assert len(s) == res["seq"]
    got = by_seq(frames)
    exp = expected_counts("mpu6050")
    k0 = find_k0(got, exp)
    assert sorted(got) == list(range(res["seq"]))
    assert all(got[q] == exp[(k0 + q) % len(exp)].tolist() for q in got)
    # without backfill merging the host counts the gap as lost, as before
    old = SampleAssembler()
    old.feed(frames)
    assert old.samples_lost >= 190


def test_idle_mode_slows_advertising_and_stops_sampling(tmp_path):
    res, data = run_ble(tmp_path, "scenario=idle", "stack=none", "idle_after_s=3")
    m = res["marks"]
    assert m["idle"] and m["sensor_asleep"] and m["adv_interval_idle"] >= 1_000_000
    assert m["produced_later"] == m["produced_while_idle"]  # the sensor sleeps
    assert not m["idle_after_connect"]
    frames = FrameDecoder().feed(data)
    infos = [f for f in frames if isinstance(f, DeviceInfo)]
    assert infos and infos[0].stream_start
    assert sum(f.n for f in frames if isinstance(f, SampleFrame)) > 150


# ------------------------------------------------------------------ the profiles bite


def test_profiles_reject_what_the_old_defaults_did(tmp_path):
    # ESP32-S3 has no GPIO22 (the ESP32 DevKit default of firmware 1.0), and UART1 with
    # MicroPython's default pins on an ESP32 lands on the WROOM SPI flash (GPIO 9/10)
    r, state = boot(tmp_path, "esp32s3", "\nI2C_SCL = 22\nI2C_SDA = 21\n", feeds=50)
    assert r.returncode != 0 and b"invalid pin" in r.stdout + r.stderr
    script = tmp_path / "uart.py"
    script.write_text(
        "import json, machine\n"
        "machine.UART(1, 115200)\n"
        "print(json.dumps(machine.STATE['errors']))\n"
    )
    env = dict(os.environ, MICROPYPATH=f"{SUP / 'board'}:{FW}:{SUP}", IMU_BOARD="esp32")
    out = subprocess.run([MP, str(script)], capture_output=True, env=env, timeout=30)
    errors = json.loads(out.stdout)
    assert any("GPIO10 is the SPI flash" in e for e in errors)
    assert any("GPIO9 is the SPI flash" in e for e in errors)
