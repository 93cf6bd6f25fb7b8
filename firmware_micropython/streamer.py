# The sample loop: drain the IMU, timestamp, pack frames, send, obey host commands.
#
# poll() is allocation-free in steady state (tests run it under micropython.heap_lock()):
# all frames live in preallocated buffers, timestamps are small ints masked to 30 bits.
# Command handling that reconfigures the sensor (set_rate) may allocate; that is rare.
import time

import wire
from wire import MASK30

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


FW_VERSION = (1, 0, 0)
MAX_SPF = const(20)  # 12 + 20 * 12 = 252 payload bytes, the most one frame can carry
HALF = const(0x20000000)


def sdiff(a, b):
    """Signed difference a - b of two 30-bit clock values."""
    d = (a - b) & MASK30
    return d - 0x40000000 if d >= HALF else d


class Streamer:
    """Glue between one IMU driver and one link.

    link interface: write(buf) -> bool (False = not delivered), read_into(buf) -> int
    (bytes of host input copied, non-blocking), .connected (bool), .max_write (bytes
    per write that go out in one packet, or 0 = unlimited), .transport_id (0 serial,
    1 BLE, 2 stdout). led: optional object with update(state) (see led.py).
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
    ):
        self.imu = imu
        self.link = link
        self.clock = clock or time.ticks_us
        self.led = led
        self.axis_map = axis_map
        self.battery = battery  # callable -> millivolts, or None
        self.info_interval_us = info_interval_ms * 1000
        self.status_interval_us = status_interval_ms * 1000
        self.spf_wanted = spf
        self.link_ctrl_c = getattr(link, "ctrl_c", False)
        self.frames = wire.SampleFrameBuf(MAX_SPF, imu.channels)
        self.info = wire.InfoFrameBuf()
        self.status = wire.StatusFrameBuf()
        self.ack = wire.AckFrameBuf()
        self.cmd = wire.CommandDecoder()
        self.rx = bytearray(64)
        self.seq = 0  # sequence number of the next sample read from the sensor
        self.dropped = 0  # samples read while streaming but not delivered
        self.lost = 0  # samples the sensor produced but we never read
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
        self._apply_config()
        now = self.clock() & MASK30
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
        self.pq = imu.period_us << 8  # the same in 1/256 us
        self.pq_min = self.pq - self.pq // 12  # the oscillator is trusted to +-8 %
        self.pq_max = self.pq + self.pq // 12
        self.frac = 0
        mw = self.link.max_write
        spf = self.spf_wanted
        if spf > MAX_SPF:
            spf = MAX_SPF
        if mw and wire.samples_frame_size(1, imu.channels) <= mw:
            # largest frame that still fits one link packet (BLE: MTU - 3); when not even
            # one sample fits (default 23-byte MTU) frames are split and spf is kept
            while spf > 1 and wire.samples_frame_size(spf, imu.channels) > mw:
                spf -= 1
        self.spf = spf if spf > 0 else 1
        self._mtu_seen = mw
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

    def set_rate(self, hz):
        self._flush()
        imu = self.imu
        imu.configure(hz, imu.accel_fs_g, imu.gyro_fs_dps)
        self._apply_config()
        self.anchor = True
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
        if not self._send(view):
            self.dropped = (self.dropped + k) & MASK30

    def send_info(self, now):
        self._send(self.info.update(self._start_flag, self.seq, now))
        self._start_flag = 0
        self.next_info = (now + self.info_interval_us) & MASK30

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
            )
        )
        self.next_status = (now + self.status_interval_us) & MASK30

    # ---------------------------------------------------------------- the loop
    def poll(self):
        """One pass: read ready samples, send full frames, handle commands, periodic
        info/status. Returns the number of samples read. Allocation-free."""
        imu = self.imu
        link = self.link
        n = imu.available()
        now = self.clock() & MASK30
        if link.max_write != self._mtu_seen:
            self._flush()
            self._apply_config()  # MTU changed: re-fit samples per frame (allocates)
        conn = link.connected
        if conn and not self._was_connected:
            self.next_info = now  # somebody new is listening: tell them what we are
        self._was_connected = conn
        if self.identifying and sdiff(now, self.identify_until) >= 0:
            self.identifying = False
        if conn:
            if self.streaming and sdiff(now, self.next_info) >= 0:
                self.send_info(now)
            if sdiff(now, self.next_status) >= 0:
                self.send_status(now)
        if n > 0:
            self._take(n, now)
        if conn:
            m = link.read_into(self.rx)
            if m:
                self._commands(m, now)
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
        gap = 0
        if self.anchor:
            self.anchor = False
            newest = now
            self.frac = 0
            self.base_t = now  # start of the window that measures the sensor's period
            self.base_seq = self.seq + n - 1
            self.window = 64  # a quick first measurement, then every 256 samples
        else:
            # predicted time of the newest ready sample: previous + n periods, with the
            # period in 1/256 us (pq); split so no product leaves the small-int range
            pq = self.pq
            t = n * (pq & 255) + self.frac
            self.frac = t & 255
            exp = (self.last_ts + n * (pq >> 8) + (t >> 8)) & MASK30
            err = sdiff(now, exp)  # >= 0 normally: the sample is at most `now`
            p = self.period_us
            if err >= p and (imu.overflow or not imu.fifo):
                # the sensor produced samples we never saw (FIFO overflow reset, or a
                # data-ready sample overwritten while the loop was blocked): show them
                # as a sequence gap so later timestamps stay right
                gap = err // p
                exp = (exp + gap * p) & MASK30
                err -= gap * p
            if err < 0:
                newest = now  # prediction later than possible: pull back to the bound
            else:
                newest = (exp + (err >> 5)) & MASK30  # creep up slowly (lower envelope)
            # the sensor's own period, measured over a window of these estimates
            # (the oscillator may be off by a few %); seq counts gaps, so they are fine
            span = (self.seq + gap + n - 1 - self.base_seq) & MASK30
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
        first = (newest - (n - 1) * p) & MASK30
        fr = self.frames
        if not self.streaming:
            for i in range(n):
                imu.read_into(fr.buf, fr.sample_offset(0))  # drain, keep the FIFO moving
            self.seq = (self.seq + n) & MASK30
            return
        spf = self.spf
        for i in range(n):
            if self.k == 0:
                self.frame_seq = self.seq
                self.frame_t = (first + i * p) & MASK30
            imu.read_into(fr.buf, fr.sample_offset(self.k))
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
            if 20 <= arg <= 1000:  # dt_us is a u16: periods up to 65 ms
                try:
                    value = self.set_rate(arg)
                    send_info = True
                except (ValueError, OSError):
                    status = wire.ACK_BAD_ARG
            else:
                status = wire.ACK_BAD_ARG
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
