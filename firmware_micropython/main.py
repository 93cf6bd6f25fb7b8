# Entry point on the board: read config.py, find the IMU, stream frames.
# Copy all firmware_micropython/*.py files to the board (see README.md).
import sys
import time

import config
import imu as imu_mod
import led as led_mod
from streamer import Streamer

# sys.platform -> I2C id, SCL, SDA, LED pin
BOARD_DEFAULTS = {
    "esp32": (0, 22, 21, 2),
    "rp2": (0, 5, 4, "LED"),
}


def _pick(value, index):
    if value is not None:
        return value
    d = BOARD_DEFAULTS.get(sys.platform)
    if d is None:
        raise ValueError("set I2C pins in config.py for platform %r" % sys.platform)
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
    if config.LED_PIN is False:
        return None
    try:
        from machine import Pin

        return led_mod.StatusLed(Pin(_pick(config.LED_PIN, 3), Pin.OUT), config.LED_ACTIVE_HIGH)
    except Exception:
        return None


def make_battery():
    if config.BATTERY_ADC_PIN is None:
        return None
    from machine import ADC, Pin

    adc = ADC(Pin(config.BATTERY_ADC_PIN))
    k = int(3300 * config.BATTERY_DIVIDER)

    def read_mv():
        return (adc.read_u16() * k) >> 16

    return read_mv


def make_link():
    t = config.TRANSPORT
    if t == "auto":
        try:
            import bluetooth  # noqa: F401

            t = "ble"
        except ImportError:
            t = "usb"
    if t == "ble":
        from link_ble import BleNusLink

        return BleNusLink(config.BLE_NAME)
    from link_serial import SerialLink

    if t == "uart":
        from machine import UART, Pin

        kw = {}
        if config.UART_TX is not None:
            kw = {"tx": Pin(config.UART_TX), "rx": Pin(config.UART_RX)}
        u = UART(config.UART_ID, config.UART_BAUD, **kw)
        return SerialLink(u, u)
    return SerialLink(ctrl_c=True)


def main():
    led = make_led()
    bus = make_bus()
    sensor = imu_mod.detect(
        bus, config.ODR_HZ, config.ACCEL_FS_G, config.GYRO_FS_DPS, config.IMU_ADDR
    )
    link = make_link()
    s = Streamer(
        sensor,
        link,
        spf=config.SAMPLES_PER_FRAME,
        led=led,
        axis_map=config.AXIS_MAP,
        autostart=config.AUTOSTART,
        battery=make_battery(),
    )
    usb = getattr(link, "ctrl_c", False)
    if usb:
        import micropython

        # command bytes must not be taken for Ctrl-C; a 0x03 outside a frame still stops us
        micropython.kbd_intr(-1)
    try:
        s.run(idle=lambda: time.sleep_ms(1))
    except KeyboardInterrupt:
        print("\nimu-host firmware stopped (Ctrl-C); REPL is yours")
    finally:
        if usb:
            import micropython

            micropython.kbd_intr(3)


if __name__ == "__main__" or sys.platform != "linux":
    main()
