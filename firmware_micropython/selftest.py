# Boot self-test: register read-back, |g| within 5 % of 1 g at rest, FIFO pattern / tag
# parity checks. The result goes into the info frame flags and the DEVICE frame
# (docs/PROTOCOL.md); a failed self-test does not stop streaming (the host shows it).
import wire

try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


_SAMPLES = const(16)
_TOLERANCE = 0.05  # |g| within 5 % of 1 g


def run(imu, clock, idle, timeout_ms=1500):
    """Returns (bits, g_mg). clock() -> us; idle() is called while waiting for samples."""
    bits = wire.ST_RAN
    try:
        if imu.selftest_regs():
            bits |= wire.ST_REGS_OK
    except OSError:
        pass
    buf = bytearray(2 * imu.channels)
    sx = sy = sz = 0
    got = 0
    t0 = clock()
    try:
        while got < _SAMPLES and (clock() - t0) < timeout_ms * 1000:
            n = imu.available()
            while n > 0 and got < _SAMPLES and imu.read_into(buf, 0):
                sx += _i16(buf, 0)
                sy += _i16(buf, 2)
                sz += _i16(buf, 4)
                got += 1
                n -= 1
            if n <= 0:
                idle()
        ok_drain = imu.drain_ok()
        fifo_ok = imu.selftest_fifo() and ok_drain
        imu.flush()
    except OSError:
        fifo_ok = False
    g_mg = 0
    if got:
        k = imu.accel_g_per_lsb / got
        g = ((sx * k) ** 2 + (sy * k) ** 2 + (sz * k) ** 2) ** 0.5
        g_mg = int(g * 1000 + 0.5)
        if abs(g - 1.0) <= _TOLERANCE:
            bits |= wire.ST_GRAVITY_OK
    if fifo_ok and got == _SAMPLES:
        bits |= wire.ST_FIFO_OK
    if bits & (wire.ST_REGS_OK | wire.ST_GRAVITY_OK | wire.ST_FIFO_OK) == (
        wire.ST_REGS_OK | wire.ST_GRAVITY_OK | wire.ST_FIFO_OK
    ):
        bits |= wire.ST_PASSED
    return bits, g_mg


def _i16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 65536 if v >= 32768 else v
