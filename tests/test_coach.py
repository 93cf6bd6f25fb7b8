"""The coach: phrases rendered once, cue timing on the audio track, tones without an
engine, the bounded audio queue, --quiet, and the pacing guide.

Truth: the simulator's labels (``simulate('walk_sit_lie')``: the walk to the mat and
the reps; the demo motion script's reps and fast drop) and the WAV samples themselves,
measured with numpy (and cross-checked with sox where installed); never the coach's own
bookkeeping alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import wave

import numpy as np
import pytest

from imu_host.core.events import FAST_DROP, FlagEvent, RepEvent
from imu_host.core.pipeline import Pipeline
from imu_host.errors import InputError
from imu_host.live import coach as coach_mod
from imu_host.live.coach import (
    RATE_HZ,
    SET_COMPLETE,
    SLOWER,
    SWITCH_SIDES,
    AudioOutput,
    AudioTrack,
    Coach,
    CoachSettings,
    Cue,
    count_phrase,
    phrases_for,
    render_phrases,
)
from imu_host.live.pace import PACE_BACK, PACE_HOLD, PACE_INHALE, PACE_LOWER, Pace, PaceGuide
from imu_host.live.view import LiveState
from imu_host.sim import board as sim_board
from imu_host.sim.generate import simulate

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed (apt-get install espeak-ng)")  # fmt: skip
TOL_S = 0.150  # the issue: a cue within 150 ms of its event
SILENCE_S = 0.25  # sound separated by at least this much silence is a new onset


def onsets(path, level: int = 300) -> list[float]:
    """Start times (s) of sounds in a WAV file, measured on its samples."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    loud = np.nonzero(np.abs(x.astype(np.int32)) > level)[0]
    if len(loud) == 0:
        return []
    starts = [loud[0]] + [
        b for a, b in zip(loud[:-1], loud[1:], strict=True) if b - a > SILENCE_S * rate
    ]
    return [i / rate for i in starts]


def run_coach(samples, rate_hz, coach: Coach, chunk: int = 10):
    """Stream samples through the pipeline in chunks; events go to the coach as live."""
    pipe = Pipeline(rate_hz, samples.gyro_dps is not None)
    st = LiveState(learning=True)
    events = []
    for i in range(0, len(samples), chunk):
        block = samples.slice(i, i + chunk)
        st.t_s = float(block.t_s[-1])
        st.learning = pipe.centre_deg is None
        for ev in pipe.feed(block):
            if isinstance(ev, RepEvent):
                st.left += ev.rep.side == "left"
                st.right += ev.rep.side == "right"
            events.append(ev)
            coach.on_event(ev, st)
        coach.on_tick(st)
    for ev in pipe.finish():
        events.append(ev)
        coach.on_event(ev, st)
    return events


@pytest.fixture(scope="module")
def walk():
    return simulate("walk_sit_lie", 0)


@pytest.fixture(scope="module")
def espeak_book():
    if ESPEAK is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    book, engine = render_phrases(phrases_for(8, CoachSettings(), pace=True), "espeak-ng")
    assert engine == "espeak-ng"
    return book


@needs_espeak
def test_phrases_are_rendered_once_at_start_never_per_event(monkeypatch, walk):
    calls = []
    real = subprocess.run

    def counting(cmd, *a, **k):
        calls.append(cmd[-1])
        return real(cmd, *a, **k)

    monkeypatch.setattr(coach_mod.subprocess, "run", counting)
    texts = phrases_for(8, CoachSettings(), pace=False)
    book, _ = render_phrases(texts, "espeak-ng")
    assert sorted(calls) == sorted(set(texts))  # each phrase exactly once
    assert count_phrase("left", 3, 8) == "left, 3 of 8" and "left, 3 of 8" in book

    def forbidden(*a, **k):
        raise AssertionError("rendered during the session")

    monkeypatch.setattr(coach_mod.subprocess, "run", forbidden)
    monkeypatch.setattr(coach_mod.subprocess, "Popen", forbidden)
    c = Coach(book, target=8)
    run_coach(walk.samples, walk.sample_rate_hz, c)
    assert len(c.cues) == len(walk.truth["reps"])  # a count per rep, spoken from the book


