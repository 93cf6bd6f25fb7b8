# BLE peripheral with the Nordic UART Service (NUS): frames go out as TX notifications,
# commands arrive as writes to RX. Standard tools (nRF Connect, web BLE terminals) see it.
#
# Uses MicroPython's `bluetooth` module API. The module object is passed in (or
# imported on first use), so this file also imports under CPython with a stand-in.
# Respects the negotiated MTU (notification payload <= MTU - 3; larger frames are split
# across several notifications, which the byte-stream framing tolerates), re-advertises
# after a disconnect, and reports write() == False while nobody is connected so the
# streamer counts those samples as dropped.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


NUS_SERVICE = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"
NUS_RX = "6E400002-B5A3-F393-E0A9-E50E24DCCA9E"  # host -> device (write)
NUS_TX = "6E400003-B5A3-F393-E0A9-E50E24DCCA9E"  # device -> host (notify)

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)

_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)

_ADV_TYPE_FLAGS = const(0x01)
_ADV_TYPE_NAME = const(0x09)
_ADV_TYPE_UUID128_COMPLETE = const(0x07)

DEFAULT_MTU = const(23)
MAX_MTU = const(247)
RX_RING = const(256)


def _uuid128_le(s):
    h = s.replace("-", "")
    b = bytearray(16)
    for i in range(16):
        b[15 - i] = int(h[2 * i : 2 * i + 2], 16)
    return bytes(b)


def adv_payloads(name):
    """(adv_data, resp_data): flags + NUS UUID in the advert, the name in the scan reply."""
    adv = bytes((2, _ADV_TYPE_FLAGS, 0x06)) + bytes((17, _ADV_TYPE_UUID128_COMPLETE))
    adv += _uuid128_le(NUS_SERVICE)
    nb = name.encode()[:29]
    resp = bytes((len(nb) + 1, _ADV_TYPE_NAME)) + nb
    return adv, resp


class BleNusLink:
    transport_id = 1

    def __init__(
        self, name="KneeRoll", bluetooth=None, ble=None, adv_interval_us=100000, want_mtu=MAX_MTU
    ):
        if bluetooth is None:
            import bluetooth
        self.bt = bluetooth
        self.ble = ble if ble is not None else bluetooth.BLE()
        self.name = name
        self.adv_interval_us = adv_interval_us
        self.conn = None
        self.mtu = DEFAULT_MTU
        self.max_write = DEFAULT_MTU - 3
        self.connections = 0
        self.notify_errors = 0
        self.advertising = False
        self._rx = bytearray(RX_RING)
        self._rx_head = 0  # write position (irq)
        self._rx_tail = 0  # read position (loop)
        self._rx_overruns = 0
        self._chunk = bytearray(MAX_MTU - 3)
        cm = memoryview(self._chunk)
        # views of every chunk length, built once so splitting a frame never allocates
        self._chunk_views = [cm[:i] for i in range(MAX_MTU - 2)]
        b = self.ble
        b.active(True)
        try:
            b.config(gap_name=name)
        except Exception:
            pass
        try:
            b.config(mtu=want_mtu)
        except Exception:
            pass
        b.irq(self._irq)
        uuid = bluetooth.UUID
        tx = (uuid(NUS_TX), _FLAG_READ | _FLAG_NOTIFY)
        rx = (uuid(NUS_RX), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE)
        ((self.tx_handle, self.rx_handle),) = b.gatts_register_services(
            ((uuid(NUS_SERVICE), (tx, rx)),)
        )
        b.gatts_set_buffer(self.rx_handle, 128, True)  # append: back-to-back writes kept
        self._adv, self._resp = adv_payloads(name)
        self.advertise()

    @property
    def connected(self):
        return self.conn is not None

    def advertise(self):
        self.ble.gap_advertise(self.adv_interval_us, adv_data=self._adv, resp_data=self._resp)
        self.advertising = True

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.conn = data[0]
            self.connections += 1
            self.mtu = DEFAULT_MTU
            self.max_write = DEFAULT_MTU - 3
            self.advertising = False
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conn = None
            self.mtu = DEFAULT_MTU
            self.max_write = DEFAULT_MTU - 3
            self.advertise()  # be findable again
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.rx_handle:
                self._rx_put(self.ble.gatts_read(self.rx_handle))
        elif event == _IRQ_MTU_EXCHANGED:
            mtu = data[1]
            if mtu > MAX_MTU:
                mtu = MAX_MTU
            self.mtu = mtu
            self.max_write = mtu - 3

    def _rx_put(self, data):
        for x in data:
            nxt = (self._rx_head + 1) % RX_RING
            if nxt == self._rx_tail:
                self._rx_overruns += 1
                return
            self._rx[self._rx_head] = x
            self._rx_head = nxt

    def read_into(self, buf):
        n = 0
        while n < len(buf) and self._rx_tail != self._rx_head:
            buf[n] = self._rx[self._rx_tail]
            self._rx_tail = (self._rx_tail + 1) % RX_RING
            n += 1
        return n

    def write(self, buf):
        conn = self.conn
        if conn is None:
            return False
        size = len(buf)
        cmax = self.max_write
        try:
            if size <= cmax:
                self.ble.gatts_notify(conn, self.tx_handle, buf)
                return True
            pos = 0
            ch = self._chunk
            while pos < size:
                c = size - pos
                if c > cmax:
                    c = cmax
                for i in range(c):
                    ch[i] = buf[pos + i]
                self.ble.gatts_notify(conn, self.tx_handle, self._chunk_views[c])
                pos += c
            return True
        except OSError:
            # stack buffers full / link lost: this frame is dropped (the host resyncs)
            self.notify_errors += 1
            return False
