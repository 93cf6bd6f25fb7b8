# Stand-in for MicroPython's `bluetooth` module (the Unix port has none).
# Records registrations, advertising and notifications; tests drive the IRQ handler
# (connect, MTU exchange, writes, disconnect) through the sim_* helpers.
# gatts_notify() is allocation-free (preallocated log) so it can run under heap_lock.
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


class BLE:
    def __init__(self, log_capacity=1 << 20, max_notifications=1 << 16):
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

    def gatts_notify(self, conn_handle, value_handle, data=None):
        if self.fail_notify:
            raise OSError(12)
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