@needs_espeak
def test_audio_track_cues_at_their_events_nothing_while_walking(tmp_path, walk, espeak_book):
    path = tmp_path / "walk.wav"
    c = Coach(espeak_book, target=4, track=AudioTrack(path, CoachSettings().track_gap_s))
    events = run_coach(walk.samples, walk.sample_rate_hz, c)
    c.close()
    got = onsets(path)
    # one onset per cue, each within 150 ms of its event
    assert len(got) == len(c.cues)
    for on, cue in zip(got, c.cues, strict=True):
        assert abs(on - cue.t_s) <= TOL_S, (cue.text, on, cue.t_s)
    # the truth: nothing spoken on the walk to the mat (and the detector flags nothing
    # there: no fast-drop cue while walking or getting down)
    walk_end = walk.truth["no_rep_segments"][0][1]
    assert not any(isinstance(e, FlagEvent) and e.t_s < walk_end for e in events)
    assert all(on > walk_end for on in got)
    # a count for every true rep, soon after it came back to centre, in order
    reps = walk.truth["reps"]
    counts = [cue for cue in c.cues if cue.text.startswith(("left", "right"))]
    assert [cue.text.split(",")[0] for cue in counts] == [r["side"] for r in reps]
    for cue, r in zip(counts, reps, strict=True):
        assert r["peak_s"] < cue.t_s < r["end_s"] + 1.0
    # the 4th rep of the later side completes the set: said with that count, once
    done = [cue.text for cue in c.cues if SET_COMPLETE in cue.text]
    assert done == [f"{reps[7]['side']}, 4 of 4. {SET_COMPLETE}"]
    with wave.open(str(path)) as w:  # the whole session, silence between
        assert w.getnframes() / w.getframerate() >= walk.truth["duration_s"] - 0.5
    if shutil.which("sox"):
        stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
        lines = dict(ln.split(":", 1) for ln in stat.stderr.splitlines() if ":" in ln)
        assert float(lines["Length (seconds)"]) >= walk.truth["duration_s"] - 0.5
        assert float(lines["Maximum amplitude"]) > 0.1  # speech, not silence


@needs_espeak
def test_slower_is_said_while_the_knees_are_still_falling(tmp_path, espeak_book):
    truth = sim_board.script_truth()
    acc, gyr = sim_board.script_samples()
    from imu_host.core.samples import Samples

    s = Samples(np.arange(len(acc)) / 100.0, acc, gyr)
    path = tmp_path / "demo.wav"
    c = Coach(espeak_book, target=8, track=AudioTrack(path))
    run_coach(s, 100.0, c)
    c.close()
    fast = [r for r in truth["reps"] if r["fast"]]
    slower = [cue for cue in c.cues if cue.text == SLOWER]
    assert len(slower) == len(fast) == 1
    on = min(onsets(path), key=lambda t: abs(t - slower[0].t_s))
    assert fast[0]["start_s"] <= on <= fast[0]["peak_s"] + TOL_S
    # "switch sides" exactly on the reps that repeat the previous rep's side
    sides = [r["side"] for r in truth["reps"]]
    repeats = [b == a for a, b in zip([None, *sides], sides, strict=False)]
    counts = [cue for cue in c.cues if cue.text.startswith(("left", "right"))]
    assert [SWITCH_SIDES in cue.text for cue in counts] == repeats


def test_tones_when_no_engine_are_distinct_per_cue_kind(tmp_path, walk):
    book, engine = render_phrases(phrases_for(8, CoachSettings(), pace=True), "tones")
    assert engine == "tones"
    kinds = [count_phrase("left", 1, 8), count_phrase("right", 1, 8), SLOWER,
             "control the return", "no bouncing", SWITCH_SIDES, SET_COMPLETE,
             PACE_LOWER, PACE_HOLD, PACE_BACK, PACE_INHALE]  # fmt: skip
    pcms = [book[k] for k in kinds]
    for i in range(len(pcms)):
        for j in range(i + 1, len(pcms)):
            a, b = pcms[i], pcms[j]
            assert len(a) != len(b) or not np.array_equal(a, b), (kinds[i], kinds[j])
    path = tmp_path / "tones.wav"
    c = Coach(book, target=8, track=AudioTrack(path))
    run_coach(walk.samples, walk.sample_rate_hz, c)
    c.close()
    got = onsets(path)
    assert len(got) == len(c.cues) == len(walk.truth["reps"])
    assert all(abs(on - cue.t_s) <= TOL_S for on, cue in zip(got, c.cues, strict=True))


def test_auto_engine_falls_back_to_tones(monkeypatch):
    monkeypatch.setattr(coach_mod.shutil, "which", lambda name: None)
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert coach_mod.pick_engine("auto") == "tones"
    with pytest.raises(InputError, match="not installed"):
        coach_mod.pick_engine("espeak-ng")


