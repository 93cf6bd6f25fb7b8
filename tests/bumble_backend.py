"""Test support (not product): a bleak backend driving a Bumble central over Bumble's
in-process virtual link to a Bumble GATT server playing the board's NUS service.

Everything below bleak's public API is real BLE host stack: advertising and active
scanning, LE connection, ATT MTU exchange, GATT discovery, CCCD writes to enable
notifications, notifications the server cuts to ATT_MTU-3, write commands, and
disconnection events — all through Bumble's virtual controllers on a ``LocalLink``.

Usage::

    world = BumbleWorld(loop)               # loop: where bleak (and so Bumble) runs
    world = BumbleWorld(loop, board_names=["KneeRoll-A1B2C3", "KneeRoll-D4E5F6"])  # several
    world.run(world.start())                # from another thread
    client_cls, scanner_cls = world.backends()
    BleakClient(dev, backend=client_cls); BleakScanner(backend=scanner_cls)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from imu_host.transport.base import NUS_RX_CHAR_UUID, NUS_SERVICE_UUID, NUS_TX_CHAR_UUID

BOARD_ADDRESS = "F1:F1:F1:F1:F1:F1"
# further boards of a several-board world (random static addresses: top two bits set)
BOARD_ADDRESSES = (BOARD_ADDRESS, "F2:F2:F2:F2:F2:F2", "F3:F3:F3:F3:F3:F3")
CENTRAL_ADDRESS = "F0:F0:F0:F0:F0:F0"

_PROPS = {
    gatt.Characteristic.Properties.BROADCAST: "broadcast",
    gatt.Characteristic.Properties.READ: "read",
    gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    gatt.Characteristic.Properties.WRITE: "write",
    gatt.Characteristic.Properties.NOTIFY: "notify",
    gatt.Characteristic.Properties.INDICATE: "indicate",
}


def advertising_payloads(name: str) -> tuple[bytes, bytes]:
    """(advertising data, scan response) exactly as the firmware builds them (flags + NUS
    UUID in the advert, the name in the scan response), from firmware_micropython/."""
    from imu_host.sim.board import firmware_dir

    fw = firmware_dir()
    if fw is not None and (fw / "link_ble.py").is_file():
        spec = importlib.util.spec_from_file_location("_fw_link_ble", fw / "link_ble.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.adv_payloads(name)
    adv = AdvertisingData(
        [
            (AdvertisingData.FLAGS, bytes([0x06])),
            (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                UUID(NUS_SERVICE_UUID.upper()).to_bytes(),
            ),
        ]
    )
    resp = AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, name.encode())])
    return bytes(adv), bytes(resp)


def _uuid_str(u: UUID) -> str:
    return normalize_uuid_str(u.to_hex_str("-").lower())


class VirtualBoard:
    """The board's BLE side: NUS GATT server + advertising, on a Bumble device."""

    def __init__(self, link: LocalLink, name: str, address: str, max_mtu: int) -> None:
        self.name = name
        self.controller = Controller("board", link=link, public_address=address)
        self.device = Device(
            name=name,
            address=Address(address),
            host=Host(self.controller, AsyncPipeSink(self.controller)),
        )
        self.device.gatt_server.max_mtu = max_mtu
        self.received = bytearray()  # bytes the host wrote to RX
        self.on_rx: Callable[[bytes], None] | None = None
        self.rx_event = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.connected = asyncio.Event()
        self.connection: Connection | None = None
        self.notifications_sent = 0
        self.address = address
        self.readvertise = True  # False: after a disconnection the board stays out of range
        self.scan_response = b""  # what the firmware answers an active scan with (its name)
        self.tx = gatt.Characteristic(
            NUS_TX_CHAR_UUID.upper(),
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            b"",
        )
        self.rx = gatt.Characteristic(
            NUS_RX_CHAR_UUID.upper(),
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        self.device.add_service(gatt.Service(NUS_SERVICE_UUID.upper(), [self.rx, self.tx]))
        self.device.on("connection", self._on_connection)
        self.tx.on("subscription", self._on_subscription)

    def _on_write(self, _connection: Connection, value: bytes) -> None:
        self.received += value
        self.rx_event.set()
        if self.on_rx is not None:
            self.on_rx(bytes(value))

    def _on_connection(self, connection: Connection) -> None:
        self.connection = connection
        self.connected.set()

        def on_disconnection(_reason: int) -> None:
            self.connection = None
            self.connected.clear()
            self.subscribed.clear()
            if self.readvertise:
                asyncio.get_running_loop().create_task(self.advertise())

        connection.on("disconnection", on_disconnection)

    def _on_subscription(self, _connection: Connection, notify_enabled: bool, *_: Any) -> None:
        if notify_enabled:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    async def advertise(self) -> None:
        adv, resp = advertising_payloads(self.name)
        self.scan_response = resp
        # Bumble's virtual controller answers an active scan with the advertising data
        # again (no real scan responses on a LocalLink), so the name the firmware puts in
        # its scan response is appended to the advert here (it fits: 31 bytes max).
        if len(adv) + len(resp) <= 31:
            adv += resp
        await self.device.start_advertising(
            advertising_data=adv,
            scan_response_data=resp,
            advertising_interval_min=20.0,
            auto_restart=False,
        )

    @property
    def mtu(self) -> int:
        return self.connection.att_mtu if self.connection else 23

    async def send(self, data: bytes, chunk: int | None = None) -> None:
        """Stream bytes as notifications of at most ATT_MTU-3 (or ``chunk``) bytes."""
        conn = self.connection
        if conn is None:
            return
        size = min(chunk or 10_000, conn.att_mtu - 3)
        for i in range(0, len(data), size):
            await self.device.notify_subscriber(conn, self.tx, data[i : i + size])
            self.notifications_sent += 1

    async def drop_link(self) -> None:
        """The radio link dies (out of range, board browned out)."""
        if self.connection is not None:
            await self.connection.disconnect()

    async def out_of_range(self) -> None:
        """The link dies and the board is not seen again until :meth:`in_range`."""
        self.readvertise = False
        await self.drop_link()

    async def in_range(self) -> None:
        """The board is seen again (it advertises; the host may reconnect)."""
        self.readvertise = True
        if self.connection is None:
            await self.advertise()


class BumbleWorld:
    """Virtual controllers on one LocalLink: the board (or up to three, ``board_names``)
    and the host's central."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        board_name: str = "KneeRoll",  # the firmware's default BLE name
        board_mtu: int = 247,
        client_mtu: int = 247,
        board_names: list[str] | None = None,  # several boards: one name each
    ) -> None:
        self.loop = loop
        self.board_names = list(board_names or [board_name])
        if len(self.board_names) > len(BOARD_ADDRESSES):
            raise ValueError(f"at most {len(BOARD_ADDRESSES)} boards")
        self.board_name = self.board_names[0]
        self.board_mtu = board_mtu
        self.client_mtu = client_mtu
        self.board: VirtualBoard | None = None  # the first board
        self.boards: list[VirtualBoard] = []
        self.central: Device | None = None
        self._scanners = 0

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        """Run a coroutine on the world's loop from another thread and wait for it."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    async def start(self) -> None:
        link = LocalLink()
        self.boards = [
            VirtualBoard(link, name, addr, self.board_mtu)
            for name, addr in zip(self.board_names, BOARD_ADDRESSES, strict=False)
        ]
        self.board = self.boards[0]
        c = Controller("central", link=link, public_address=CENTRAL_ADDRESS)
        self.central = Device(
            name="host", address=Address(CENTRAL_ADDRESS), host=Host(c, AsyncPipeSink(c))
        )
        for b in self.boards:
            await b.device.power_on()
        await self.central.power_on()
        for b in self.boards:
            await b.advertise()

    def board_at(self, address: str) -> VirtualBoard:
        return next(b for b in self.boards if b.address.lower() == address.lower())

    async def start_scanning(self) -> None:
        assert self.central is not None
        self._scanners += 1
        if self._scanners == 1:
            await self.central.start_scanning(filter_duplicates=False)

    async def stop_scanning(self) -> None:
        assert self.central is not None
        self._scanners -= 1
        if self._scanners == 0 and self.central.is_scanning:
            await self.central.stop_scanning()

    def backends(self) -> tuple[type[BaseBleakClient], type[BaseBleakScanner]]:
        """bleak backend classes bound to this world (for ``backend=``)."""
        world = self

        class Client(BumbleBleakClient):
            _world = world

        class Scanner(BumbleBleakScanner):
            _world = world

        return Client, Scanner


class BumbleBleakScanner(BaseBleakScanner):
    _world: BumbleWorld

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **_kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._listening = False

    def _on_advertisement(self, adv: Any) -> None:
        data: AdvertisingData = adv.data
        uuids = [
            _uuid_str(u)
            for t in (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            )
            for u in (data.get(t) or [])
        ]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
        address = adv.address.to_string(with_type_qualifier=False)
        if name is None:
            # a name too long to share the advert (KneeRoll-A1B2C3) is only in the scan
            # response, which Bumble's LocalLink does not carry: an active scan gets it from
            # the board's own scan-response payload (the firmware's, see advertise())
            board = next((b for b in self._world.boards if b.address.lower() == address.lower()),
                         None)  # fmt: skip
            if board is not None and board.scan_response:
                resp = AdvertisingData.from_bytes(board.scan_response)
                name = resp.get(AdvertisingData.COMPLETE_LOCAL_NAME)
        if isinstance(name, bytes):
            name = name.decode()
        ad = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=adv.rssi,
            platform_data=(adv,),
        )
        device = self.create_or_update_device(address, address, name, adv.address, ad)
        self.call_detection_callbacks(device, ad)

    async def start(self) -> None:
        world = self._world
        assert world.central is not None
        self.seen_devices = {}
        world.central.on("advertisement", self._on_advertisement)
        self._listening = True
        await world.start_scanning()

    async def stop(self) -> None:
        world = self._world
        assert world.central is not None
        if self._listening:
            world.central.remove_listener("advertisement", self._on_advertisement)
            self._listening = False
            await world.stop_scanning()


