"""The coach from the floor: spoken cues (or tones), the pacing guide, the audio track.

* :func:`render_phrases` renders every phrase the coach can say ONCE, at session start,
  to 16-bit mono PCM in memory: espeak-ng (``--stdout``, a subprocess per phrase), else
  macOS ``say``, else pyttsx3 (Windows SAPI) when installed, else distinct synthesised
  tones (one pattern per kind of cue). Leading and trailing silence are trimmed so a
  cue starts with sound.
* :class:`AudioOutput` plays cues on a background thread through a bounded queue: the
  counting loop only ever does ``put_nowait``; a full queue drops the cue and counts it
  (``dropped``), a slow or missing audio device never delays samples. Playback goes to a
  raw-PCM player subprocess (``aplay``, ``paplay``, ``pw-play`` or sox ``play``), else
  a cue at a time to ``winsound`` (Windows) or ``afplay`` (macOS); with none (or none
  that works), cues are handed to a null sink and only the track has them.
* :class:`AudioTrack` (``--audio-track FILE.wav``) holds the whole session's audio: each
  cue at its event's stream time (the time axis of the recording), one after the other
  when they would overlap, silence between.
* the pacing guide (:mod:`imu_host.live.pace`) prompts through the coach: the session
  hands its prompts to the sinks as ``PromptEvent`` and the coach says them.
* :class:`Coach` is the view sink that turns events into cues: the count per side
  ("left, 3 of 8"), "slower" on a fast drop (the flag comes while the knees are still
  falling), "control the return" on a yanked return, "no bouncing", "switch sides" when
  two reps in a row are on one side, "set complete" when both sides reach the target,
  and the pacing guide's prompts. One event makes one cue (e.g. "right, 8 of 8" and "set
  complete" joined by a short pause). Form cues start after the first counted rep
  (until then the axis is being learned and walking to the mat can look like drops).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import queue
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import BOUNCE, FAST_DROP, FAST_RETURN, FlagEvent, RepEvent
from imu_host.errors import InputError
from imu_host.live.pace import PACE_BACK, PACE_HOLD, PACE_INHALE, PACE_LOWER, PACE_PHRASES
from imu_host.live.view import LiveState, NullSink, PromptEvent

RATE_HZ = 22050  # espeak-ng's native rate; tones and the track use it too
FIRST_CHUNK_S = 0.02  # a cue's first 20 ms go to the player on their own (latency)
ENGINES = ("auto", "espeak-ng", "say", "pyttsx3", "tones")

# cue phrases (the count phrases are made by count_phrase)
SLOWER = "slower"
CONTROL_RETURN = "control the return"
NO_BOUNCING = "no bouncing"
SWITCH_SIDES = "switch sides"
SET_COMPLETE = "set complete"
FLAG_PHRASES = {FAST_DROP: SLOWER, FAST_RETURN: CONTROL_RETURN, BOUNCE: NO_BOUNCING}


@dataclass(frozen=True)
class CoachSettings:
    """Named numbers of the coach (documented defaults)."""

    max_count: int = 20  # count phrases rendered per side (at least the target)
    queue_cues: int = 4  # cues waiting for the speaker at most; more are dropped (counted)
    words_per_minute: int = 170  # espeak-ng / say speaking rate
    voice: str = "en"  # espeak-ng voice
    onset_level: int = 300  # |sample| above this (of 32767) is sound, not silence
    track_gap_s: float = 0.3  # cues that would overlap on the track start this far apart
    join_pause_s: float = (
        0.12  # pause between the phrases of one cue ("left, 8 of 8. set complete")
    )
    render_timeout_s: float = 10.0  # one phrase's rendering, at most


def count_phrase(side: str, n: int, target: int | None) -> str:
    return f"{side}, {n} of {target}" if target else f"{side}, {n}"


def phrases_for(target: int | None, settings: CoachSettings, pace: bool) -> list[str]:
    """Every phrase a session with this target can say."""
    top = max(settings.max_count, target or 0)
    out = [count_phrase(s, n, target) for s in ("left", "right") for n in range(1, top + 1)]
    out += [*FLAG_PHRASES.values(), SWITCH_SIDES, SET_COMPLETE]
    if pace:
        out += list(PACE_PHRASES)
    return out


# --------------------------------------------------------------------- rendering


def wav_to_pcm(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV bytes -> (mono int16 samples, rate). Tolerates the streaming
    header espeak-ng writes to a pipe (sizes 0x7fffffff): reads to the end of data."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, channels, bits = 12, 0, 1, 16
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            _fmt, channels, rate, _br, _ba, bits = struct.unpack("<HHIIHH", data[body : body + 16])
        elif cid == b"data":
            raw = data[body : min(len(data), body + size)]
            if bits != 16:
                raise ValueError("only 16-bit WAV is supported")
            pcm = np.frombuffer(raw[: len(raw) // 2 * 2], "<i2")
            if channels > 1:
                pcm = pcm[: len(pcm) // channels * channels].reshape(-1, channels)[:, 0]
            return pcm.astype(np.int16), rate
        pos = body + size + (size & 1)
    raise ValueError("WAV without a data chunk")


def resample(pcm: np.ndarray, rate: int, to: int = RATE_HZ) -> np.ndarray:
    if rate == to or len(pcm) == 0:
        return pcm.astype(np.int16)
    n = int(round(len(pcm) * to / rate))
    x = np.interp(np.linspace(0, len(pcm) - 1, n), np.arange(len(pcm)), pcm.astype(float))
    return np.round(x).astype(np.int16)


def trim(pcm: np.ndarray, level: int) -> np.ndarray:
    """Drop leading and trailing silence (the cue starts with sound)."""
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > level)[0]
    if len(loud) == 0:
        return pcm[:0]
    return pcm[loud[0] : loud[-1] + 1]


def _espeak(text: str, s: CoachSettings) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    assert exe is not None
    out = subprocess.run(
        [exe, "-v", s.voice, "-s", str(s.words_per_minute), "--stdout", text],
        capture_output=True,
        timeout=s.render_timeout_s,
        check=True,
    ).stdout
    pcm, rate = wav_to_pcm(out)
    return resample(pcm, rate)


def _say(text: str, s: CoachSettings) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="imu-host-say-") as tmp:
        path = Path(tmp) / "cue.wav"
        subprocess.run(
            ["say", "-r", str(s.words_per_minute), "--data-format=LEI16@22050", "-o", str(path), text],
            capture_output=True,
            timeout=s.render_timeout_s,
            check=True,
        )  # fmt: skip
        pcm, rate = wav_to_pcm(path.read_bytes())
    return resample(pcm, rate)


def _pyttsx3_renderer() -> Callable[[str, CoachSettings], np.ndarray]:
    import pyttsx3

    engine = pyttsx3.init()

    def render(text: str, s: CoachSettings) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="imu-host-sapi-") as tmp:
            path = Path(tmp) / "cue.wav"
            engine.setProperty("rate", s.words_per_minute)
            engine.save_to_file(text, str(path))
            engine.runAndWait()
            pcm, rate = wav_to_pcm(path.read_bytes())
        return resample(pcm, rate)

    return render


def _tone(freqs: Iterable[float], dur_s: float, gap_s: float = 0.06) -> np.ndarray:
    parts = []
    for f in freqs:
        t = np.arange(int(dur_s * RATE_HZ)) / RATE_HZ
        env = np.minimum(1.0, np.minimum(t, dur_s - t) / 0.01)  # 10 ms fade in/out
        parts.append(0.5 * np.sin(2 * np.pi * f * t) * env)
        parts.append(np.zeros(int(gap_s * RATE_HZ)))
    x = np.concatenate(parts[:-1]) if parts else np.zeros(0)
    # start at a full-level sample so the onset is the first sample
    return np.round(x * 32767 * 0.9).astype(np.int16)


def tone_for(text: str) -> np.ndarray:
    """A distinct tone pattern per kind of cue (no speech engine installed)."""
    if text.startswith(("left", "right")):
        base = 660.0 if text.startswith("left") else 880.0
        return _tone([base], 0.12)
    table: dict[str, tuple[list[float], float]] = {
        SLOWER: ([220.0], 0.35),
        CONTROL_RETURN: ([330.0, 247.0], 0.2),
        NO_BOUNCING: ([262.0, 262.0, 262.0], 0.08),
        SWITCH_SIDES: ([784.0, 523.0], 0.15),
        SET_COMPLETE: ([523.0, 659.0, 784.0], 0.15),
        PACE_LOWER: ([440.0, 392.0], 0.12),
        PACE_HOLD: ([440.0], 0.3),
        PACE_BACK: ([392.0, 440.0], 0.12),
        PACE_INHALE: ([494.0], 0.12),
    }
    freqs, dur = table.get(text, ([600.0], 0.1))
    return _tone(freqs, dur)


def pick_engine(name: str = "auto") -> str:
    """The engine to use: the one asked for (InputError when missing) or, for auto, the
    first installed of espeak-ng, say, pyttsx3, else tones."""
    if name not in ENGINES:
        raise InputError(f"--speech must be one of {', '.join(ENGINES)}")

    def have(engine: str) -> bool:
        if engine == "pyttsx3":
            import importlib.util

            return importlib.util.find_spec("pyttsx3") is not None
        return engine == "tones" or shutil.which(engine) is not None

    if name != "auto":
        if not have(name):
            raise InputError(f"speech engine {name} is not installed")
        return name
    for engine in ("espeak-ng", "say", "pyttsx3"):
        if have(engine) and (engine != "say" or sys.platform == "darwin"):
            return engine
    return "tones"


def render_phrases(
    texts: Iterable[str], engine: str = "auto", settings: CoachSettings | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """Render each phrase once -> ({text: int16 PCM at RATE_HZ}, engine used). A phrase
    the engine fails on gets its tone, so a cue is never silent."""
    s = settings or CoachSettings()
    engine = pick_engine(engine)
    texts = list(dict.fromkeys(texts))
    render: Callable[[str, CoachSettings], np.ndarray] | None
    render = {"espeak-ng": _espeak, "say": _say}.get(engine)
    if engine == "pyttsx3":
        render = _pyttsx3_renderer()
    book: dict[str, np.ndarray] = {}
    if render is None:
        return {t: tone_for(t) for t in texts}, engine
    fn = render

    def one(text: str) -> np.ndarray:
        try:
            pcm = trim(fn(text, s), s.onset_level)
        except (OSError, subprocess.SubprocessError, ValueError):
            pcm = np.zeros(0, np.int16)
        return pcm if len(pcm) else tone_for(text)

    if engine == "pyttsx3":  # one engine object: not thread safe
        return {t: one(t) for t in texts}, engine
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        for t, pcm in zip(texts, pool.map(one, texts), strict=True):
            book[t] = pcm
    return book, engine


# --------------------------------------------------------------------- playback

PLAYERS = (
    ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(RATE_HZ), "-c", "1"],
    ["paplay", "--raw", f"--rate={RATE_HZ}", "--channels=1", "--format=s16le"],
    ["pw-play", "--rate", str(RATE_HZ), "--channels", "1", "--format", "s16", "-"],
    ["play", "-q", "-t", "raw", "-r", str(RATE_HZ), "-e", "signed", "-b", "16", "-c", "1", "-"],
)


@dataclass
class Cue:
    text: str
    t_s: float  # stream time of the event it answers
    pcm: np.ndarray = field(repr=False)
    queued_wall: float = 0.0  # when the counting loop queued it (monotonic)
    handed_wall: float | None = None  # when its first sound sample went to the output


class AudioOutput:
    """Plays cues one after another on a thread, fed through a bounded queue.

    ``player``: "auto" (first raw-PCM player found that stays up), "none" (cues are
    handed to a null sink), or a command list reading raw s16le mono PCM on stdin.
    ``on_handed(cue)`` is called (on the audio thread) when a cue's first sound sample
    has been handed to the output."""

    def __init__(
        self,
        player: str | list[str] = "auto",
        queue_cues: int = 4,
        on_handed: Callable[[Cue], None] | None = None,
    ) -> None:
        self.queue: queue.Queue[Cue | None] = queue.Queue(maxsize=queue_cues)
        self.dropped = 0
        self.played = 0
        self.on_handed = on_handed
        self.player_cmd: list[str] | None = None
        if isinstance(player, list):
            self.player_cmd = player
        elif player == "auto":
            self.player_cmd = next((c for c in PLAYERS if shutil.which(c[0])), None)
        # no raw-PCM player: a whole cue at a time (Windows winsound, macOS afplay)
        self.per_cue: str | None = None
        if player == "auto" and self.player_cmd is None:
            if sys.platform == "win32":
                self.per_cue = "winsound"
            elif shutil.which("afplay"):
                self.per_cue = "afplay"
        self._proc: subprocess.Popen[bytes] | None = None
        self.device = "none"  # the player in use once a cue went out ("none": no sound)
        self._thread = threading.Thread(target=self._run, name="imu-host-audio", daemon=True)
        self._thread.start()

    def submit(self, cue: Cue) -> bool:
        """Queue a cue without ever blocking; False (and counted) when the queue is full."""
        cue.queued_wall = time.monotonic()
        try:
            self.queue.put_nowait(cue)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _open_player(self) -> None:
        if self.player_cmd is None or self._proc is not None:
            return
        try:
            self._proc = subprocess.Popen(
                self.player_cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.device = self.player_cmd[0]
        except OSError:
            self.player_cmd = None

    def _close_player(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _write(self, pcm: np.ndarray) -> bool:
        proc = self._proc
        if proc is None:
            return False
        if proc.poll() is not None:  # no device behind it: stop trying
            self._drop_player()
            return False
        try:
            assert proc.stdin is not None
            proc.stdin.write(pcm.astype("<i2").tobytes())
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._drop_player()
            return False
        return True

    def _play_whole(self, pcm: np.ndarray) -> None:
        """Play one cue to its end (no raw-PCM player on this system; not tested here)."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE_HZ)
            w.writeframes(pcm.astype("<i2").tobytes())
        try:
            if self.per_cue == "winsound":
                import importlib

                winsound: Any = importlib.import_module("winsound")
                winsound.PlaySound(buf.getvalue(), winsound.SND_MEMORY)
            else:
                with tempfile.TemporaryDirectory(prefix="imu-host-cue-") as tmp:
                    path = Path(tmp) / "cue.wav"
                    path.write_bytes(buf.getvalue())
                    subprocess.run(["afplay", str(path)], capture_output=True, timeout=30)
            self.device = self.per_cue or "none"
        except (OSError, RuntimeError, subprocess.SubprocessError):
            self.per_cue = None
            self.device = "none"

    def _drop_player(self) -> None:
        self._close_player()
        self.player_cmd = None
        self.device = "none"

    def _run(self) -> None:
        first_n = int(FIRST_CHUNK_S * RATE_HZ)
        try:
            while True:
                cue = self.queue.get()
                if cue is None:
                    break
                if self.per_cue is not None:
                    cue.handed_wall = time.monotonic()
                    if self.on_handed is not None:
                        self.on_handed(cue)
                    self._play_whole(cue.pcm)
                    self.played += 1
                    continue
                self._open_player()
                # the first chunk starts with sound (phrases are trimmed): once it is
                # written, the first non-silent sample has been handed to the output
                self._write(cue.pcm[:first_n])
                cue.handed_wall = time.monotonic()
                if self.on_handed is not None:
                    self.on_handed(cue)
                if len(cue.pcm) > first_n:
                    self._write(cue.pcm[first_n:])
                self.played += 1
        finally:
            self._close_player()

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the queued cues go out (for at most ``timeout_s``), then stop the thread
        and the player; a stuck device is killed, its cues counted as dropped."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.queue.put(None, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
                    self.dropped += 1
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            proc = self._proc
            if proc is not None:
                proc.kill()
            self._thread.join(1.0)


