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
