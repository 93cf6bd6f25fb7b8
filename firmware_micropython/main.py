# Entry point on the board: read config.py, find the IMU, stream frames.
# Copy all firmware_micropython/*.py files to the board (see README.md).
import os
import sys
import time

import config
import imu as imu_mod
import led as led_mod
from streamer import Streamer

# Per-variant defaults. sys.platform is "esp32" on every ESP32 variant, so the variant
# comes from os.uname().machine ("... with ESP32S3"). GPIO22 does not exist on the
# S3/C3; the ESP32's UART1 defaults (TX 10 / RX 9) are the SPI flash pins of WROOM
# modules, so UART pins are always given explicitly.
#   I2C id, SCL, SDA, LED, UART id, UART TX, UART RX
BOARD_DEFAULTS = {
    # DevKit (WROOM/WROVER): 25/26 are free (16/17 are PSRAM on WROVER, 6-11 flash)
    "esp32": (0, 22, 21, 2, 1, 25, 26),
    # ESP32-S3 DevKitC: MicroPython's I2C0 defaults (GENERIC_S3 mpconfigboard.h); its
    # LED is an addressable RGB LED (not a plain pin): none by default
    "esp32s3": (0, 9, 8, False, 1, 17, 18),
    # ESP32-C3 (DevKitM, SuperMini, XIAO): 6/7 (XIAO's SDA/SCL), clear of the strapping
    # pins 2/8/9 and flash 12-17; LED differs per board: none by default
    "esp32c3": (0, 7, 6, False, 1, 4, 5),
    # Pico W / Pico 2 W: I2C0 on GP4/GP5, the LED hangs off the wireless chip
    "rp2": (0, 5, 4, "LED", 0, 0, 1),
}


def platform():
    # (the stand-in `machine` of the tests says which port it plays)
    import machine

    return getattr(machine, "SIM_PLATFORM", sys.platform)


def variant():
    p = platform()
    if p != "esp32":
        return p
    try:
        import machine

        m = getattr(machine, "SIM_MACHINE", None) or os.uname().machine
    except Exception:
        m = ""
    m = m.upper().replace("-", "")
    if "ESP32S3" in m:
        return "esp32s3"
    if "ESP32C3" in m:
        return "esp32c3"
    return "esp32"


def _pick(value, index):
    if value is not None:
        return value
    d = BOARD_DEFAULTS.get(variant())
    if d is None:
        raise ValueError("set the pins in config.py for platform %r" % variant())
    return d[index]


def make_bus():
    from machine import I2C, Pin

    return I2C(
        _pick(config.I2C_ID, 0),
        scl=Pin(_pick(config.I2C_SCL, 1)),
        sda=Pin(_pick(config.I2C_SDA, 2)),
        freq=config.I2C_FREQ,
    )


def make_led():
    pin = _pick(config.LED_PIN, 3)
    if pin is False:
        return None
    try:
        from machine import Pin

        return led_mod.StatusLed(Pin(pin, Pin.OUT), config.LED_ACTIVE_HIGH)
    except Exception:
        return None


def make_battery():
    """Callable -> battery mV, or None. ESP32: 11 dB attenuation + the calibrated
    read_uv(); Pico W "VSYS": ADC3 on GPIO29 (VSYS / 3), which is also the wireless
    chip's SPI clock: read with its chip select (GPIO25) high, then give GPIO29 back."""
    pin = config.BATTERY_ADC_PIN
    if pin is None:
        return None
    from machine import ADC, Pin

    plat = platform()
    if pin == "VSYS":
        if plat != "rp2":
            raise ValueError("BATTERY_ADC_PIN = 'VSYS' is for the Pico W")
        cache = [0, -100000000]

        def read_vsys():
            now = time.ticks_ms()
            if time.ticks_diff(now, cache[1]) < 10000:  # at most every 10 s (radio)
                return cache[0]
            cs = Pin(25, Pin.OUT, value=1)  # wireless chip deselected
            Pin(29, Pin.IN)
            v = ADC(29).read_u16()
            Pin(29, Pin.ALT, pull=Pin.PULL_DOWN, alt=7)  # SPI clock for the radio again
            cs.value(0)
            cache[0] = (v * 3 * 3300) >> 16  # divider 3, 3.3 V reference
            cache[1] = now
            return cache[0]

        return read_vsys
    adc = ADC(Pin(pin))
    div = config.BATTERY_DIVIDER
    if plat == "esp32":
        adc.atten(ADC.ATTN_11DB)  # 0..~3.1 V at the pin

        def read_uv():
            return int(adc.read_uv() * div) // 1000

        return read_uv
    k = int(3300 * div)

    def read_mv():
        return (adc.read_u16() * k) >> 16

    return read_mv


