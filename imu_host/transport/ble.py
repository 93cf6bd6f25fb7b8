"""BLE transport: the board's Nordic UART Service through bleak.

bleak is asyncio; the rest of the host is a plain loop. :class:`BleTransport` runs its
own event loop in a background thread: notifications land in a thread-safe queue that
:meth:`BleTransport.read` drains, writes are scheduled onto that loop. ``client_backend``
and ``scanner_backend`` are passed straight to ``BleakClient(backend=...)`` and
``BleakScanner(backend=...)`` (tests plug in a Bumble-driven backend there).

Several boards at once (``live --ble A --ble B``): the transports share nothing but may
share one event loop, and the session reads them in turn from one thread. With
``background_reconnect`` a reconnection (scan + connect: seconds, or ``scan_timeout``
each try while the board is out of range) runs on the event loop while ``open()``
returns at once (:class:`LinkLost` "reconnecting" until it is done), so the other
boards are read meanwhile. The first ``open()`` always waits (a wrong name fails fast).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import re
import threading
from collections.abc import Coroutine
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from imu_host.errors import InputError
from imu_host.transport.base import (
    NUS_RX_CHAR_UUID,
    NUS_SERVICE_UUID,
    NUS_TX_CHAR_UUID,
    DeviceEntry,
    LinkLost,
    Transport,
)

_ADDRESS_RE = re.compile(
    r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$"
)
_LOST = object()  # queue marker: the link dropped


class BluetoothUnavailable(Exception):
    """No usable Bluetooth on this machine (no adapter, no system bus, powered off)."""


def _unavailable(err: BaseException) -> BluetoothUnavailable:
    detail = str(err).strip() or type(err).__name__
    return BluetoothUnavailable(f"Bluetooth is not available on this machine ({detail})")


def looks_like_address(text: str) -> bool:
    """A MAC address (Linux/Windows) or a CoreBluetooth UUID (macOS)."""
    return bool(_ADDRESS_RE.match(text))


def _scanner_kwargs(scanner_backend: type | None) -> dict[str, Any]:
    return {} if scanner_backend is None else {"backend": scanner_backend}


async def _scan(timeout: float, scanner_backend: type | None) -> list[DeviceEntry]:
    found = await BleakScanner.discover(
        timeout=timeout,
        return_adv=True,
        service_uuids=[NUS_SERVICE_UUID],
        **_scanner_kwargs(scanner_backend),
    )
    out = []
    for device, adv in found.values():
        if NUS_SERVICE_UUID not in [u.lower() for u in adv.service_uuids]:
            continue
        name = adv.local_name or device.name or ""
        out.append(DeviceEntry("ble", device.address, name, f"RSSI {adv.rssi} dBm"))
    out.sort(key=lambda d: d.address)
    return out


def scan_nus(
    timeout: float = 3.0,
    *,
    scanner_backend: type | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> list[DeviceEntry]:
    """BLE devices advertising the Nordic UART Service, found within ``timeout`` s.

    Runs on a fresh event loop, or on ``loop`` (running in another thread) if given.
    Raises :class:`BluetoothUnavailable` when the machine has no usable Bluetooth
    (bleak raises a plain ``OSError``/``FileNotFoundError`` when there is no D-Bus).
    """
    try:
        if loop is not None:
            fut = asyncio.run_coroutine_threadsafe(_scan(timeout, scanner_backend), loop)
            return fut.result(timeout + 10.0)
        return asyncio.run(_scan(timeout, scanner_backend))
    except (OSError, BleakError) as err:
        raise _unavailable(err) from None


class BleTransport(Transport):
    """The board over BLE NUS. ``target`` is an address (MAC or macOS UUID) or a name."""

    def __init__(
        self,
        target: str,
        *,
        scan_timeout: float = 5.0,
        connect_timeout: float = 20.0,
        client_backend: type | None = None,
        scanner_backend: type | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.target = target
        self.scan_timeout = scan_timeout
        self.connect_timeout = connect_timeout
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.description = f"BLE {target}"
        self.mtu: int | None = None
        self.notifications = 0
        self._q: queue.Queue[tuple[int, object]] = queue.Queue()
        self._generation = 0  # bumped per connection: stale notifications are dropped
        self._client: BleakClient | None = None
        self._rx_char: BleakGATTCharacteristic | None = None
        self._loop: asyncio.AbstractEventLoop | None = loop  # given -> not ours to stop
        self._owns_loop = loop is None
        self._thread: threading.Thread | None = None
        self._pending_lost = False
        self.background_reconnect = False  # reopen without blocking (see module docstring)
        self._connected_once = False
        self._connecting: concurrent.futures.Future[None] | None = None

    # -------------------------------------------------------------- loop thread

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="imu-host-ble", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        fut = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise LinkLost(f"{self.description}: timed out") from None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop bleak runs on (tests schedule their virtual board on it)."""
        return self._ensure_loop()

    # -------------------------------------------------------------- connection

    @property
    def is_open(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _find(self) -> BLEDevice:
        kwargs = _scanner_kwargs(self.scanner_backend)
        want = self.target.lower()
        by_address = looks_like_address(self.target)

        def match(d: BLEDevice, adv: Any) -> bool:
            if by_address:
                return d.address.lower() == want
            return any(name_matches(self.target, n) for n in (adv.local_name, d.name))

        try:
            device = await BleakScanner.find_device_by_filter(
                match, timeout=self.scan_timeout, service_uuids=[NUS_SERVICE_UUID], **kwargs
            )
        except (OSError, BleakError) as err:
            raise LinkLost(str(_unavailable(err))) from None
        if device is None:
            raise LinkLost(f"no BLE device '{self.target}' advertising the Nordic UART Service")
        return device

    async def _connect(self) -> None:
        device = await self._find()
        self._generation += 1
        gen = self._generation

        def on_disconnect(_client: BleakClient) -> None:
            self._q.put((gen, _LOST))

        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            self.notifications += 1
            self._q.put((gen, bytes(data)))

        kwargs: dict[str, Any] = (
            {} if self.client_backend is None else {"backend": self.client_backend}
        )
        client = BleakClient(
            device, disconnected_callback=on_disconnect, timeout=self.connect_timeout, **kwargs
        )
        try:
            await client.connect()
            service = client.services.get_service(NUS_SERVICE_UUID)
            if service is None:
                raise LinkLost(f"{device.address} has no Nordic UART Service")
            self._rx_char = service.get_characteristic(NUS_RX_CHAR_UUID)
            tx = service.get_characteristic(NUS_TX_CHAR_UUID)
            if self._rx_char is None or tx is None:
                raise LinkLost(f"{device.address}: NUS service lacks RX/TX characteristics")
            await client.start_notify(tx, on_notify)
        except (BleakError, OSError, TimeoutError) as err:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise LinkLost(f"{self.description}: {err or type(err).__name__}") from None
        except LinkLost:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise
        self._client = client
        self.mtu = client.mtu_size
        self.description = f"BLE {device.address}" + (
            f" ({device.name})" if device.name and device.name != self.target else ""
        )

    def _fresh(self) -> None:
        self._drop_client()
        self._pending_lost = False
        # drain notifications of earlier connections: the reassembler starts afresh
        with contextlib.suppress(queue.Empty):
            while True:
                self._q.get_nowait()

    def open(self) -> None:
        if self.background_reconnect and self._connected_once:
            self._open_in_background()
            return
        self._fresh()
        self._run(self._connect(), self.scan_timeout + self.connect_timeout + 5.0)
        self._connected_once = True

    def _open_in_background(self) -> None:
        """Start a reconnection on the event loop, or pick up the one started earlier.
        Raises :class:`LinkLost` until it has succeeded (then returns, connected)."""
        fut = self._connecting
        if fut is None:
            self._fresh()
            self._connecting = asyncio.run_coroutine_threadsafe(
                self._connect(), self._ensure_loop()
            )
            raise LinkLost(f"{self.description}: reconnecting")
        if not fut.done():
            raise LinkLost(f"{self.description}: still reconnecting")
        self._connecting = None
        err = fut.exception()
        if isinstance(err, LinkLost):
            raise err
        if err is not None:
            raise LinkLost(f"{self.description}: {err or type(err).__name__}")

    def read(self, timeout: float) -> bytes:
        if self._pending_lost or self._client is None:
            self._pending_lost = False
            raise LinkLost(f"{self.description}: disconnected")
        chunks: list[bytes] = []
        gen = self._generation
        try:
            item_gen, item = self._q.get(timeout=timeout)
            while True:
                if item_gen == gen:
                    if item is _LOST:
                        self._pending_lost = True
                        break
                    chunks.append(item)  # type: ignore[arg-type]
                item_gen, item = self._q.get_nowait()
        except queue.Empty:
            pass
        if self._pending_lost and not chunks:
            self._pending_lost = False
            raise LinkLost(f"{self.description}: disconnected")
        return b"".join(chunks)

    async def _write(self, data: bytes) -> None:
        client, char = self._client, self._rx_char
        if client is None or char is None or not client.is_connected:
            raise LinkLost("not connected")
        size = max(20, char.max_write_without_response_size)
        response = "write-without-response" not in char.properties
        for i in range(0, len(data), size):
            await client.write_gatt_char(char, data[i : i + size], response=response)

    def write(self, data: bytes) -> None:
        try:
            self._run(self._write(bytes(data)), 5.0)
        except (BleakError, OSError) as err:
            raise LinkLost(f"{self.description}: {err}") from None

    def drop(self) -> None:
        """Forget a lost connection but keep the event loop for reconnecting."""
        self._drop_client()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._generation += 1
        if client is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._run(client.disconnect(), 5.0)

    def close(self) -> None:
        fut, self._connecting = self._connecting, None
        if fut is not None and not fut.done():
            fut.cancel()
            with contextlib.suppress(Exception):
                fut.result(5.0)  # cancelled: returns at once; connected meanwhile: dropped below
        self._drop_client()
        if not self._owns_loop:
            return
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(5.0)
            if not loop.is_running():
                loop.close()


def name_matches(target: str, name: str | None) -> bool:
    """Does an advertised ``name`` answer to ``--ble target``?

    Boards advertise ``KneeRoll-<unique id>`` (firmware 1.1; older ones plain
    ``KneeRoll``). The full name matches, and so do the bare prefix (``KneeRoll``: the
    first such board found) and the unique id alone (``A1B2C3``). Case-insensitive.
    """
    if not name:
        return False
    want, have = target.strip().lower(), name.strip().lower()
    if not want:
        return False
    base, sep, uid = have.rpartition("-")
    return have == want or (bool(sep) and (base == want or uid == want))


def resolve_target(text: str) -> str:
    """Validate a ``--ble`` argument (non-empty) and return it."""
    if not text.strip():
        raise InputError("--ble needs a device name or address")
    return text.strip()
