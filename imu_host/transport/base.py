"""Byte links to the board: one interface for serial and BLE, reconnection, a facade.

A :class:`Transport` is a synchronous byte pipe: ``open()``, ``read(timeout)`` (returns
whatever bytes arrived, ``b""`` on timeout), ``write(data)``, ``close()``. A link that
goes away (cable pulled, port vanished, BLE disconnect) raises :class:`LinkLost` from
``read``/``write``; :class:`ReconnectingTransport` turns that into "not connected,
retrying with backoff" so the caller's loop keeps running (and keeps drawing the view)
while the board is away.

This module imports neither ``serial`` nor ``bleak``: :func:`open_transport` and
:func:`list_devices` import ``imu_host.transport.serial`` / ``imu_host.transport.ble``
only when asked for them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from imu_host.errors import InputError

# Nordic UART Service: the board notifies on TX, the host writes commands to RX.
NUS_SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX_CHAR_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host -> board (write)
NUS_TX_CHAR_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # board -> host (notify)


class LinkLost(Exception):
    """The link to the board went away; retrying may bring it back."""


class Transport(ABC):
    """A byte pipe to the board. Not thread-safe: one reader/writer thread."""

    #: Human-readable description of the link ("serial /dev/ttyACM0", "BLE AA:BB:..").
    description: str = "?"

    @abstractmethod
    def open(self) -> None:
        """Connect. Raises :class:`LinkLost` (retryable) or :class:`InputError` (not)."""

    @abstractmethod
    def read(self, timeout: float) -> bytes:
        """Bytes received so far, waiting up to ``timeout`` s for the first; ``b""`` if none."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes to the board (commands)."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect and release the link; idempotent."""

    def drop(self) -> None:
        """Release a link that was lost, keeping what is needed to reopen it."""
        self.close()

    @property
    def is_open(self) -> bool:
        return False

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Backoff:
    """Exponential reconnect delays: ``initial``, ``initial*factor``, ... capped at ``maximum``."""

    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 5.0

    def delays(self) -> Iterator[float]:
        d = self.initial
        while True:
            yield d
            d = min(self.maximum, d * self.factor)


@dataclass
class LinkStats:
    """Counters of the link's life: connects (first one included) and losses."""

    connects: int = 0
    losses: int = 0
    reconnect_attempts: int = 0
    last_error: str = ""
    bytes_in: int = 0
    events: list[tuple[float, str]] = field(default_factory=list)


