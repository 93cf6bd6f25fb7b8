# BLE peripheral with the Nordic UART Service (NUS): frames go out as TX notifications,
# commands arrive as writes to RX. Standard tools (nRF Connect, web BLE terminals) see it.
#
# Uses MicroPython's `bluetooth` module API. The module object is passed in (or
# imported on first use), so this file also imports under CPython with a stand-in.
# Respects the negotiated MTU (notification payload <= MTU - 3; larger frames are split
# across several notifications, which the byte-stream framing tolerates), asks the
# central for a bigger MTU (gattc_exchange_mtu) after it connects, re-advertises after a
# disconnect, and reports write() == False while nobody is connected so the streamer
# keeps those samples for backfill (or counts them as dropped).
#
# Rate limit: NimBLE (ESP32) raises OSError(ENOMEM) when its buffers are full, but
# btstack (Pico W) never does: gatts_notify queues a heap copy and the heap grows until
# allocation fails. There is no completion event for notifications
# (_IRQ_GATTS_INDICATE_DONE is for indications), so notifications go through a token
# bucket sized on the connection interval (from _IRQ_CONNECTION_UPDATE, 30 ms until
# known) and NOTIFY_PER_EVENT packets per connection event; a frame is sent whole or
# not at all (counted in .drops).
try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


NUS_SERVICE = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"
NUS_RX = "6E400002-B5A3-F393-E0A9-E50E24DCCA9E"  # host -> device (write)
NUS_TX = "6E400003-B5A3-F393-E0A9-E50E24DCCA9E"  # device -> host (notify)

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_CONNECTION_UPDATE = const(27)

_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)

_ADV_TYPE_FLAGS = const(0x01)
_ADV_TYPE_NAME = const(0x09)
_ADV_TYPE_UUID128_COMPLETE = const(0x07)

_DEFAULT_MTU = const(23)
_MAX_MTU = const(247)
_RX_RING = const(256)
_DEFAULT_INTERVAL_US = const(30000)
NOTIFY_PER_EVENT = 3  # notifications the link is assumed to carry per connection event
_BURST_EVENTS = const(4)  # bucket depth in connection events
_SLOW_ADV_US = const(1000000)  # advertising interval while idle


def _ticks():
    import time

    t = getattr(time, "ticks_us", None)
    if t is None:  # CPython (host-side BLE stacks, tests)

        def t():
            return int(time.monotonic() * 1000000) & 0x3FFFFFFF  # type: ignore[attr-defined]

    return t


def _diff(a, b):
    d = (a - b) & 0x3FFFFFFF
    return d - 0x40000000 if d >= 0x20000000 else d


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
        self,
        name="KneeRoll",
        bluetooth=None,
        ble=None,
        adv_interval_us=100000,
        want_mtu=_MAX_MTU,
        clock=None,
        per_event=NOTIFY_PER_EVENT,
    ):
        if bluetooth is None:
            import bluetooth
        self.bt = bluetooth
        self.ble = ble if ble is not None else bluetooth.BLE()
        self.name = name
        self.adv_interval_us = adv_interval_us
        self.fast_adv_us = adv_interval_us
        self.clock = clock or _ticks()
        self.per_event = per_event
        self.interval_us = _DEFAULT_INTERVAL_US
        self._tokens = 0
        self._t = self.clock()
        self.conn = None
        self.mtu = _DEFAULT_MTU
        self.max_write = _DEFAULT_MTU - 3
        self.connections = 0
        self.notify_errors = 0
        self.drops = 0  # frames not sent: bucket empty or stack buffers full
        self.mtu_requests = 0
        self._want_mtu = False
        self.advertising = False
        self._rx = bytearray(_RX_RING)
        self._rx_head = 0  # write position (irq)
        self._rx_tail = 0  # read position (loop)
        self._rx_overruns = 0
        self._chunk = bytearray(_MAX_MTU - 3)
        cm = memoryview(self._chunk)
        # views of every chunk length, built once so splitting a frame never allocates
        self._chunk_views = [cm[:i] for i in range(_MAX_MTU - 2)]
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
            self.mtu = _DEFAULT_MTU
            self.max_write = _DEFAULT_MTU - 3
            self.interval_us = _DEFAULT_INTERVAL_US
            self._tokens = _BURST_EVENTS * self.interval_us * self.per_event  # full bucket
            self._t = self.clock()
            self._want_mtu = True  # asked from the main loop, not from the IRQ
            self.advertising = False
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conn = None
            self.mtu = _DEFAULT_MTU
            self.max_write = _DEFAULT_MTU - 3
            self.advertise()  # be findable again
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.rx_handle:
                self._rx_put(self.ble.gatts_read(self.rx_handle))
        elif event == _IRQ_MTU_EXCHANGED:
            mtu = data[1]
            if mtu > _MAX_MTU:
                mtu = _MAX_MTU
            self.mtu = mtu
            self.max_write = mtu - 3
        elif event == _IRQ_CONNECTION_UPDATE:
            # (conn_handle, conn_interval in 1.25 ms units, latency, timeout, status)
            iv = data[1] * 1250
            if iv > 0:
                self.interval_us = iv

    def _rx_put(self, data):
        for x in data:
            nxt = (self._rx_head + 1) % _RX_RING
            if nxt == self._rx_tail:
                self._rx_overruns += 1
                return
            self._rx[self._rx_head] = x
            self._rx_head = nxt

    def read_into(self, buf):
        n = 0
        while n < len(buf) and self._rx_tail != self._rx_head:
            buf[n] = self._rx[self._rx_tail]
            self._rx_tail = (self._rx_tail + 1) % _RX_RING
            n += 1
        return n

    def set_idle(self, on):
        """Idle (power saving): advertise slowly; back to the normal interval when off."""
        self.adv_interval_us = _SLOW_ADV_US if on else self.fast_adv_us
        if self.conn is None:
            self.advertise()

    def _refill(self):
        now = self.clock()
        el = _diff(now, self._t)
        self._t = now
        cap = _BURST_EVENTS * self.interval_us
        if el < 0:
            el = 0
        if el > cap:
            el = cap
        t = self._tokens + el * self.per_event  # one notification = interval_us tokens
        self._tokens = cap * self.per_event if t > cap * self.per_event else t
        return self.interval_us

    def ready(self, size=0):
        """Room now for a frame of `size` bytes (0: one notification)."""
        if self.conn is None:
            return False
        cost = self._refill()
        need = (size + self.max_write - 1) // self.max_write if size > 0 else 1
        return self._tokens >= need * cost

    def _exchange_mtu(self):
        self._want_mtu = False
        try:
            self.ble.gattc_exchange_mtu(self.conn)
            self.mtu_requests += 1
        except (OSError, AttributeError):
            pass  # the central may refuse; frames are then split into 20-byte pieces

    def write(self, buf):
        conn = self.conn
        if conn is None:
            return False
        if self._want_mtu:
            self._exchange_mtu()
        size = len(buf)
        cmax = self.max_write
        need = (size + cmax - 1) // cmax  # notifications for this frame
        cost = self._refill()
        if self._tokens < need * cost:
            self.drops += 1  # the link would not drain it in time: refuse the whole frame
            return False
        self._tokens -= need * cost
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
            self.drops += 1
            return False
