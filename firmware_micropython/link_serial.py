# Byte-stream link: USB CDC / REPL (sys.stdout.buffer + sys.stdin.buffer), a UART, or
# any pair of stream objects (the Unix-port sim uses stdout/stdin of the process).
#
# A host that keeps the USB port open but stops reading: on rp2 (TinyUSB CDC) every
# write then waits for the TX timeout (~500 ms) and throws the bytes away, without an
# error. With stall_ms set (main.py: USB on a board), a write that took longer than
# stall_ms marks the link stalled: for the next
# probe_ms every write is refused at once (counted in .drops; the streamer keeps the
# samples for backfill), then one write probes whether the host reads again.
import sys
import time

try:
    import select
except ImportError:
    select = None  # type: ignore[assignment]

try:
    _ticks_us = time.ticks_us
    _ticks_diff = time.ticks_diff
except AttributeError:  # CPython (host-side tests)

    def _ticks_us():
        return int(time.monotonic() * 1000000) & 0x3FFFFFFF  # type: ignore[attr-defined]

    def _ticks_diff(a, b):
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d >= 0x20000000 else d


class SerialLink:
    transport_id = 0
    max_write = 0  # no packet limit
    connected = True  # a serial port cannot tell; the host just reads

    def __init__(
        self,
        out=None,
        inp=None,
        transport_id=0,
        ctrl_c=False,
        clock=None,
        stall_ms=0,
        probe_ms=1000,
        bytes_per_s=0,
    ):
        self.out = out if out is not None else sys.stdout.buffer
        self.inp = inp if inp is not None else getattr(sys.stdin, "buffer", sys.stdin)
        self.transport_id = transport_id
        self.ctrl_c = ctrl_c  # a stray 0x03 from the host means "stop, back to the REPL"
        self.clock = clock or _ticks_us
        self.stall_us = stall_ms * 1000
        self.probe_us = probe_ms * 1000
        self.bytes_per_s = bytes_per_s  # link capacity for rate limits (0 = unknown)
        self.write_errors = 0
        self.drops = 0  # writes refused while the host was not reading
        self.stalls = 0
        self.stalled = False
        self._stall_t = 0
        self._one = bytearray(1)
        self._poller = None
        self._any = getattr(self.inp, "any", None)  # machine.UART has any()
        if self._any is None and select is not None and self.inp is not None:
            try:
                self._poller = select.poll()
                self._poller.register(self.inp, select.POLLIN)
            except Exception:
                self._poller = None
        self.eof = False

    def ready(self, size=0):
        if not self.stalled:
            return True
        return _ticks_diff(self.clock(), self._stall_t) >= self.probe_us

    def write(self, buf):
        if self.stalled and not self.ready():
            self.drops += 1
            return False
        t0 = self.clock()
        try:
            n = self.out.write(buf)
        except OSError:
            self.write_errors += 1
            return False
        t1 = self.clock()
        slow = self.stall_us and _ticks_diff(t1, t0) > self.stall_us
        if slow or (n is not None and n < len(buf)):
            # the host is not reading: the bytes are (probably) gone, stop blocking on it
            if not self.stalled:
                self.stalls += 1
            self.stalled = True
            self._stall_t = t1  # type: ignore[assignment]
            self.drops += 1
            return False
        self.stalled = False
        return True

    def _readable(self):
        if self._any is not None:
            return self._any() > 0
        if self._poller is None or self.eof:
            return False
        for _ in self._poller.ipoll(0):
            return True
        return False

    def read_into(self, buf):
        n = 0
        one = self._one
        while n < len(buf) and self._readable():
            if self.inp.readinto(one) != 1:  # type: ignore[misc]
                self.eof = True
                if self._poller is not None:
                    self._poller.unregister(self.inp)
                break
            buf[n] = one[0]
            n += 1
        return n
