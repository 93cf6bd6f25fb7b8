"""Serial (USB CDC / UART) transport via pyserial. Imported only when a live session or
``imu-host devices`` needs it."""

from __future__ import annotations

import contextlib
import os
import time

import serial
import serial.tools.list_ports

from imu_host.errors import InputError
from imu_host.transport.base import DeviceEntry, LinkLost, Transport

# USB vendor:product ids of boards that commonly run MicroPython (None = any product).
MICROPYTHON_USB_IDS: dict[int, set[int] | None] = {
    0xF055: None,  # MicroPython (pyboard, generic TinyUSB CDC)
    0x2E8A: None,  # Raspberry Pi RP2040 / RP2350
    0x303A: None,  # Espressif native USB (ESP32-S2/S3/C3/C6)
    0x239A: None,  # Adafruit
    0x1915: None,  # Nordic Semiconductor (nRF52 boards)
    0x10C4: {0xEA60},  # Silicon Labs CP210x bridge (ESP32 dev boards)
    0x1A86: {0x7523, 0x55D4},  # WCH CH340 / CH9102 bridges
    0x0403: {0x6001, 0x6010, 0x6014, 0x6015},  # FTDI bridges
}


def looks_like_micropython(vid: int | None, pid: int | None, text: str = "") -> bool:
    if "micropython" in text.lower():
        return True
    if vid is None:
        return False
    products = MICROPYTHON_USB_IDS.get(vid, set())
    return products is None or (pid in products)


def list_serial_ports(*, all_ports: bool = False) -> list[DeviceEntry]:
    """Serial ports that look like MicroPython boards (every port with ``all_ports``)."""
    out = []
    for p in sorted(serial.tools.list_ports.comports(), key=lambda p: p.device):
        text = " ".join(str(x) for x in (p.description, p.manufacturer, p.product) if x)
        likely = looks_like_micropython(p.vid, p.pid, text)
        if not (likely or all_ports):
            continue
        ids = f"VID:PID {p.vid:04X}:{p.pid:04X}" if p.vid is not None else "no USB id"
        out.append(DeviceEntry("serial", p.device, p.description or "", ids, likely))
    return out


class SerialTransport(Transport):
    """A serial port (path or pyserial URL). Unplugging raises :class:`LinkLost`."""

    def __init__(self, port: str, *, baudrate: int = 115200, write_timeout: float = 1.0) -> None:
        self.port = port
        self.baudrate = baudrate
        self.write_timeout = write_timeout
        self.description = f"serial {port}"
        self._ser: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        self.close()
        is_url = "://" in self.port
        if not is_url and not os.path.exists(self.port):
            raise LinkLost(f"{self.port} does not exist")
        try:
            ser = serial.serial_for_url(
                self.port,
                baudrate=self.baudrate,
                timeout=0.05,
                write_timeout=self.write_timeout,
            )
        except ValueError as err:
            raise InputError(f"serial port {self.port}: {err}") from None
        except (serial.SerialException, OSError) as err:
            raise LinkLost(str(err)) from None
        self._ser = ser
        try:
            ser.reset_input_buffer()  # stale bytes from before we connected
        except (serial.SerialException, OSError) as err:
            self.close()
            raise LinkLost(str(err)) from None

    def read(self, timeout: float) -> bytes:
        ser = self._ser
        if ser is None:
            raise LinkLost("not open")
        try:
            if ser.timeout != timeout:
                ser.timeout = timeout  # reconfigures the port: only when it changes
            waiting = ser.in_waiting
            data = ser.read(waiting if waiting > 0 else 1)
            if len(data) == 1:
                waiting = ser.in_waiting
                if waiting:
                    data += ser.read(waiting)
        except (serial.SerialException, OSError) as err:
            raise LinkLost(f"{self.port}: {err}") from None
        return bytes(data)

    def write(self, data: bytes) -> None:
        ser = self._ser
        if ser is None:
            raise LinkLost("not open")
        try:
            ser.write(data)
            ser.flush()
        except (serial.SerialException, OSError) as err:
            raise LinkLost(f"{self.port}: {err}") from None

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                ser.close()


class PtyDevicePort:
    """A pseudo-terminal playing a USB serial device (used by ``imu-host demo`` and tests).

    The device side reads/writes the pty master; the host opens :attr:`path` with
    pyserial exactly like a real port. ``path`` is a stable symlink (like
    ``/dev/serial/by-id/...``) so :meth:`unplug` + :meth:`plug` can model a cable pulled
    and pushed back: unplugging closes the master, so the host's reads fail with EIO,
    and the pty node disappears.
    """

    def __init__(self, link_path: str) -> None:
        self.path = link_path
        self._master: int | None = None
        self._slave: int | None = None
        self.tty_name = ""
        self.plug()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        import tty

        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo / line editing even before the host opens it
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.tty_name = os.ttyname(slave)
        tmp = self.path + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(self.tty_name, tmp)
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        master, slave = self._master, self._slave
        self._master = self._slave = None
        if os.path.lexists(self.path):
            os.unlink(self.path)
        for fd in (slave, master):
            if fd is not None:
                os.close(fd)

    def write(self, data: bytes, timeout: float = 0.5) -> int:
        """Device -> host. Waits up to ``timeout`` s for room; bytes the host does not
        take in time are dropped (like a full USB buffer). Returns how many were sent."""
        import select

        sent = 0
        view = memoryview(data)
        deadline = None
        while sent < len(data):
            master = self._master
            if master is None:
                return sent
            try:
                sent += os.write(master, view[sent:])
                continue
            except BlockingIOError:
                pass
            except OSError:
                return sent
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                return sent
            select.select([], [master], [], deadline - now)
        return sent

    def read(self, timeout: float) -> bytes:
        """Host -> device bytes (commands), waiting up to ``timeout`` s."""
        import select

        master = self._master
        if master is None:
            return b""
        r, _, _ = select.select([master], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        self.unplug()
