# The sample loop: drain the IMU, timestamp, pack frames, send, obey host commands.
#
# poll() is allocation-free in steady state (tests run it under micropython.heap_lock()):
# all frames live in preallocated buffers, timestamps are small ints masked to 30 bits.
# Command handling that reconfigures the sensor (set_rate) may allocate; that is rare,
# and so is the recovery from an I2C error (OSError from the bus: counted, the sensor
# re-initialised with a back-off, streaming goes on; the lost span shows as a gap).
#
# Samples a link does not take (nobody connected, BLE rate limit, stalled USB host) go
# into a preallocated ring (BACKFILL_S seconds); while a host is connected the ring is
# sent as T_BACKFILL frames (same layout as SAMPLES, original seq/t_us) next to the
# live stream, and the host merges them by sequence number.
import time
from array import array

import wire
from wire import MASK30

try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


FW_VERSION = (1, 1, 0)
_MAX_SPF = const(20)  # 12 + 20 * 12 = 252 payload bytes, the most one frame can carry
_HALF = const(0x20000000)
_MAX_BATCH = const(32)  # samples read from the sensor per poll (staged, then framed)
_FW_MAX_HZ = const(400)  # what the MicroPython loop is budgeted for (see README)
_BACKOFF_MIN_US = const(20000)
_BACKOFF_MAX_US = const(1000000)


def sdiff(a, b):
    """Signed difference a - b of two 30-bit clock values."""
    d = (a - b) & MASK30
    return d - 0x40000000 if d >= _HALF else d


class Ring:
    """Preallocated ring of samples (12 bytes each) with their seq and t_us."""

    def __init__(self, capacity, stride=12):
        self.cap = capacity
        self.stride = stride
        self.data = bytearray(capacity * stride)
        self.seqs = array("i", bytearray(4 * capacity))
        self.ts = array("i", bytearray(4 * capacity))
        self.head = 0  # oldest
        self.count = 0

    def put(self, src, off, seq, t):
        """Store one sample; returns 1 if the oldest had to be overwritten."""
        lost = 0
        if self.count == self.cap:
            self.head = (self.head + 1) % self.cap
            self.count -= 1
            lost = 1
        i = (self.head + self.count) % self.cap
        st = self.stride
        d = self.data
        b = i * st
        for j in range(st):
            d[b + j] = src[off + j]
        self.seqs[i] = seq
        self.ts[i] = t
        self.count += 1
        return lost

    def take_into(self, fr, maxn, period):
        """Copy up to maxn oldest samples with consecutive seq and times into frame
        buffer fr (not removed yet); returns how many."""
        n = 0
        cap = self.cap
        st = self.stride
        d = self.data
        i = self.head
        s0 = self.seqs[i]
        t0 = self.ts[i]
        buf = fr.buf
        while n < maxn and n < self.count:
            j = (self.head + n) % cap
            if self.seqs[j] != ((s0 + n) & MASK30):
                break
            if n and sdiff(self.ts[j], (t0 + n * period) & MASK30) != 0:
                break
            o = fr.sample_offset(n)
            b = j * st
            for k in range(st):
                buf[o + k] = d[b + k]
            n += 1
        return n

    def pop(self, n):
        self.head = (self.head + n) % self.cap
        self.count -= n