def unique_id():
    try:
        import machine

        return bytes(machine.unique_id())
    except Exception:
        return b""


def make_link(uid):
    t = config.TRANSPORT
    if t == "auto":
        try:
            import bluetooth  # noqa: F401

            t = "ble"
        except ImportError:
            t = "usb"
    if t == "ble":
        from link_ble import BleNusLink

        name = config.BLE_NAME
        if getattr(config, "BLE_NAME_ID", True) and uid:
            name = "%s-%s" % (name, "".join("%02X" % x for x in uid[-3:]))
        return BleNusLink(name)
    from link_serial import SerialLink

    if t == "uart":
        from machine import UART, Pin

        u = UART(
            _pick(config.UART_ID, 4),
            config.UART_BAUD,
            tx=Pin(_pick(config.UART_TX, 5)),
            rx=Pin(_pick(config.UART_RX, 6)),
        )
        return SerialLink(u, u, bytes_per_s=config.UART_BAUD // 10)
    # USB: a host that holds the port without reading must not stall the loop
    return SerialLink(ctrl_c=True, stall_ms=20, bytes_per_s=64000)


def make_wdt():
    ms = getattr(config, "WDT_MS", 0)
    if not ms:
        return None
    try:
        from machine import WDT

        return WDT(timeout=ms)
    except (ImportError, ValueError, AttributeError):
        return None  # the port has no watchdog


def keep_fed(wdt):
    """After Ctrl-C the REPL (and mpremote) must not be reset by the watchdog, which no
    port lets us stop: a timer feeds it from now on (a soft reset ends the timer and
    main.py arms everything again)."""
    try:
        from machine import Timer

        t = Timer(0 if platform() == "esp32" else -1)  # rp2: -1 = its virtual timer
        t.init(period=1000, mode=Timer.PERIODIC, callback=lambda _t: wdt.feed())
        return t
    except Exception:
        return None


def make_wake():
    pin = getattr(config, "WAKE_PIN", None)
    if pin is None:
        return None
    from machine import Pin

    p = Pin(pin, Pin.IN, Pin.PULL_UP)
    return lambda: p.value() == 0  # button to GND


def idle_sleep(s):
    if not s.idle:
        time.sleep_ms(1)
        return
    ms = getattr(config, "IDLE_POLL_MS", 200)
    import machine

    f = getattr(machine, "lightsleep", None)
    if f is not None and getattr(config, "IDLE_LIGHTSLEEP", False):
        f(ms)  # wakes on the timeout; then the loop checks connection and button
    else:
        time.sleep_ms(ms)


def main():
    led = make_led()
    bus = make_bus()
    sensor = imu_mod.detect(
        bus, config.ODR_HZ, config.ACCEL_FS_G, config.GYRO_FS_DPS, config.IMU_ADDR
    )
    wdt = make_wdt()
    st = None
    if getattr(config, "SELFTEST", True):
        import selftest

        def wait():
            if wdt is not None:
                wdt.feed()
            time.sleep_ms(5)

        st = selftest.run(sensor, time.ticks_us, wait)
    uid = unique_id()
    link = make_link(uid)
    s = Streamer(
        sensor,
        link,
        spf=config.SAMPLES_PER_FRAME,
        led=led,
        axis_map=config.AXIS_MAP,
        autostart=config.AUTOSTART,
        battery=make_battery(),
        wdt=wdt,
        uid=uid,
        board=variant(),
        selftest=st,
        backfill_samples=int(getattr(config, "BACKFILL_S", 30) * config.ODR_HZ),
        idle_after_ms=int(getattr(config, "IDLE_AFTER_MIN", 0) * 60000),
        bus_hz=config.I2C_FREQ,
        wake=make_wake(),
    )
    usb = getattr(link, "ctrl_c", False)
    if usb:
        import micropython

        # command bytes must not be taken for Ctrl-C; a 0x03 outside a frame still stops us
        micropython.kbd_intr(-1)
    try:
        s.run(idle=lambda: idle_sleep(s))
    except KeyboardInterrupt:
        if wdt is not None:
            keep_fed(wdt)  # the watchdog cannot be stopped: keep the REPL alive
        print("\nimu-host firmware stopped (Ctrl-C); REPL is yours")
    finally:
        if usb:
            import micropython

            micropython.kbd_intr(3)


if __name__ == "__main__" or sys.platform != "linux":
    main()
