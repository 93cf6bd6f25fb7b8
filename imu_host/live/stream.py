"""The pure stream stage of a live session: received bytes -> sample blocks.

:class:`StreamStage` owns the frame decoder and the sample assembler and applies the
session's stream policies, with no clock, no file and no printing (every time it needs
is passed in as ``arrived``, the wall-clock second the bytes came in):

* duplicates: a sample frame seen among the last 64 (same seq, clock and counts) is
  dropped and counted;
* info policy: device-info frames with implausible values (rate, scales, axis map) are
  refused by the decoder and counted (``info_rejected``); the first valid one fixes the
  stream (rate, channels, scales, axis map) for the whole session and the recording. A
  later one that disagrees is reported once and, until an info that agrees arrives
  again, the board's sample frames are refused and counted (``samples_refused``); so are
  frames whose channel count or period does not fit the session's stream. The
  pipeline and the recording never see a second stream (docs/PROTOCOL.md, *Host
  behaviour in live sessions*);
* late frames: a frame whose sequence and clock both lie in the stream's past (a
  repeat from far back) is dropped and counted with the duplicates, not taken for a
  board restart (only sequence and clock restarting together are a restart);
* gap repair: samples lost on the way show as a jump in ``t_s`` (the assembler keeps the
  device clock); after a link loss or a board reset, when the stream time lags the wall
  clock by more than :attr:`StreamPolicy.gap_repair_s` (the board's clock restarted),
  stream time is pushed forward by the outage so the gap is real in the data too;
* backfill (firmware >= 1.1): the board keeps samples the link did not take in a ring
  and sends them late as BACKFILL frames; the assembler merges them by sequence number.
  When a gap opens while the board says (DEVICE frame) its ring holds samples, or
  right after a reconnect of a board that sends DEVICE frames, the stage holds the
  samples after the gap back, for at most :attr:`StreamPolicy.backfill_hold_s` of wall
  clock, until the backfill covers the gap or a later DEVICE frame says the ring is
  empty; then everything held goes out at once in
  time order, so the causal pipeline and the recording see the hole filled. Backfill
  that comes after that is too late for a causal pipeline: dropped and counted
  (``backfill_late``, still lost);
* every block comes out rounded exactly as the recording file holds it, so the
  pipeline sees what a replay of the recording reads back;
* link quality counters and a 2 s sample-rate window.

:meth:`StreamStage.feed` returns :class:`StreamItem` values in order: ``StreamStarted``
(first device info), ``SampleBlock`` (samples for the pipeline/recorder) and
``StreamNotice`` (things the view should say).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from imu_host.core.samples import Samples
from imu_host.protocol.frames import (
    AckFrame,
    DeviceHealth,
    DeviceInfo,
    FrameDecoder,
    SampleAssembler,
    SampleFrame,
    StatusFrame,
)


@dataclass(frozen=True)
class StreamPolicy:
    """Named thresholds of the stream stage (defaults are the session's)."""

    dedup_window: int = 64  # recent sample frames remembered to drop duplicates
    gap_repair_s: float = 1.0  # stream behind the wall clock by more -> push stream time on
    rate_window_s: float = 2.0  # samples/s measured over this many wall-clock seconds
    rate_min_span_s: float = 0.2  # less streaming than this: no rate shown yet
    period_tolerance: float = 0.25  # a frame's dt_us this far off the info's period: refused
    backfill_hold_s: float = 5.0  # after a gap, wait at most this long for the backfill


@dataclass
class LinkQuality:
    """What the link view shows; cumulative over reconnects."""

    samples: int = 0
    samples_lost: int = 0  # sequence gaps seen by the host
    device_dropped: int = 0  # reported by the board's status frames
    crc_errors: int = 0
    malformed: int = 0
    bytes_discarded: int = 0
    duplicates: int = 0  # repeated frames dropped (recent repeats and late frames)
    info_rejected: int = 0  # device-info frames refused for implausible values
    samples_refused: int = 0  # samples of a stream that does not fit the session's
    device_resets: int = 0
    reconnects: int = 0
    backfilled: int = 0  # samples that arrived late from the board's ring and filled a gap
    backfill_late: int = 0  # backfilled samples that came after the hold: dropped (lost)
    rate_sps: float = 0.0
    battery_mv: int | None = None  # from the board's status frames, when it reports one


@dataclass(frozen=True)
class StreamStarted:
    """The first device info arrived: the stream's rate and channels are now fixed."""

    info: DeviceInfo


@dataclass(frozen=True)
class SampleBlock:
    """Samples (stream time, as recorded) that arrived at wall-clock ``arrived``."""

    samples: Samples
    arrived: float


@dataclass(frozen=True)
class StreamNotice:
    """Something the view should say: ``state`` is "device_reset", "info_changed" or
    "info_back"."""

    text: str
    state: str


StreamItem = StreamStarted | SampleBlock | StreamNotice


class StreamStage:
    """Bytes -> :class:`StreamItem`; see the module docstring. Pure: no clock, no files."""

    def __init__(self, policy: StreamPolicy | None = None) -> None:
        self.policy = policy or StreamPolicy()
        self.decoder = FrameDecoder()
        self.assembler = SampleAssembler(backfill=True)
        self._ring = 0  # samples waiting in the board's backfill ring (its last DEVICE frame)
        self._backfill_capable = False  # the board sends DEVICE frames (firmware >= 1.1)
        self._after_connect = False  # no live frame since the last reconnect yet
        self._held: list[Samples] = []  # samples held back while the backfill comes
        self._hold_since: float | None = None  # wall time the hold began
        self._hold_gap_base = 0  # assembler gap samples before the held gap opened
        self.info: DeviceInfo | None = None
        self.quality = LinkQuality()
        self._dec_base = [0, 0, 0, 0]  # crc, malformed, discarded, info_rejected before reset
        self.last_rejected = ""  # why the last device-info frame was refused
        self._refusing = False  # the board's stream differs from the session's
        self._seen: collections.deque[tuple[int, int, bytes]] = collections.deque(
            maxlen=self.policy.dedup_window
        )
        self._seen_set: set[tuple[int, int, bytes]] = set()
        self._duplicates = 0
        self._t_offset = 0.0
        self._out_t = -np.inf  # stream time of the last sample given out
        self.last_t: float | None = None  # stream time of the last sample received
        self.last_wall: float | None = None  # wall time it arrived
        self.started_wall: float | None = None  # wall time of the first device info
        self._check_gap = False  # after a link loss / reset: compare stream and wall time
        self._resets_seen = 0
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque()

    # ------------------------------------------------------------- link events

    def connected(self, reconnect: bool) -> None:
        """A (new) connection: bytes of a previous one never mix with the new ones."""
        d = self.decoder
        for i, v in ((0, d.crc_errors), (1, d.malformed), (3, d.info_rejected)):
            self._dec_base[i] += v
        # a partial frame from the old connection is dropped with the decoder: count it
        self._dec_base[2] += self.decoder.bytes_discarded + self.decoder.buffered
        self.decoder.reset()
        if reconnect:
            self.quality.reconnects += 1
            self._check_gap = True
            self._after_connect = True

    def lost(self) -> None:
        """The link went down: check stream time against the wall clock when data resumes."""
        self._check_gap = True

    def expect_gap(self) -> None:
        """The board went silent and was asked to start again (it may have reset)."""
        self._check_gap = True

    # ------------------------------------------------------------- bytes in

    def feed(self, data: bytes, arrived: float) -> list[StreamItem]:
        """Decode ``data`` (received at wall-clock ``arrived``) into stream items."""
        items: list[StreamItem] = []
        for frame in self.decoder.feed(data):
            if isinstance(frame, SampleFrame):
                if not self._fits(frame):
                    self.quality.samples_refused += frame.n
                    continue
                key = (frame.seq, frame.t_us, frame.counts.tobytes())
                if key in self._seen_set:
                    self._duplicates += 1
                    continue
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(key)
                self._seen_set.add(key)
            elif isinstance(frame, DeviceInfo):
                if not self._got_info(frame, arrived, items):
                    continue
            elif isinstance(frame, DeviceHealth):
                self._ring = frame.ring_samples
                self._backfill_capable = True
                if self._hold_since is not None and frame.ring_samples == 0:
                    self._release(arrived, items)  # the board has nothing more to send
                continue
            elif isinstance(frame, StatusFrame):
                self.quality.device_dropped = frame.dropped_samples + frame.sensor_lost_samples
                if frame.battery_mv is not None:
                    self.quality.battery_mv = frame.battery_mv
                continue
            elif isinstance(frame, AckFrame):
                continue
            asm = self.assembler
            gaps0, filled0 = asm.gap_samples, asm.samples_backfilled
            late_frame = isinstance(frame, SampleFrame) and frame.backfill
            blocks = asm.push(frame)
            expect_backfill = self._ring > 0 or (self._after_connect and self._backfill_capable)
            if asm.gap_samples > gaps0 and expect_backfill and self._hold_since is None:
                # a fresh gap and the board has samples waiting (or has just reconnected
                # and will say so in its next DEVICE frame): hold what follows it
                self._hold_since = arrived
                self._hold_gap_base = gaps0
            if blocks and not late_frame:
                self._after_connect = False
            for block in blocks:
                filled = asm.samples_backfilled > filled0  # fills a gap: earlier times
                self._block(block, arrived, items, late_frame, filled)
            if self._hold_since is not None:
                self._check_hold(arrived, items)
        self.quality.duplicates = self._duplicates + self.assembler.late_frames
        return items

    # ------------------------------------------------------------- backfill hold

    def _check_hold(self, now: float, items: list[StreamItem]) -> None:
        if self._hold_since is None:
            return
        covered = self.assembler.gap_samples <= self._hold_gap_base
        if covered or now - self._hold_since >= self.policy.backfill_hold_s:
            self._release(now, items)

    def _release(self, now: float, items: list[StreamItem]) -> None:
        """Give out everything held, in time order, as one block."""
        held, self._held = self._held, []
        self._hold_since = None
        if not held:
            return
        merged = Samples.concat(held)
        order = np.argsort(merged.t_s, kind="stable")
        g = merged.gyro_dps[order] if merged.gyro_dps is not None else None
        merged = Samples(merged.t_s[order], merged.accel_g[order], g)
        self._out(merged, now, items)

    @property
    def holding(self) -> bool:
        """Samples are held back waiting for the board's backfill."""
        return self._hold_since is not None

    def tick(self, now: float) -> list[StreamItem]:
        """No bytes for a while: end a backfill hold that has waited long enough."""
        items: list[StreamItem] = []
        self._check_hold(now, items)
        return items

    def drain(self, now: float) -> list[StreamItem]:
        """End of the session: give out whatever is held."""
        items: list[StreamItem] = []
        self._release(now, items)
        return items

    def _fits(self, frame: SampleFrame) -> bool:
        """Does a sample frame belong to the session's stream (before the first info:
        yes, the assembler holds it)?"""
        info = self.info
        if info is None:
            return True
        if self._refusing or frame.channels != info.channels:
            return False
        period_us = 1e6 / info.odr_hz
        return abs(frame.dt_us - period_us) <= self.policy.period_tolerance * period_us

    @staticmethod
    def _same_stream(a: DeviceInfo, b: DeviceInfo) -> bool:
        return (a.odr_hz, a.channels, a.accel_g_per_lsb, a.gyro_dps_per_lsb, a.axis_map) == (
            b.odr_hz, b.channels, b.accel_g_per_lsb, b.gyro_dps_per_lsb, b.axis_map
        )  # fmt: skip

    def _got_info(self, info: DeviceInfo, arrived: float, items: list[StreamItem]) -> bool:
        """Apply the info policy; True: hand the info on to the assembler."""
        if self.info is None:
            self.info = info
            self.started_wall = arrived
            items.append(StreamStarted(info))
            return True
        old = self.info
        if self._same_stream(info, old):
            if self._refusing:
                self._refusing = False
                items.append(StreamNotice("board is back on the session's stream", "info_back"))
            return True
        if not self._refusing:
            self._refusing = True
            items.append(
                StreamNotice(
                    f"board changed its stream mid-session ({info.odr_hz:g} Hz, "
                    f"{info.channels} channels, axis map {info.axis_map}); keeping the "
                    f"session's ({old.odr_hz:g} Hz, {old.channels} channels): its samples "
                    "are refused until it is back",
                    "info_changed",
                )
            )
        return False

    def _block(
        self,
        block: Samples,
        arrived: float,
        items: list[StreamItem],
        late_frame: bool = False,
        filled: bool = False,
    ) -> None:
        """An assembler block -> stream time, as recorded. ``late_frame``: it came in a
        BACKFILL frame (old samples: no gap repair against the wall clock);
        ``filled``: its samples fill a gap, earlier than samples already out."""
        if len(block) == 0 or self.info is None:
            return
        if filled:
            gyro = block.gyro_dps if self.info.channels == 6 else None
            b = as_recorded(Samples(block.t_s + self._t_offset, block.accel_g, gyro))
            # in time for the pipeline only while held and after everything given out
            ok = b.t_s > self._out_t if self._hold_since is not None else np.zeros(len(b), bool)
            self.quality.backfill_late += int(len(b) - ok.sum())
            if ok.any():
                self.quality.backfilled += int(ok.sum())
                g = b.gyro_dps[ok] if b.gyro_dps is not None else None
                self._held.append(Samples(b.t_s[ok], b.accel_g[ok], g))
            return
        resets = self.assembler.device_resets
        if resets != self._resets_seen:
            self.quality.device_resets += resets - self._resets_seen
            self._resets_seen = resets
            self._check_gap = True
            items.append(StreamNotice("board restarted (sequence/clock reset)", "device_reset"))
        t = block.t_s + self._t_offset
        if self._check_gap and not late_frame and self.last_t is not None:
            assert self.last_wall is not None
            expected = self.last_t + (arrived - self.last_wall)
            behind = expected - t[-1]
            if behind > self.policy.gap_repair_s:  # lost more time than it shows: make it real
                self._t_offset += behind
                t = t + behind
            self._check_gap = False
        elif self.last_t is None:
            self._check_gap = False
        gyro = block.gyro_dps if self.info.channels == 6 else None
        block = as_recorded(Samples(t, block.accel_g, gyro))
        self.last_t = float(block.t_s[-1])  # received (held or not): for the gap repair
        self.last_wall = arrived
        if self._hold_since is not None:
            self._held.append(block)
            return
        self._out(block, arrived, items)

    def _out(self, block: Samples, arrived: float, items: list[StreamItem]) -> None:
        self._out_t = float(block.t_s[-1])
        n = len(block)
        self.quality.samples += n
        w = self._rate_window
        w.append((arrived, n))
        while w[0][0] < arrived - self.policy.rate_window_s:
            w.popleft()
        items.append(SampleBlock(block, arrived))

    # ------------------------------------------------------------- counters

    def update_quality(self, now: float) -> LinkQuality:
        """Bring the decoder/assembler counters and the rate (as of ``now``) up to date."""
        q = self.quality
        a, d = self.assembler, self.decoder
        q.samples_lost = a.samples_lost + q.backfill_late
        q.crc_errors = self._dec_base[0] + d.crc_errors
        q.malformed = self._dec_base[1] + d.malformed
        q.bytes_discarded = self._dec_base[2] + d.bytes_discarded
        q.info_rejected = self._dec_base[3] + d.info_rejected
        if d.last_rejected:
            self.last_rejected = d.last_rejected
        q.duplicates = self._duplicates + a.late_frames
        p = self.policy
        w = self._rate_window
        while w and w[0][0] < now - p.rate_window_s:
            w.popleft()
        start = self.started_wall if self.started_wall is not None else now
        span = min(p.rate_window_s, now - start)
        q.rate_sps = sum(n for _, n in w) / span if span > p.rate_min_span_s else 0.0
        return q


def as_recorded(block: Samples) -> Samples:
    """Round to the recording's text precision exactly as the file will hold it."""
    from imu_host.io.recording import as_recorded as _as_recorded

    return _as_recorded(block)