def test_a_stuck_speaker_drops_cues_and_never_blocks():
    release = threading.Event()
    started = threading.Event()

    def stuck(cue: Cue) -> None:  # the audio device takes forever with the first cue
        started.set()
        release.wait(10)

    out = AudioOutput("none", queue_cues=4, on_handed=stuck)
    pcm = np.ones(100, np.int16)
    assert out.submit(Cue("first", 0.0, pcm))
    assert started.wait(5)
    results = [out.submit(Cue(f"c{i}", float(i), pcm)) for i in range(50)]
    assert results.count(True) == 4 and out.dropped == 46  # queue of 4, the rest counted
    release.set()
    out.close()
    assert out.played == 5


def test_counting_is_not_held_up_by_a_stuck_speaker(walk):
    """The whole walk_sit_lie session through a LiveSession whose coach can't play:
    every true rep is counted, the cues beyond the queue are dropped and counted."""
    from imu_host.live.session import LiveOptions, LiveSession
    from imu_host.transport.base import Transport

    class Null(Transport):
        description = "null"

        def open(self) -> None: ...
        def read(self, timeout: float) -> bytes: return b""  # fmt: skip

        def write(self, data: bytes) -> None: ...
        def close(self) -> None: ...

    release = threading.Event()
    out = AudioOutput("none", queue_cues=2, on_handed=lambda cue: release.wait(30))
    book, _ = render_phrases(phrases_for(8, CoachSettings(), pace=False), "tones")
    c = Coach(book, target=8, output=out)
    import io

    s = LiveSession(Null(), LiveOptions(mode="lines", quiet=True), out=io.StringIO(), sinks=[c])
    board = sim_board.SimulatedBoard(None, walk.samples.accel_g, walk.samples.gyro_dps)
    from imu_host.protocol.frames import encode_samples

    s.feed_bytes(board.info_bytes(True))
    cnt = board.counts
    for i in range(0, len(cnt), 5):
        s.feed_bytes(encode_samples(i, 1000 + i * 10_000, 10_000, cnt[i : i + 5]))
    s.finish()
    left, right = s.reps_per_side()
    assert (left, right) == (walk.truth["reps_left"], walk.truth["reps_right"])
    assert s.quality.samples == len(walk.samples)
    assert out.dropped == len(c.cues) - 1 - 2  # one stuck in the device, two queued
    release.set()
    out.close()


def test_pace_parsing():
    assert Pace.parse("3,2,3") == Pace(3.0, 2.0, 3.0)
    b = Pace.parse("breaths")
    assert b.mode == "breaths" and b.down_s == Pace.BREATH_S
    for bad in ("3,2", "a,b,c", "3,-1,3", "3,2,3,4", ""):
        with pytest.raises(InputError, match="--pace"):
            Pace.parse(bad)


def test_pace_guide_prompts_in_order_alternating_sides():
    g = PaceGuide(Pace(3, 2, 3, 2), target=2)
    st = LiveState(learning=True)
    assert g.update(0.0, st) is None  # nothing while the axis is being learned
    st.learning = False
    said = []
    for k in range(0, 400):
        t = 1.0 + k * 0.1
        phrase = g.update(t, st)
        if phrase is not None:
            said.append((round(t - 1.0, 1), phrase, g.prompt))
    want_phrases = [PACE_LOWER, PACE_HOLD, PACE_BACK, PACE_INHALE] * 4
    assert [p for _, p, _ in said[:16]] == want_phrases
    assert [when for when, _, _ in said[:5]] == [0.0, 3.0, 5.0, 8.0, 10.0]  # 3 s, 2 s, 3 s, 2 s
    lowers = [text for _, p, text in said if p == PACE_LOWER]
    assert lowers[:4] == ["exhale and lower (left)", "exhale and lower (right)"] * 2
    st.left = st.right = 2  # the prescription is done: no more prompts
    assert g.update(100.0, st) is None and g.prompt == ""


# ---------------------------------------------------------------- the CLI end to end


