# Stand-in for MicroPython's `bluetooth` module (the Unix port has none).
# Records registrations, advertising and notifications; tests drive the IRQ handler
# (connect, MTU exchange, writes, disconnect) through the sim_* helpers.
# gatts_notify() is allocation-free (preallocated log) so it can run under heap_lock.
#
# Stack profiles (stack=...): None = every notification goes out at once (log);
# "nimble" (ESP32) = the controller holds `queue_max` notifications, more raise
# OSError(ENOMEM); "btstack" (Pico W) = gatts_notify never fails, it queues a heap copy
# (bytes(data): allocates) until the link drains it. Both drain `per_event`
# notifications per connection event of `interval_us` when sim_run(now_us) is called;
# only drained notifications reach the log (what the central received).
from array import array

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010


class UUID:
    def __init__(self, value):
        self.value = value

    def __str__(self):
        return str(self.value)

    def __eq__(self, other):
        return str(self) == str(other)


LAST = None  # the most recent BLE() (the board stand-in dumps its log)


class BLE:
    def __init__(
        self,
        log_capacity=1 << 20,
        max_notifications=1 << 16,
        stack=None,
        interval_us=30000,
        per_event=3,
        queue_max=12,
    ):
        global LAST
        LAST = self
        self.stack = stack
        self.interval_us = interval_us
        self.per_event = per_event
        self.queue_max = queue_max
        self.queue = []  # btstack/nimble: notifications not yet sent over the air
        self.max_queue = 0
        self.queued_bytes_max = 0
        self.enomem = 0
        self._next_event = 0
        self.mtu_exchanges = 0
        self._active = False
        self.cfg = {}
        self.handler = None
        self.services = []  # [(service_uuid_str, [(char_uuid_str, flags), ...])]
        self.handles = {}  # handle -> char uuid str
        self.buffers = {}  # handle -> (size, append)
        self.values = {}  # handle -> bytes
        self.adverts = []  # (interval_us, adv_data, resp_data) per gap_advertise call
        self.log = bytearray(log_capacity)
        self.log_pos = 0
        self.note_len = array("H", bytearray(2 * max_notifications))
        self.note_conn = array("H", bytearray(2 * max_notifications))
        self.notes = 0
        self.fail_notify = False  # simulate a full stack buffer (OSError)
        self.mtu = 23  # negotiated MTU of the current connection
        self.oversize = 0  # notifications longer than mtu - 3

    # --- the MicroPython API subset the firmware uses
    def active(self, on=None):
        if on is not None:
            self._active = bool(on)
        return self._active

    def config(self, *args, **kw):
        if args:
            return self.cfg.get(args[0])
        self.cfg.update(kw)

    def irq(self, handler):
        self.handler = handler

    def gatts_register_services(self, services):
        out = []
        h = 10
        for suuid, chars in services:
            hs = []
            self.services.append((str(suuid), [(str(c[0]), c[1]) for c in chars]))
            for c in chars:
                h += 2
                self.handles[h] = str(c[0])
                hs.append(h)
            out.append(tuple(hs))
        return tuple(out)

    def gatts_set_buffer(self, handle, size, append=False):
        self.buffers[handle] = (size, append)

    def gatts_read(self, handle):
        v = self.values.get(handle, b"")
        self.values[handle] = b""
        return v

    def gatts_write(self, handle, data, send_update=False):
        self.values[handle] = bytes(data)

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        self.adverts.append((interval_us, bytes(adv_data or b""), bytes(resp_data or b"")))

    def gattc_exchange_mtu(self, conn_handle):
        self.mtu_exchanges += 1  # the test answers with sim_mtu() (the central decides)

    def gatts_notify(self, conn_handle, value_handle, data=None):
        if self.fail_notify:
            raise OSError(12)
        if self.stack == "nimble" and len(self.queue) >= self.queue_max:
            self.enomem += 1
            raise OSError(12)  # ENOMEM: NimBLE's mbufs are used up
        if self.stack is not None:
            self.queue.append((conn_handle, bytes(data)))  # heap copy (btstack: unbounded)
            if len(self.queue) > self.max_queue:
                self.max_queue = len(self.queue)
            q = sum(len(d) for _, d in self.queue)
            if q > self.queued_bytes_max:
                self.queued_bytes_max = q
            return
        self._log(conn_handle, data)

    def sim_run(self, now_us):
        """Connection events up to now_us: each sends per_event queued notifications."""
        if self._next_event == 0:
            self._next_event = now_us
        while self._next_event <= now_us:
            for _ in range(self.per_event):
                if not self.queue:
                    break
                c, d = self.queue.pop(0)
                self._log(c, d)
            self._next_event += self.interval_us

    def sim_conn_update(self, interval_us, conn=64):
        self.interval_us = interval_us
        self.handler(27, (conn, interval_us // 1250, 0, 400, 0))

    def _log(self, conn_handle, data):
        n = len(data)
        if n > self.mtu - 3:
            self.oversize += 1
        p = self.log_pos
        self.log[p : p + n] = data
        self.log_pos = p + n
        self.note_len[self.notes] = n
        self.note_conn[self.notes] = conn_handle
        self.notes += 1

    # --- test helpers: what a central would cause
    def sim_connect(self, conn=64):
        self.mtu = 23
        self.handler(1, (conn, 0, b"\x00\x11\x22\x33\x44\x55"))

    def sim_disconnect(self, conn=64):
        self.handler(2, (conn, 0, b"\x00\x11\x22\x33\x44\x55"))

    def sim_mtu(self, mtu, conn=64):
        self.mtu = mtu
        self.handler(21, (conn, mtu))

    def sim_write(self, handle, data, conn=64):
        size, append = self.buffers.get(handle, (20, False))
        old = self.values.get(handle, b"") if append else b""
        self.values[handle] = (old + bytes(data))[:size]
        self.handler(3, (conn, handle))
