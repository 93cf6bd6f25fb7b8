"""Live session with two or three boards: transports -> frames -> samples -> MultiPipeline.

Built directly on the transports, :class:`~imu_host.protocol.frames.FrameDecoder`,
:class:`~imu_host.protocol.frames.SampleAssembler` and :mod:`imu_host.core.multi` (not on
the single-board ``LiveSession``). One thread, one loop: each board's link is read in
turn (``read_timeout`` each), its bytes decoded and assembled, each block recorded and
fed to the multi pipeline with the time it arrived, and the events shown at once. A lost
link is reopened with backoff (:class:`~imu_host.transport.base.ReconnectingTransport`);
meanwhile the session carries on with the other boards (the pipeline marks the board
dropped and, when it streams again, back).

Board ids: when the links are open the session first asks every board for its info
(``info`` only, no ``start``) and waits for its DEVICE frame (firmware 1.1 and later): a
board's id is then ``uid:<unique id>`` (hex of ``machine.unique_id()``; its BLE name ends
with the last 6 digits), the same over any USB port or BLE. Firmware 1.0 sends no DEVICE
frame; a board without a unique id keeps ``serial:PORT`` / ``ble:ADDRESS``. Only then are
the roles settled and streaming started.

Roles: each board is ``left-thigh``, ``right-thigh`` or ``sternum``, given on the command
line or remembered per board id in ``<data dir>/boards.json`` from an earlier session, so
a board keeps its role when it moves to another port.

Pings: while a board streams, the session pings it every ``ping_interval_s`` on average
(at random moments: the phases must not lock onto the link's connection events), each
ping with its own token. The board's ACK carries its clock when it handled the ping; the
exchange (host time sent, that device time on the samples' time axis, host time the ACK
was read) goes to the pipeline's clock for that board and into the recording
(``pings.csv``), so a replay gets it at the same point.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from imu_host.core.events import FlagEvent, GapEvent, RepEvent
from imu_host.core.multi import (
    CUES,
    ROLES,
    BoardEvent,
    MultiPipeline,
    MultiRepEvent,
    MultiSettings,
)
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.paths import create_exclusive, data_dir
from imu_host.protocol.frames import (
    CMD_PING,
    AckFrame,
    DeviceHealth,
    DeviceInfo,
    FrameDecoder,
    SampleAssembler,
    SampleFrame,
    encode_command,
)
from imu_host.transport.base import Backoff, ReconnectingTransport, Transport

ROLES_FILE = "boards.json"
UID_PREFIX = "uid:"  # board id of a board that reports its unique id
DEVICE_FRAME_FIRMWARE = (1, 1)  # the first firmware that sends DEVICE frames (unique id)
# a reconnection running in the background (BLE) is looked at least this often (s), so a
# board back in range streams again within this of being connected (the backoff's later
# delays would be seconds); each look costs nothing while it runs
BACKGROUND_POLL_S = 0.5


# ------------------------------------------------------------------ roles per board


def roles_path() -> Path:
    return data_dir() / ROLES_FILE


def load_roles(path: Path | None = None) -> dict[str, str]:
    """Board id -> role remembered from earlier sessions ({} if none)."""
    path = path or roles_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read the board roles: {err}", path=str(path)) from None
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and v in ROLES for k, v in doc.items()
    ):
        raise InputError(
            f"expected an object of board id -> role ({', '.join(ROLES)})", path=str(path)
        )
    return dict(doc)


def save_roles(roles: dict[str, str], path: Path | None = None) -> None:
    """Remember board id -> role (merged with what is stored)."""
    path = path or roles_path()
    merged = {**load_roles(path), **roles}
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with create_exclusive(tmp, "board roles", text=True) as fh:
        json.dump(merged, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def assign_roles(board_ids: list[str], given: list[str], stored: dict[str, str]) -> list[str]:
    """Roles for the boards: the ones given (in order), else the stored ones."""
    if len(given) > len(board_ids):
        raise InputError(f"{len(given)} --role given for {len(board_ids)} boards")
    for r in given:
        if r not in ROLES:
            raise InputError(f"--role must be one of {', '.join(ROLES)} (got '{r}')")
    roles = list(given) + [stored.get(b, "") for b in board_ids[len(given) :]]
    for b, r in zip(board_ids, roles, strict=True):
        if not r:
            raise InputError(
                f"board {b} has no role: give --role ({', '.join(ROLES)}) for each board, "
                "in the order of --serial then --ble"
            )
    dup = {r for r in roles if roles.count(r) > 1}
    if dup:
        raise InputError(f"two boards have the role {', '.join(sorted(dup))}")
    return roles


# ------------------------------------------------------------------ session


@dataclass
class BoardSource:
    role: str  # "" = settled once the board has said who it is (MultiLiveSession assign)
    board_id: str  # the fallback id (serial:PORT / ble:ADDRESS) for boards without a unique id
    transport: Transport


def board_id_of(health: DeviceHealth | None, fallback: str) -> str:
    """``uid:<unique id>`` when the board reported one, else ``fallback``."""
    if health is not None and health.unique_id:
        return UID_PREFIX + health.unique_id.upper()
    return fallback


def _sends_device_frames(info: DeviceInfo) -> bool:
    try:
        version = tuple(int(x) for x in info.firmware_version.split(".")[:2])
    except ValueError:
        return False
    return version >= DEVICE_FRAME_FIRMWARE


@dataclass
class MultiLiveOptions:
    target: int | None = None  # reps per side; the session ends when both sides reach it
    duration_s: float | None = None  # wall-clock seconds of streaming, then stop
    quiet: bool = False  # no terminal bell on cues
    mode: str = "lines"  # "lines" (one line per event) or "json"
    record_path: Path | None = None  # session folder (must not exist); None: no recording
    read_timeout: float = 0.01  # per board and loop turn
    flush_interval_s: float = 1.0
    info_timeout_s: float = 10.0
    stall_s: float = 2.0  # connected but no samples this long -> ask the board again
    device_wait_s: float = 1.0  # after a firmware >= 1.1 info: wait this long for its DEVICE frame
    ping_interval_s: float = 0.3  # mean time between pings per streaming board (random
    # moments, uniform over 0.5x-1.5x); 0: no pings (arrival times only)
    ping_timeout_s: float = 2.0  # a ping not answered in this long is forgotten
    settings: MultiSettings | None = None
    backoff: Backoff = field(default_factory=Backoff)


class _Link:
    def __init__(self, src: BoardSource, backoff: Backoff) -> None:
        self.src = src
        self.role = src.role
        if getattr(src.transport, "background_reconnect", False):
            backoff = Backoff(backoff.initial, backoff.factor,
                              min(backoff.maximum, BACKGROUND_POLL_S))  # fmt: skip
        self.link = ReconnectingTransport(src.transport, backoff=backoff)
        self.decoder = FrameDecoder()
        self.assembler = SampleAssembler()
        self.info: DeviceInfo | None = None
        self.health: DeviceHealth | None = None  # the first DEVICE frame (unique id)
        self.info_at: float | None = None
        self.board_id = src.board_id  # uid:... once the board has said so
        self.connected = False
        self.connected_at = 0.0
        self.next_request = 0.0
        self.last_wall: float | None = None
        self.samples = 0
        self.reconnects = 0
        self.crc_errors_before = 0
        self.ping_token = 0  # token of the last ping sent (1..65535)
        self.pings_out: dict[int, float] = {}  # token -> host time sent, not yet answered
        self.next_ping = 0.0
        self.pings_answered = 0


class MultiLiveSession:
    """Runs one live session on several boards (see the module docstring)."""

    def __init__(
        self,
        sources: list[BoardSource],
        options: MultiLiveOptions,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[object], None] | None = None,
        assign: Callable[[list[str]], list[str]] | None = None,
    ) -> None:
        """``assign(board_ids) -> roles`` settles the roles once every board has said who
        it is (the CLI: the ``--role`` given, else the stored role of each board id);
        without it every source must have its role."""
        if options.mode not in ("lines", "json"):
            raise ValueError("mode must be 'lines' or 'json'")
        roles = [s.role for s in sources]
        if assign is None:
            self._check_roles(roles)
        self.assign = assign
        self.options = options
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = clock
        self.on_event = on_event
        for s in sources:
            if hasattr(s.transport, "background_reconnect"):
                # BLE: a board reconnecting (seconds of scanning) must not hold up the others
                s.transport.background_reconnect = True
        self.links = [_Link(s, options.backoff) for s in sources]
        for ln in self.links:
            ln.link.on_connect = lambda n, ln=ln: self._on_connect(ln, n)
            ln.link.on_lost = lambda why, ln=ln: self._on_lost(ln, why)
        # with ``assign`` the roles are settled by _identify (all three stand in until then)
        self.multi = MultiPipeline(roles if assign is None else ROLES, options.settings)
        self._identifying = True  # until every board has said who it is
        self.writer: Any = None
        self.events: list[object] = []
        self.stop_reason = ""
        self._t0: float | None = None
        self._rng = random.Random()  # ping moments (recorded, so replay needs no seed)

    @staticmethod
    def _check_roles(roles: list[str]) -> None:
        if len(set(roles)) != len(roles) or not set(roles) <= set(ROLES):
            raise ValueError(f"each board needs its own role out of {ROLES}")

    # ---------------------------------------------------------------- links

    def _on_connect(self, ln: _Link, n: int) -> None:
        ln.crc_errors_before += ln.decoder.crc_errors
        ln.decoder.reset()
        ln.pings_out.clear()  # an answer across a reconnection is not trusted
        ln.connected = True
        ln.connected_at = self.clock()
        if self._identifying:
            self._request_info(ln)
        else:
            self._request_start(ln)
        if n > 1:
            ln.reconnects += 1
            self._notice(ln, "connected", f"{ln.role} reconnected ({ln.link.description})")

    def _on_lost(self, ln: _Link, why: str) -> None:
        ln.connected = False
        self._notice(ln, "lost", f"{ln.role} link lost ({why}); reconnecting")

    def _request_info(self, ln: _Link) -> None:
        ln.link.write(encode_command("info"))
        ln.next_request = self.clock() + 1.0

    def _request_start(self, ln: _Link) -> None:
        ln.link.write(encode_command("info"))
        ln.link.write(encode_command("start"))
        ln.next_request = self.clock() + 1.0

    # ---------------------------------------------------------------- data

    def feed_bytes(self, ln: _Link, data: bytes, arrived: float) -> None:
        for frame in ln.decoder.feed(data):
            if isinstance(frame, DeviceInfo):
                if ln.info is None:
                    ln.info = frame
                    ln.info_at = arrived
            elif isinstance(frame, DeviceHealth):
                if ln.health is None:
                    ln.health = frame
                continue
            elif isinstance(frame, AckFrame):
                self._on_ack(ln, frame, arrived)
                continue
            elif not isinstance(frame, SampleFrame):
                continue
            if self._identifying:
                continue  # samples streamed before this session asked for them
            for block in ln.assembler.push(frame):
                self._feed_block(ln, block, arrived)

    def _feed_block(self, ln: _Link, block: Samples, arrived: float) -> None:
        info = ln.info
        if info is None or len(block) == 0:
            return
        if info.channels == 3 and block.gyro_dps is not None:
            block = Samples(block.t_s, block.accel_g, None)
        has_gyro = info.channels == 6
        if ln.role not in self.multi.boards:
            # added on its first samples, exactly as the replay of the recording does
            self.multi.add_board(ln.role, info.odr_hz, has_gyro)
            if self.writer is not None:
                self.writer.add_board(ln.role, ln.board_id, info.odr_hz, has_gyro,
                                      f"{info.sensor_model} firmware {info.firmware_version}",
                                      unique_id=ln.health.unique_id if ln.health else None)  # fmt: skip
        if self.writer is not None:
            block = self.writer.write(ln.role, block, arrived)
        else:
            from imu_host.io.recording import as_recorded

            block = as_recorded(block)
        if self._t0 is None:
            self._t0 = arrived
        ln.samples += len(block)
        ln.last_wall = arrived
        for ev in self.multi.feed(ln.role, block, arrived):
            self._emit(ev)

    # ---------------------------------------------------------------- pings

    def _maybe_ping(self, ln: _Link, now: float) -> None:
        """Ping a streaming board at random moments, ``ping_interval_s`` apart on average."""
        iv = self.options.ping_interval_s
        if iv <= 0 or self._identifying or not ln.connected or ln.role not in self.multi.boards:
            return
        if now < ln.next_ping:
            return
        for tok, sent in list(ln.pings_out.items()):
            if now - sent > self.options.ping_timeout_s:
                del ln.pings_out[tok]
        ln.ping_token = ln.ping_token % 0xFFFF + 1
        ln.next_ping = now + iv * self._rng.uniform(0.5, 1.5)
        sent = self.clock()  # taken before the write: the bound stays on the safe side
        ln.pings_out[ln.ping_token] = sent
        ln.link.write(encode_command("ping", ln.ping_token, ln.ping_token))

    def _on_ack(self, ln: _Link, ack: AckFrame, arrived: float) -> None:
        if ack.command != CMD_PING or not ack.ok or ack.value != ack.token:
            return
        sent = ln.pings_out.pop(ack.token, None)
        if sent is None or ln.role not in self.multi.boards:
            return
        dev = ln.assembler.device_time_s(ack.t_us)
        if dev is None:
            return
        ln.pings_answered += 1
        if self.writer is not None:
            self.writer.write_ping(ln.role, sent, dev, arrived)
        self.multi.ping(ln.role, sent, dev, arrived)

    # ---------------------------------------------------------------- output

    def _emit(self, ev: object) -> None:
        self.events.append(ev)
        if isinstance(ev, FlagEvent) and not self.options.quiet:
            isatty = getattr(self.out, "isatty", None)
            if isatty is not None and isatty():
                self._write("\a")
        if self.options.mode == "json":
            self._write(json.dumps(ev.to_dict()) + "\n")  # type: ignore[attr-defined]
        else:
            self._write(format_multi_event(ev) + "\n")
        if self.on_event is not None:
            self.on_event(ev)

    def _notice(self, ln: _Link, state: str, text: str) -> None:
        if self.options.mode == "json":
            self._write(json.dumps({"event": "link", "role": ln.role, "state": state}) + "\n")
        else:
            self._write(f"-- {text}\n")

    def _write(self, text: str) -> None:
        with contextlib.suppress(ValueError):
            self.out.write(text)
            self.out.flush()

    # ---------------------------------------------------------------- run

    def _target_reached(self) -> bool:
        tgt = self.options.target
        if not tgt:
            return False
        reps = self.multi.reps
        return (
            sum(r.side == "left" for r in reps) >= tgt
            and sum(r.side == "right" for r in reps) >= tgt
        )

    def run(self, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Stream until Ctrl-C / target / duration / ``should_stop()``; returns the summary."""
        opts = self.options
        if opts.record_path is not None and Path(opts.record_path).exists():
            raise InputError(
                "already exists; refusing to overwrite a recording", path=str(opts.record_path)
            )
        opened: list[_Link] = []
        try:
            for ln in self.links:
                ln.link.open()  # a board that cannot be reached: one line, nothing written
                opened.append(ln)
            self._identify()  # Ctrl-C here: nothing streamed, nothing recorded
            if opts.record_path is not None:
                from imu_host.io.multi import MultiRecordingWriter

                meta = {"started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                        "recorded_by": "imu-host live (multi-board)"}  # fmt: skip
                self.writer = MultiRecordingWriter(opts.record_path, meta)
            next_flush = self.clock() + opts.flush_interval_s
            try:
                while True:
                    got = False
                    for ln in self.links:
                        data = ln.link.read(opts.read_timeout)
                        now = self.clock()
                        if data:
                            got = True
                            self.feed_bytes(ln, data, now)
                        self._keep_alive(ln, now)
                        self._maybe_ping(ln, now)
                    now = self.clock()
                    if self.writer is not None and now >= next_flush:
                        self.writer.flush()
                        next_flush = now + opts.flush_interval_s
                    if self._target_reached():
                        self.stop_reason = "target reached"
                        break
                    if (
                        opts.duration_s is not None
                        and self._t0 is not None
                        and (now - self._t0 >= opts.duration_s)
                    ):
                        self.stop_reason = "duration reached"
                        break
                    if not got and should_stop is not None and should_stop():
                        self.stop_reason = "source finished"
                        break
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
            for ln in self.links:
                with contextlib.suppress(Exception):
                    ln.link.write(encode_command("stop"))
            for ev in self.multi.finish():
                self._emit(ev)
        finally:
            for ln in opened:
                ln.link.close()
            if self.writer is not None:
                self.writer.close(self.multi.clock_estimates(),
                                  {"board_changes": [e.to_dict() for e in self.events
                                                     if isinstance(e, BoardEvent)]})  # fmt: skip
        return self.summary()

    def _identified(self, ln: _Link, now: float) -> bool:
        if ln.info is None:
            return False
        if ln.health is not None or not _sends_device_frames(ln.info):
            return True
        return ln.info_at is not None and now - ln.info_at >= self.options.device_wait_s

    def _identify(self) -> None:
        """Ask every board who it is; settle the board ids and roles; start streaming."""
        opts = self.options
        deadline = self.clock() + opts.info_timeout_s + opts.device_wait_s
        while True:
            pending = []
            for ln in self.links:
                data = ln.link.read(opts.read_timeout)
                now = self.clock()
                if data:
                    self.feed_bytes(ln, data, now)
                if not self._identified(ln, now):
                    pending.append(ln)
                    self._keep_alive(ln, now)
            if not pending:
                break
            if self.clock() > deadline:  # e.g. a link lost before the board answered
                raise InputError(
                    f"{', '.join(ln.link.description for ln in pending)}: no device info from "
                    f"the board in {opts.info_timeout_s:g} s (is it running the imu-host "
                    "firmware?)"
                )
        for ln in self.links:
            ln.board_id = board_id_of(ln.health, ln.src.board_id)
        ids = [ln.board_id for ln in self.links]
        if len(set(ids)) != len(ids):
            same = sorted({i for i in ids if ids.count(i) > 1})
            raise InputError(f"two of the links reach the same board ({', '.join(same)})")
        if self.assign is not None:
            roles = self.assign(ids)
            self._check_roles(roles)
            for ln, role in zip(self.links, roles, strict=True):
                ln.role = role
            self.multi = MultiPipeline(roles, opts.settings)
        self._identifying = False
        if opts.mode == "lines":
            for ln in self.links:
                self._write(f"-- {ln.role}: {ln.board_id} ({ln.link.description})\n")
        for ln in self.links:
            ln.connected_at = self.clock()
            self._request_start(ln)

    def _keep_alive(self, ln: _Link, now: float) -> None:
        if not ln.connected:
            return
        if ln.info is None:
            if now - ln.connected_at > self.options.info_timeout_s:
                raise InputError(
                    f"{ln.link.description}: no device info from the board in "
                    f"{self.options.info_timeout_s:g} s (is it running the imu-host firmware?)"
                )
            if now >= ln.next_request:
                if self._identifying:
                    self._request_info(ln)
                else:
                    self._request_start(ln)
        elif self._identifying:
            if now >= ln.next_request:
                self._request_info(ln)
        elif (
            ln.last_wall is not None
            and now - max(ln.last_wall, ln.connected_at) > self.options.stall_s
            and now >= ln.next_request
        ):
            self._request_start(ln)

    def summary(self) -> dict[str, Any]:
        s = self.multi.summary()
        s["live"] = {
            "stop_reason": self.stop_reason,
            "recording": None if self.writer is None else str(self.writer.folder),
            "boards": {
                ln.role: {
                    "board_id": ln.board_id,
                    "unique_id": ln.health.unique_id if ln.health and ln.health.unique_id else None,
                    "source": ln.link.description,
                    "samples": ln.samples,
                    "samples_lost": ln.assembler.samples_lost,
                    "crc_errors": ln.crc_errors_before + ln.decoder.crc_errors,
                    "reconnects": ln.reconnects,
                    "pings_answered": ln.pings_answered,
                }
                for ln in self.links
            },
        }
        return s


def format_multi_event(ev: object) -> str:
    """One line per event, faults in the plain words the report uses
    (:data:`imu_host.core.events.FLAG_WORDS`), never the internal flag names."""
    from imu_host.core.events import FLAG_WORDS, flag_words

    if isinstance(ev, MultiRepEvent):
        r, f = ev.rep, ev.figures
        bits = []
        if f.get("separation_deg") is not None:
            bits.append(f"knees apart {f['separation_deg']:.0f} deg")
        if f.get("lag_s") is not None:
            bits.append(f"lag {f['lag_s']:.2f}s")
        if f.get("trunk_roll_deg") is not None:
            bits.append(f"trunk {f['trunk_roll_deg']:.0f} deg")
        fl = f"  {flag_words(r.flags)}" if r.flags else ""
        return (f"{ev.t_s:8.2f}s  REP  #{r.index} {r.side:<5} range {r.rom_deg:.0f} deg  "
                f"{'  '.join(bits)}{fl}")  # fmt: skip
    if isinstance(ev, RepEvent):
        r = ev.rep
        fl = f"  {flag_words(r.flags)}" if r.flags else ""
        return f"{ev.t_s:8.2f}s  REP  #{r.index} {r.side:<5} range {r.rom_deg:.0f} deg{fl}"
    if isinstance(ev, FlagEvent):
        words = FLAG_WORDS.get(ev.kind, ev.kind.replace("_", " "))
        if ev.kind in CUES:
            return f"{ev.t_s:8.2f}s  CUE  {CUES[ev.kind]} ({words}, {ev.side}, {ev.value:.0f} deg)"
        unit = "deg" if ev.kind == "bounce" else "deg/s"
        return f"{ev.t_s:8.2f}s  FLAG {words} ({ev.side}) {ev.value:.0f} {unit}"
    if isinstance(ev, BoardEvent):
        rest = ", ".join(ev.remaining) or "none"
        what = "dropped out" if ev.state == "dropped" else "is back"
        return f"{ev.t_s:8.2f}s  BOARD {ev.role} {what}; streaming: {rest}"
    if isinstance(ev, GapEvent):
        return f"{ev.t_s:8.2f}s  GAP  no data {ev.start_s:.2f}-{ev.end_s:.2f}s"
    return str(ev)


__all__ = [
    "UID_PREFIX",
    "BoardSource",
    "board_id_of",
    "MultiLiveOptions",
    "MultiLiveSession",
    "assign_roles",
    "format_multi_event",
    "load_roles",
    "save_roles",
]
