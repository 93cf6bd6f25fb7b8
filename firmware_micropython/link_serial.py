# Byte-stream link: USB CDC / REPL (sys.stdout.buffer + sys.stdin.buffer), a UART, or
# any pair of stream objects (the Unix-port sim uses stdout/stdin of the process).
import sys

try:
    import select
except ImportError:
    select = None


class SerialLink:
    transport_id = 0
    max_write = 0  # no packet limit
    connected = True  # a serial port cannot tell; the host just reads

    def __init__(self, out=None, inp=None, transport_id=0, ctrl_c=False):
        self.out = out if out is not None else sys.stdout.buffer
        self.inp = inp if inp is not None else getattr(sys.stdin, "buffer", sys.stdin)
        self.transport_id = transport_id
        self.ctrl_c = ctrl_c  # a stray 0x03 from the host means "stop, back to the REPL"
        self.write_errors = 0
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

    def write(self, buf):
        try:
            self.out.write(buf)
            return True
        except OSError:
            self.write_errors += 1
            return False

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
            if self.inp.readinto(one) != 1:
                self.eof = True
                self._poller.unregister(self.inp)
                break
            buf[n] = one[0]
            n += 1
        return n