class AudioTrack:
    """The whole session's audio for ``--audio-track``: cues at their stream times."""

    def __init__(self, path: str | Path, gap_s: float = 0.3) -> None:
        self.path = Path(path)
        self.gap_s = gap_s
        self.cues: list[tuple[float, str, np.ndarray]] = []  # (start on the track, text, pcm)
        self._end_s = 0.0
        self.duration_s = 0.0

    def check(self) -> None:
        if self.path.exists():
            raise InputError("already exists; refusing to overwrite", path=str(self.path))

    def add(self, t_s: float, text: str, pcm: np.ndarray) -> float:
        """Place a cue at ``t_s`` (later if the previous one is still sounding)."""
        start = max(t_s, self._end_s + self.gap_s) if self.cues else max(0.0, t_s)
        self.cues.append((start, text, pcm))
        self._end_s = start + len(pcm) / RATE_HZ
        return start

    def extend_to(self, t_s: float) -> None:
        self.duration_s = max(self.duration_s, t_s)

    def write(self) -> None:
        n = int(math.ceil(max(self.duration_s, self._end_s) * RATE_HZ)) + 1
        buf = np.zeros(n, np.int16)
        for start, _text, pcm in self.cues:
            i = int(round(start * RATE_HZ))
            buf[i : i + len(pcm)] = pcm[: max(0, n - i)]
        from imu_host.paths import create_exclusive

        with create_exclusive(self.path, "audio track") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE_HZ)
            w.writeframes(buf.astype("<i2").tobytes())