def run_cli(args, tmp_path, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ, IMU_HOST_RECORDINGS=str(tmp_path / "recs"))
    return subprocess.run(
        [sys.executable, "-m", "imu_host.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path,
    )  # fmt: skip


@needs_espeak
@pytest.mark.slow
def test_demo_audio_track_onsets_match_its_events(tmp_path):
    track = tmp_path / "demo.wav"
    r = run_cli(["demo", "--fast", "--board", "in-process", "--json-events", "--no-record",
                 "--quiet", "--target", "8", "--audio-track", str(track)], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "\a" not in r.stdout + r.stderr
    objs = [json.loads(x) for x in r.stdout.splitlines()]
    events = [o for o in objs if o["event"] in ("rep", "flag")]
    got = onsets(track)
    assert len(got) == len(events)  # one per cue: a count per rep, "slower" per fast drop
    for on, ev in zip(got, events, strict=True):
        assert abs(on - ev["t_s"]) <= TOL_S
    truth = sim_board.script_truth()
    assert sum(o["event"] == "rep" for o in events) == len(truth["reps"])
    summary = next(o for o in objs if o["event"] == "summary")
    c = summary["live"]["coach"]
    assert c["cues"] == len(events) and c["player"] == "silent (--quiet)"
    assert c["engine"] == "espeak-ng" and c["dropped"] == 0


@pytest.mark.slow
def test_demo_pace_guide_prompts_and_summary(tmp_path):
    r = run_cli(["demo", "--fast", "--board", "in-process", "--json-events",
                 "--quiet", "--pace", "1,1.5,2", "--report", "rep"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    objs = [json.loads(x) for x in r.stdout.splitlines()]
    prompts = [o["prompt"] for o in objs if o["event"] == "prompt"]
    assert prompts[:4] == ["exhale and lower (left)", "hold, breathe", "back to centre", "inhale"]
    summary = next(o for o in objs if o["event"] == "summary")
    assert summary["pace"]["guide"]["down_s"] == 1.0
    reps = [o for o in objs if o["event"] == "rep"]
    fast = [o for o in reps if FAST_DROP in o["flags"]]
    assert fast and all(o["descent_s"] < 1.0 for o in fast)  # faster than the guide: flagged
    assert summary["pace"]["achieved"]["descent"] is not None
    truth = sim_board.script_truth()
    # the script lowers over 2.2-2.6 s, except the fast drop (0.4 s): one rep beats 1 s
    assert summary["pace"]["reps_faster_down"] == len(truth["fast_reps"])
    saved = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert saved["pace"]["guide"] == summary["pace"]["guide"]  # the report records it


@pytest.mark.slow
def test_quiet_demo_has_no_coach(tmp_path):
    r = run_cli(["demo", "--fast", "--board", "in-process", "--no-record", "--quiet",
                 "--lines"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "coach:" not in r.stderr + r.stdout and "\a" not in r.stdout


@pytest.mark.slow
def test_existing_audio_track_is_refused(tmp_path):
    (tmp_path / "keep.wav").write_bytes(b"precious")
    r = run_cli(["demo", "--fast", "--no-record", "--audio-track", "keep.wav"], tmp_path)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert (tmp_path / "keep.wav").read_bytes() == b"precious"
    assert RATE_HZ == 22050


def test_without_a_raw_player_cues_play_one_file_each(tmp_path, monkeypatch):
    """macOS has no raw-PCM player: each cue goes to ``afplay FILE.wav`` (a stand-in
    here that keeps the file), the whole cue, in order."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "afplay"
    fake.write_text(
        f'#!/bin/sh\n/bin/cp "$1" "{tmp_path}/played-$(/bin/ls {tmp_path} | /usr/bin/wc -l).wav"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    out = AudioOutput("auto")
    assert out.player_cmd is None and out.per_cue == "afplay"
    pcms = [coach_mod.tone_for(SLOWER), coach_mod.tone_for(SET_COMPLETE)]
    for i, pcm in enumerate(pcms):
        assert out.submit(Cue(f"c{i}", float(i), pcm))
    out.close()
    played = sorted(tmp_path.glob("played-*.wav"))
    assert len(played) == 2 and out.device == "afplay"
    for path, pcm in zip(played, pcms, strict=True):
        with wave.open(str(path)) as w:
            assert w.getframerate() == RATE_HZ
            got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert np.array_equal(got, pcm)


def test_form_cues_before_the_first_counted_rep_are_not_spoken():
    """The coach's own guard (form cues start after the first counted rep): a fast-drop
    flag before any rep (e.g. getting down on the mat) is not spoken, one after is."""
    book, _ = render_phrases(phrases_for(4, CoachSettings(), pace=False), "tones")
    c = Coach(book, target=4)
    c.on_event(FlagEvent(1.0, FAST_DROP, "left", 250.0), LiveState(learning=False))
    assert SLOWER not in [cue.text for cue in c.cues]
    c.on_event(FlagEvent(9.0, FAST_DROP, "left", 250.0), LiveState(left=1, learning=False))
    c.close()
    assert [cue.text for cue in c.cues].count(SLOWER) == 1