class BumbleBleakClient(BaseBleakClient):
    _world: BumbleWorld

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=kwargs.get("timeout", 10.0),
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._disconnecting = False

    @property
    def name(self) -> str:
        return self._world.board_at(self.address).name

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = self._world.central
        assert central is not None
        try:
            conn = await asyncio.wait_for(
                central.connect(Address(self.address, Address.RANDOM_DEVICE_ADDRESS)),
                self._timeout,
            )
        except Exception as err:  # bumble raises its own error types
            raise BleakError(f"connect failed: {err}") from err
        self._connection = conn
        conn.on("disconnection", self._on_disconnection)
        peer = Peer(conn)
        self._peer = peer
        await peer.request_mtu(self._world.client_mtu)
        await peer.discover_services()
        services = BleakGATTServiceCollection()
        for sp in peer.services:
            service = BleakGATTService(sp, sp.handle, _uuid_str(sp.uuid))
            services.add_service(service)
            await peer.discover_characteristics(service=sp)
            for cp in sp.characteristics:
                props = [n for bit, n in _PROPS.items() if cp.properties & bit]
                char = BleakGATTCharacteristic(
                    cp, cp.handle, _uuid_str(cp.uuid), props, lambda: self.mtu_size - 3, service
                )
                services.add_characteristic(char)
                await peer.discover_descriptors(cp)
                for dp in cp.descriptors:
                    desc = BleakGATTDescriptor(dp, dp.handle, _uuid_str(dp.type), char)
                    services.add_descriptor(desc)
        self.services = services

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        if not self._disconnecting and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        conn = self._connection
        if conn is None:
            return
        self._disconnecting = True
        try:
            await conn.disconnect()
        finally:
            self._connection = None
            self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def unpair(self) -> None:
        raise NotImplementedError

    def _need_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._need_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._need_peer().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        await self._need_peer().write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._need_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        await self._need_peer().subscribe(
            characteristic.obj, lambda value: callback(bytearray(value)), prefer_notify=True
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._need_peer().unsubscribe(characteristic.obj)