# --------------------------------------------------------------------- the coach


class Coach(NullSink):
    """Events -> cues (speech or tones) on the output and the track; see module doc."""

    def __init__(
        self,
        phrases: dict[str, np.ndarray],
        *,
        target: int | None = None,
        output: AudioOutput | None = None,
        track: AudioTrack | None = None,
        alternate: bool = True,
        settings: CoachSettings | None = None,
    ) -> None:
        self.settings = settings or CoachSettings()
        self.phrases = phrases
        self.target = target
        self.output = output
        self.track = track
        self.alternate = alternate  # the prescription alternates sides
        self.cues: list[Cue] = []
        self.engine = "tones"  # what rendered the phrases (for the summary)
        self._last_side: str | None = None
        self._complete = False

    @property
    def dropped(self) -> int:
        return self.output.dropped if self.output is not None else 0

    def say(self, texts: str | list[str], t_s: float) -> None:
        """One cue for one event: its phrases joined by a short pause (no rendering here:
        the pieces come from the book made at start; a missing one is its tone)."""
        parts = [texts] if isinstance(texts, str) else texts
        pause = np.zeros(int(self.settings.join_pause_s * RATE_HZ), np.int16)
        pcms: list[np.ndarray] = []
        for text in parts:
            pcm = self.phrases.get(text)
            pcms += [pause, pcm if pcm is not None else tone_for(text)]
        pcm = np.concatenate(pcms[1:]) if pcms else np.zeros(0, np.int16)
        cue = Cue(". ".join(parts), t_s, pcm)
        self.cues.append(cue)
        if self.track is not None:
            self.track.add(t_s, cue.text, pcm)
        if self.output is not None:
            self.output.submit(cue)

    def on_event(self, ev: object, state: LiveState) -> None:
        if isinstance(ev, PromptEvent):
            self.say(ev.phrase, ev.t_s)
        elif isinstance(ev, FlagEvent):
            phrase = FLAG_PHRASES.get(ev.kind)
            # form cues only after the first counted rep: before it the axis and centre
            # are still being learned, and steps on the way to the mat look like drops
            if phrase is not None and state.left + state.right > 0:
                self.say(phrase, ev.t_s)
        elif isinstance(ev, RepEvent):
            side = ev.rep.side
            n = state.left if side == "left" else state.right
            texts = [count_phrase(side, n, self.target)]
            if self.alternate and self._last_side == side:
                texts.append(SWITCH_SIDES)
            self._last_side = side
            tgt = self.target
            if tgt and not self._complete and state.left >= tgt and state.right >= tgt:
                self._complete = True
                texts.append(SET_COMPLETE)
            self.say(texts, ev.t_s)
        if self.track is not None:
            self.track.extend_to(state.t_s)

    def on_tick(self, state: LiveState) -> None:
        if self.track is not None:
            self.track.extend_to(state.t_s)

    def close(self) -> None:
        if self.output is not None:
            self.output.close()
        if self.track is not None:
            self.track.write()
