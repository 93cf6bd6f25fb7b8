# In-memory link for firmware tests: preallocated output sink, scheduled host input.
class MemLink:
    def __init__(self, capacity=1 << 20, max_write=0, transport_id=0):
        self.out = bytearray(capacity)
        self.pos = 0
        self.max_write = max_write
        self.transport_id = transport_id
        self.connected = True
        self.refused = 0
        self.overflow = 0
        self.writes = 0
        self.inp = bytearray(0)
        self.inp_pos = 0
        self.inp_avail = 0  # bytes of inp the "host" has sent so far

    def write(self, buf):
        if not self.connected:
            self.refused += 1
            return False
        n = len(buf)
        if self.pos + n > len(self.out):
            self.overflow += 1
            return False
        self.out[self.pos : self.pos + n] = buf
        self.pos += n
        self.writes += 1
        return True

    def send_from_host(self, nbytes):
        self.inp_avail = min(len(self.inp), self.inp_avail + nbytes)

    def read_into(self, buf):
        n = 0
        while n < len(buf) and self.inp_pos < self.inp_avail:
            buf[n] = self.inp[self.inp_pos]
            self.inp_pos += 1
            n += 1
        return n


class StallingUsb:
    """What sys.stdout.buffer does on rp2 (TinyUSB CDC) while the host keeps the port
    open but stops reading: each write waits for the 500 ms TX timeout, then the bytes
    are thrown away (the call itself does not fail). Between t0 and t1 (virtual clock)."""

    TIMEOUT_US = 500000

    def __init__(self, clock, t0, t1, capacity=1 << 20):
        self.clock = clock
        self.t0 = t0
        self.t1 = t1
        self.out = bytearray(capacity)
        self.pos = 0
        self.stalled_writes = 0
        self.max_write_us = 0

    def write(self, buf):
        n = len(buf)
        now = self.clock.now
        if self.t0 <= now < self.t1:
            self.clock.now += self.TIMEOUT_US
            self.stalled_writes += 1
            if self.max_write_us < self.TIMEOUT_US:
                self.max_write_us = self.TIMEOUT_US
            return n
        if self.pos + n <= len(self.out):
            self.out[self.pos : self.pos + n] = buf
            self.pos += n
        return n