class Streamer:
    """Glue between one IMU driver and one link.

    link interface: write(buf) -> bool (False = not delivered), read_into(buf) -> int
    (bytes of host input copied, non-blocking), .connected (bool), .max_write (bytes
    per write that go out in one packet, or 0 = unlimited), .transport_id (0 serial,
    1 BLE, 2 stdout); optional: ready(size) -> bool (room for a frame now), .bytes_per_s
    (link capacity, 0 = unknown/unlimited), .drops (writes the link refused),
    set_idle(bool) (BLE: slow advertising). led: optional object with update(state).
    wdt: optional machine.WDT (fed every poll). battery: callable -> mV or None.
    """

    def __init__(
        self,
        imu,
        link,
        spf=4,
        clock=None,
        led=None,
        axis_map=(1, 2, 3),
        info_interval_ms=5000,
        status_interval_ms=1000,
        autostart=True,
        battery=None,
        wdt=None,
        uid=b"",
        board="",
        selftest=None,
        backfill_samples=0,
        idle_after_ms=0,
        bus_hz=400000,
        wake=None,
    ):
        self.imu = imu
        self.link = link
        self.clock = clock or time.ticks_us
        self.led = led
        self.axis_map = axis_map
        self.battery = battery  # callable -> millivolts, or None
        self.wdt = wdt
        self.wake = wake  # callable -> True when the wake button is pressed
        self.info_interval_us = info_interval_ms * 1000
        self.status_interval_us = status_interval_ms * 1000
        self.spf_wanted = spf
        self.bus_hz = bus_hz
        self.link_ctrl_c = getattr(link, "ctrl_c", False)
        self._ready = getattr(link, "ready", None)
        self.frames = wire.SampleFrameBuf(_MAX_SPF, imu.channels)
        self.bframes = wire.SampleFrameBuf(_MAX_SPF, imu.channels, wire.T_BACKFILL)
        self.stage = bytearray(_MAX_BATCH * 2 * imu.channels)
        self.ring = Ring(backfill_samples, 2 * imu.channels) if backfill_samples > 0 else None
        self.info = wire.InfoFrameBuf()
        self.status = wire.StatusFrameBuf()
        self.device = wire.DeviceFrameBuf(uid, board)
        self.ack = wire.AckFrameBuf()
        self.cmd = wire.CommandDecoder()
        self.rx = bytearray(64)
        st = selftest or (0, 0)
        self.selftest_bits = st[0]
        self.selftest_g_mg = st[1]
        self.seq = 0  # sequence number of the next sample read from the sensor
        self.dropped = 0  # samples read while streaming but never delivered
        self.lost = 0  # samples the sensor produced but we never read
        self.backfilled = 0  # samples delivered late from the ring
        self.bus_errors = 0  # I2C OSErrors
        self.reinits = 0  # sensor re-initialisations after bus errors
        self.discarded_batches = 0  # drains dropped because the FIFO overran meanwhile
        self.frames_sent = 0
        self.k = 0  # samples in the frame being filled
        self.frame_seq = 0
        self.frame_t = 0
        self.streaming = autostart
        self.identify_until = 0
        self.identifying = False
        self._was_connected = False
        self._start_flag = wire.INFO_STREAM_START
        self._mtu_seen = -1
        self._recover_at = -1  # >= 0: clock time of the next sensor recovery attempt
        self._backoff = _BACKOFF_MIN_US
        self._regap = False
        self.idle = False
        self.idle_after_us = idle_after_ms * 1000
        self._apply_config()
        now = self.clock() & MASK30  # type: ignore[operator]
        self._last_conn = now
        self._last_data = now
        self.last_ts = now
        self.base_t = now
        self.base_seq = 0
        self.window = 64
        self.anchor = True
        self.next_info = now
        self.next_status = (now + self.status_interval_us) & MASK30

    # ---------------------------------------------------------------- configuration
    def _apply_config(self):
        imu = self.imu
        self.period_us = imu.period_us  # current estimate of the sensor's period
        self._silent_us = 20 * imu.period_us + 200000
        self.pq = imu.period_us << 8  # the same in 1/256 us
        self.pq_min = self.pq - self.pq // 12  # the oscillator is trusted to +-8 %
        self.pq_max = self.pq + self.pq // 12
        self.frac = 0
        mw = self.link.max_write
        spf = self.spf_wanted
        if spf > _MAX_SPF:
            spf = _MAX_SPF
        if mw and wire.samples_frame_size(1, imu.channels) <= mw:
            # largest frame that still fits one link packet (BLE: MTU - 3); when not even
            # one sample fits (default 23-byte MTU) frames are split and spf is kept
            while spf > 1 and wire.samples_frame_size(spf, imu.channels) > mw:
                spf -= 1
        self.spf = spf if spf > 0 else 1
        self._bf_size = wire.samples_frame_size(self.spf, imu.channels)
        self._mtu_seen = mw
        flags = 0
        if self.selftest_bits & wire.ST_RAN:
            flags |= wire.INFO_SELFTEST_RAN
            if self.selftest_bits & wire.ST_PASSED:
                flags |= wire.INFO_SELFTEST_OK
        self._info_flags = flags
        self.info.build(
            FW_VERSION,
            imu.sensor_id,
            imu.who_am_i,
            imu.channels,
            self.spf,
            imu.odr_mhz,
            imu.accel_fs_g,
            imu.gyro_fs_dps,
            imu.accel_g_per_lsb,
            imu.gyro_dps_per_lsb,
            self.axis_map,
            self.link.transport_id,
            0,
            imu.name,
        )

    def max_rate_hz(self):
        """Fastest set_rate the sensor, the I2C bus and the link sustain (see README)."""
        imu = self.imu
        lim = getattr(imu, "max_odr_hz", 1000)
        if lim > _FW_MAX_HZ:
            lim = _FW_MAX_HZ
        # I2C: data + ~4 bytes of addressing per read, 9 bit times a byte; <= 50 % busy
        per = getattr(imu, "sample_bytes", 12) + 4
        bus = self.bus_hz // 2 // (9 * per)
        if bus < lim:
            lim = bus
        bps = getattr(self.link, "bytes_per_s", 0)
        if bps:
            fb = wire.samples_frame_size(self.spf, imu.channels)
            link = bps // 2 * self.spf // fb  # <= 50 % of the link: room for backfill
            if link < lim:
                lim = link
        return lim

    def set_rate(self, hz):
        self._flush()
        imu = self.imu
        imu.configure(hz, imu.accel_fs_g, imu.gyro_fs_dps)
        self._apply_config()
        self.anchor = True
        self._last_data = self.clock() & MASK30  # type: ignore[operator]
        self._start_flag = wire.INFO_STREAM_START
        return imu.odr_mhz

    # ---------------------------------------------------------------- sending
    def _send(self, view):
        if self.link.write(view):
            self.frames_sent = (self.frames_sent + 1) & MASK30
            return True
        return False

    def _flush(self):
        k = self.k
        if k == 0:
            return
        self.k = 0
        view = self.frames.finish(k, self.frame_seq, self.frame_t, self.period_us)
        if self._send(view):
            return
        ring = self.ring
        if ring is None:
            self.dropped = (self.dropped + k) & MASK30
            return
        fr = self.frames
        p = self.period_us
        for i in range(k):  # keep them for later (backfill); the oldest may fall out
            if ring.put(
                fr.buf,
                fr.sample_offset(i),
                (self.frame_seq + i) & MASK30,
                (self.frame_t + i * p) & MASK30,
            ):
                self.dropped = (self.dropped + 1) & MASK30

    def _backfill(self):
        ring = self.ring
        if ring is None or ring.count == 0:
            return
        if self._ready is not None and not self._ready(self._bf_size):
            return  # no room for a whole backfill frame now: live data goes first
        bf = self.bframes
        n = ring.take_into(bf, self.spf, self.period_us)
        view = bf.finish(n, ring.seqs[ring.head], ring.ts[ring.head], self.period_us)
        if self.link.write(view):
            ring.pop(n)
            self.backfilled = (self.backfilled + n) & MASK30

    def send_info(self, now):
        self._send(self.info.update(self._start_flag | self._info_flags, self.seq, now))
        self._start_flag = 0
        self.next_info = (now + self.info_interval_us) & MASK30
        self.send_device()

    def send_device(self):
        batt = self.battery() if self.battery else 0
        self._send(
            self.device.build(
                self.selftest_bits,
                self.selftest_g_mg,
                batt,
                self.bus_errors,
                self.reinits,
                getattr(self.link, "drops", 0) & MASK30,
                self.backfilled,
                self.ring.count if self.ring is not None else 0,
            )
        )

    def send_status(self, now):
        state = 0
        if self.streaming:
            state |= wire.ST_STREAMING
        if self.link.connected:
            state |= wire.ST_CONNECTED
        if self.identifying:
            state |= wire.ST_IDENTIFY
        batt = self.battery() if self.battery else 0
        self._send(
            self.status.build(
                self.seq,
                now,
                self.dropped,
                self.lost,
                self.imu.overflows,
                batt,
                state,
                self.bus_errors,
            )
        )
        self.next_status = (now + self.status_interval_us) & MASK30
        self.send_device()

    # ---------------------------------------------------------------- bus errors
    def _bus_error(self, now):
        # a NACK or timeout (loose wire, brown-out): a FIFO read may have been cut short,
        # so the FIFO cannot be trusted; re-initialise the sensor (with a back-off)
        self.bus_errors += 1
        self._flush()
        if self._recover_at < 0:
            self._recover_at = now
            self._backoff = _BACKOFF_MIN_US

    def _recover(self, now):
        try:
            self.imu.recover()
        except OSError:
            self.bus_errors += 1
            self._recover_at = (now + self._backoff) & MASK30
            self._backoff = self._backoff * 2
            if self._backoff > _BACKOFF_MAX_US:
                self._backoff = _BACKOFF_MAX_US
            return
        self.reinits += 1
        self._last_data = now
        self._recover_at = -1
        self._regap = True  # the next batch shows the time without samples as a gap

    # ---------------------------------------------------------------- idle (power)
    def _enter_idle(self):
        self._flush()
        self.idle = True
        try:
            self.imu.sleep()
        except OSError:
            self.bus_errors += 1
        f = getattr(self.link, "set_idle", None)
        if f is not None:
            f(True)

    def _leave_idle(self, now):
        self.idle = False
        f = getattr(self.link, "set_idle", None)
        if f is not None:
            f(False)
        self._last_conn = now
        try:
            self.imu.recover()  # wakes and reconfigures the sensor
        except OSError:
            self._bus_error(now)
        self.anchor = True
        self._last_data = now
        self._start_flag = wire.INFO_STREAM_START  # a restart, not a loss

    # ---------------------------------------------------------------- the loop
    def poll(self):
        """One pass: read ready samples, send full frames, handle commands, periodic
        info/status. Returns the number of samples read. Allocation-free."""
        imu = self.imu
        link = self.link
        if self.wdt is not None:
            self.wdt.feed()
        conn = link.connected
        if self.idle:
            now = self.clock() & MASK30  # type: ignore[operator]
            if conn or (self.wake is not None and self.wake()):
                self._leave_idle(now)
            else:
                if self.led is not None:
                    self.led.update(0)
                return 0
        n = 0
        if self._recover_at >= 0:
            now = self.clock() & MASK30  # type: ignore[operator]
            if sdiff(now, self._recover_at) >= 0:
                self._recover(now)
        else:
            try:
                n = imu.available()
            except OSError:
                self._bus_error(self.clock() & MASK30)  # type: ignore[operator]
            now = self.clock() & MASK30  # type: ignore[operator]  # after the FIFO count: no sample is newer
            if imu.overflow:
                self._last_data = now  # it overflowed: it is alive, just not read in time
            elif n == 0 and sdiff(now, self._last_data) > self._silent_us:
                # no sample for far too long without an error: the part lost its
                # configuration (brown-out) or stopped; re-initialise it
                self._recover(now)
        if link.max_write != self._mtu_seen:
            self._flush()
            self._apply_config()  # MTU changed: re-fit samples per frame (allocates)
        if conn and not self._was_connected:
            self.next_info = now  # somebody new is listening: tell them what we are
        self._was_connected = conn
        if conn:
            self._last_conn = now
        elif self.idle_after_us and sdiff(now, self._last_conn) >= self.idle_after_us:
            self._enter_idle()
            return 0
        if self.identifying and sdiff(now, self.identify_until) >= 0:
            self.identifying = False
        if conn:
            if self.streaming and sdiff(now, self.next_info) >= 0:
                self.send_info(now)
            if sdiff(now, self.next_status) >= 0:
                self.send_status(now)
        if n > 0:
            try:
                self._take(n, now)
            except OSError:
                self._bus_error(now)
        if conn:
            if self.streaming:
                self._backfill()
            m = link.read_into(self.rx)
            if m:  # stamped when handled (a ping's ACK clock), not at the top of the pass
                self._commands(m, self.clock() & MASK30)  # type: ignore[operator]
        if self.led is not None:
            self.led.update(self._led_state(conn))
        return n

    def _led_state(self, conn):
        if self.identifying:
            return 3
        if self.streaming and conn:
            return 2
        return 1 if conn else 0

    def _take(self, n, now):
        imu = self.imu
        rest = 0
        if n > _MAX_BATCH:
            rest = n - _MAX_BATCH  # these stay in the FIFO for the next poll (newer)
            n = _MAX_BATCH
        # stage the batch first: if the FIFO overran while we drained it, the bytes may
        # be misaligned, and nothing of it may go out
        st = self.stage
        stride = 2 * imu.channels
        m = 0
        while m < n and imu.read_into(st, m * stride):
            m += 1
        if m == 0:
            return
        self._last_data = now
        if not imu.drain_ok():
            self.discarded_batches += 1
            return
        gap = 0
        p = self.period_us
        if self._regap:
            # after a sensor re-init: the samples not produced/read meanwhile are lost
            self._regap = False
            gap = (sdiff(now, self.last_ts) + p // 2) // p - m
            if gap < 0:
                gap = 0
            self.anchor = True
        if self.anchor:
            self.anchor = False
            newest = (now - rest * p) & MASK30
            self.frac = 0
            self.base_t = now  # start of the window that measures the sensor's period
            self.base_seq = self.seq + gap + m - 1
            self.window = 64  # a quick first measurement, then every 256 samples
        else:
            # predicted time of the newest ready sample: previous + m periods, with the
            # period in 1/256 us (pq); split so no product leaves the small-int range
            pq = self.pq
            t = m * (pq & 255) + self.frac
            self.frac = t & 255
            exp = (self.last_ts + m * (pq >> 8) + (t >> 8)) & MASK30
            bound = (now - rest * p) & MASK30  # our newest sample is at most this old
            err = sdiff(bound, exp)  # >= 0 normally
            if err >= p and (imu.overflow or not imu.fifo):
                # the sensor produced samples we never saw (FIFO overflow reset, or a
                # data-ready sample overwritten while the loop was blocked): show them
                # as a sequence gap so later timestamps stay right
                gap = err // p
                exp = (exp + gap * p) & MASK30
                err -= gap * p
            if err < 0:
                newest = bound  # prediction later than possible: pull back to the bound
            else:
                newest = (exp + (err >> 5)) & MASK30  # creep up slowly (lower envelope)
            # the sensor's own period, measured over a window of these estimates
            # (the oscillator may be off by a few %); seq counts gaps, so they are fine
            span = (self.seq + gap + m - 1 - self.base_seq) & MASK30
            if span >= self.window:
                dt = sdiff(newest, self.base_t)
                q = dt // span
                pq = (q << 8) + (((dt - q * span) << 8) // span)
                if self.pq_min <= pq <= self.pq_max:
                    self.pq = pq
                    self.period_us = pq >> 8
                self.base_t = newest
                self.base_seq = (self.base_seq + span) & MASK30
                self.window = 256
        p = self.period_us
        imu.overflow = False
        if gap:
            self._flush()
            self.seq = (self.seq + gap) & MASK30
            self.lost = (self.lost + gap) & MASK30
        self.last_ts = newest
        first = (newest - (m - 1) * p) & MASK30
        if not self.streaming:
            self.seq = (self.seq + m) & MASK30  # drained, keep the FIFO moving
            return
        fr = self.frames
        buf = fr.buf
        spf = self.spf
        for i in range(m):
            if self.k == 0:
                self.frame_seq = self.seq
                self.frame_t = (first + i * p) & MASK30
            o = fr.sample_offset(self.k)
            b = i * stride
            for j in range(stride):
                buf[o + j] = st[b + j]
            self.k += 1
            self.seq = (self.seq + 1) & MASK30
            if self.k >= spf:
                self._flush()

    def _commands(self, m, now):
        dec = self.cmd
        rx = self.rx
        for i in range(m):
            if dec.feed_byte(rx[i]):
                self.handle(dec.cmd, dec.token, dec.arg, now)
        if dec.interrupt:
            dec.interrupt = False
            if self.link_ctrl_c:
                raise KeyboardInterrupt  # Ctrl-C on the REPL port (kbd_intr is off)

    def handle(self, cmd, token, arg, now):
        status = wire.ACK_OK
        value = 0
        send_info = False
        if cmd == wire.CMD_START:
            if not self.streaming:
                self.k = 0
                self.streaming = True
                self._start_flag = wire.INFO_STREAM_START
            send_info = True
        elif cmd == wire.CMD_STOP:
            self._flush()
            self.streaming = False
        elif cmd == wire.CMD_SET_RATE:
            top = self.max_rate_hz()
            if 20 <= arg <= top:  # dt_us is a u16: periods up to 65 ms
                try:
                    value = self.set_rate(arg)
                    send_info = True
                except (ValueError, OSError):
                    status = wire.ACK_BAD_ARG
            else:
                status = wire.ACK_BAD_ARG
                value = top * 1000  # the fastest rate this board can sustain, mHz
        elif cmd == wire.CMD_IDENTIFY:
            secs = arg if 0 < arg <= 60 else 5
            self.identify_until = (now + secs * 1000000) & MASK30
            self.identifying = True
            value = secs
        elif cmd == wire.CMD_GET_INFO:
            send_info = True
        elif cmd == wire.CMD_PING:
            value = arg
        else:
            status = wire.ACK_UNKNOWN
        self._flush()
        self._send(self.ack.build(cmd, status, token, value, now))
        if send_info:
            self.send_info(now)

    def run(self, idle=None, until=None):
        """Poll forever (or until until() is true). idle() is called when nothing was
        ready, e.g. to sleep ~1 ms; it must be short compared to the sample period."""
        while until is None or not until():
            if self.poll() == 0 and idle is not None:
                idle()
        self._flush()