class ReconnectingTransport(Transport):
    """Wraps a transport: on :class:`LinkLost`, reopen it with backoff, forever.

    ``read()`` never raises :class:`LinkLost`; while the link is down it waits (up to
    ``timeout``) and returns ``b""``, so the caller's loop keeps ticking. ``on_connect``
    is called (in the reading thread) after every successful (re)open, with the connect
    count (1 for the first): the place to reset decoders and resend start commands.
    ``on_lost`` is called with the error text when the link drops.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        backoff: Backoff | None = None,
        on_connect: Callable[[int], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.description = inner.description
        self.backoff = backoff or Backoff()
        self.on_connect = on_connect
        self.on_lost = on_lost
        self.stats = LinkStats()
        self._clock = clock
        self._connected = False
        self._delays: Iterator[float] = self.backoff.delays()
        self._next_attempt = 0.0
        self._closing = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._connected

    @property
    def connected(self) -> bool:
        return self._connected

    def open(self) -> None:
        """First connection: failures are reported (not retried) so typos fail fast."""
        try:
            self.inner.open()
        except LinkLost as err:
            raise InputError(f"cannot connect to {self.inner.description}: {err}") from None
        self._did_connect()

    def _did_connect(self) -> None:
        self._connected = True
        self._delays = self.backoff.delays()
        self.stats.connects += 1
        self.stats.events.append((self._clock(), "connected"))
        if self.on_connect is not None:
            self.on_connect(self.stats.connects)

    def _lost(self, err: BaseException) -> None:
        self._connected = False
        self.stats.losses += 1
        self.stats.last_error = str(err) or type(err).__name__
        self.stats.events.append((self._clock(), f"lost: {self.stats.last_error}"))
        with contextlib.suppress(Exception):  # the link is already gone
            self.inner.drop()
        self._next_attempt = self._clock() + next(self._delays)
        if self.on_lost is not None:
            self.on_lost(self.stats.last_error)

    def _try_reconnect(self) -> bool:
        self.stats.reconnect_attempts += 1
        try:
            self.inner.open()
        except (LinkLost, InputError) as err:
            self.stats.last_error = str(err)
            self._next_attempt = self._clock() + next(self._delays)
            return False
        self._did_connect()
        return True

    def read(self, timeout: float) -> bytes:
        if self._closing.is_set():
            return b""
        if not self._connected:
            now = self._clock()
            if now < self._next_attempt:
                self._closing.wait(min(timeout, self._next_attempt - now))
                return b""
            if not self._try_reconnect():
                return b""
        try:
            data = self.inner.read(timeout)
        except LinkLost as err:
            self._lost(err)
            return b""
        self.stats.bytes_in += len(data)
        return data

    def write(self, data: bytes) -> None:
        """Send if connected; while the link is down the bytes are dropped (commands are
        resent by ``on_connect`` after reconnecting)."""
        if not self._connected:
            return
        try:
            self.inner.write(data)
        except LinkLost as err:
            self._lost(err)

    def close(self) -> None:
        self._closing.set()
        self._connected = False
        self.inner.close()


# ---------------------------------------------------------------------------- facade


@dataclass(frozen=True)
class DeviceEntry:
    """One device found by :func:`list_devices`."""

    kind: str  # "serial" | "ble"
    address: str  # port path or BLE address
    name: str  # description (serial) or advertised name (BLE)
    detail: str = ""  # "VID:PID 2E8A:0005" or "RSSI -60 dBm"
    likely_board: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address,
            "name": self.name,
            "detail": self.detail,
            "likely_board": self.likely_board,
        }


@dataclass
class DeviceListing:
    serial: list[DeviceEntry]
    ble: list[DeviceEntry]
    ble_error: str | None = None  # why BLE could not be scanned (no adapter, no bus, ...)


def list_devices(
    *,
    ble: bool = True,
    ble_timeout: float = 3.0,
    all_serial: bool = False,
    scanner_backend: type | None = None,
    ble_loop: Any = None,
) -> DeviceListing:
    """Serial ports that look like MicroPython boards, and BLE devices advertising NUS."""
    from imu_host.transport import serial as transport_serial

    ports = transport_serial.list_serial_ports(all_ports=all_serial)
    ble_devices: list[DeviceEntry] = []
    ble_error = None
    if ble:
        from imu_host.transport import ble as transport_ble

        try:
            ble_devices = transport_ble.scan_nus(
                ble_timeout, scanner_backend=scanner_backend, loop=ble_loop
            )
        except transport_ble.BluetoothUnavailable as err:
            ble_error = str(err)
    return DeviceListing(ports, ble_devices, ble_error)


def open_transport(
    *,
    serial: str | None = None,
    ble: str | None = None,
    baudrate: int = 115200,
    ble_timeout: float = 5.0,
    client_backend: type | None = None,
    scanner_backend: type | None = None,
    ble_loop: Any = None,
) -> Transport:
    """Make (not open) the transport the user asked for; neither given -> the only device."""
    if serial and ble:
        raise InputError("give either --serial or --ble, not both")
    if serial:
        from imu_host.transport.serial import SerialTransport

        return SerialTransport(serial, baudrate=baudrate)
    if ble:
        from imu_host.transport.ble import BleTransport

        return BleTransport(
            ble,
            scan_timeout=ble_timeout,
            client_backend=client_backend,
            scanner_backend=scanner_backend,
            loop=ble_loop,
        )
    listing = list_devices(
        ble_timeout=ble_timeout, scanner_backend=scanner_backend, ble_loop=ble_loop
    )
    found = listing.serial + listing.ble
    if not found:
        extra = f" (BLE: {listing.ble_error})" if listing.ble_error else ""
        raise InputError(
            "no board found: plug it in or switch it on, or pass --serial PORT / --ble NAME" + extra
        )
    if len(found) > 1:
        names = ", ".join(f"{d.kind} {d.address}" for d in found)
        raise InputError(f"several boards found ({names}): pick one with --serial or --ble")
    return open_transport(
        serial=found[0].address if found[0].kind == "serial" else None,
        ble=found[0].address if found[0].kind == "ble" else None,
        baudrate=baudrate,
        ble_timeout=ble_timeout,
        client_backend=client_backend,
        scanner_backend=scanner_backend,
        ble_loop=ble_loop,
    )
