"""Two and three boards: alignment, knees-apart and shoulder-lift rules, recordings, CLI.

Ground truth is the multi-body simulator's labels (its per-rep separation, lag, trunk
roll and flags by design; its boards' true clocks), never this code's output.
``benchmarks/bench_multi.py`` prints the full-suite table; the slow test here holds a
slice of the same suite.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from imu_host.cli.main import main
from imu_host.core.events import FlagEvent, RepEvent
from imu_host.core.multi import (
    KNEES_APART,
    SHOULDER_LIFT,
    ArrivalClock,
    BoardEvent,
    MultiPipeline,
    MultiRepEvent,
    MultiSettings,
)
from imu_host.core.pipeline import Pipeline
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.multi import (
    MultiRecordingWriter,
    is_multi_recording,
    read_multi_recording,
    replay_multi,
)
from imu_host.live.multi import assign_roles, load_roles, save_roles
from imu_host.sim.multibody import (
    list_multi_scenarios,
    multi_suite,
    run_multi,
    score_multi,
    simulate_multi,
    write_session,
)

# whole-session simulations and replays: run by `pytest -m slow` (and CI), not by default
pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parent.parent / "recordings" / "multi"
FOLDERS = sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


def _prf(scores: list[dict], kind: str) -> tuple[float, float]:
    tp = sum(s[kind]["tp"] for s in scores)
    fp = sum(s[kind]["fp"] for s in scores)
    fn = sum(s[kind]["fn"] for s in scores)
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def _single_exact(sim) -> bool:
    """Whether the primary thigh alone (the single-board pipeline) counts exactly."""
    role = "left-thigh"
    p = Pipeline(sim.sample_rate_hz[role], True)
    p.feed(sim.samples[role])
    p.finish()
    return [r.side for r in p.reps] == [r["side"] for r in sim.truth["reps"]]


# ------------------------------------------------------------------ clock


def test_arrival_clock_recovers_offset_and_drift():
    """Arrivals = true host time of the frame + latency floor + exponential jitter: the
    lower-envelope fit recovers the device clock's offset and drift (physics of clocks)."""
    rng = np.random.default_rng(5)
    offset, drift, floor = 12.345, -300e-6, 0.004
    clock = ArrivalClock(MultiSettings())
    t_dev = np.arange(0.05, 120.0, 0.05)
    host = offset + t_dev / (1.0 + drift) + floor + rng.exponential(0.01, len(t_dev))
    for t, h in zip(t_dev, host, strict=True):
        clock.observe(float(t), float(h))
    est = clock.host(t_dev)
    true = offset + t_dev / (1.0 + drift) + floor
    assert np.max(np.abs(est - true)[len(t_dev) // 4 :]) < 0.003
    assert abs(clock.fit()[1] - (1 / (1 + drift) - 1)) < 20e-6


# ------------------------------------------------------------------ core rules


@pytest.fixture(scope="module")
def mixed():
    sim = simulate_multi("mixed_faults", 3)
    return sim, run_multi(sim)


def test_mixed_faults_flags_and_figures_match_truth(mixed):
    sim, mp = mixed
    sc = score_multi(sim, mp)
    assert sc["counts_ok"], sc
    for kind in (KNEES_APART, SHOULDER_LIFT):
        assert sc[kind]["fp"] == 0 and sc[kind]["fn"] == 0, (kind, sc[kind])
        assert sc[kind]["tp"] >= 1
    assert float(np.median(sc["separation_err_deg"])) <= 2.0
    assert float(np.median(sc["trunk_err_deg"])) <= 2.0
    assert max(sc["align_err_s"].values()) <= 0.010


def test_cues_come_during_the_rep_or_at_its_end(mixed):
    _, mp = mixed
    reps = [e for e in mp.events if isinstance(e, MultiRepEvent)]
    for kind in (KNEES_APART, SHOULDER_LIFT):
        cues = [e for e in mp.events if isinstance(e, FlagEvent) and e.kind == kind]
        flagged = [e.rep for e in reps if kind in e.rep.flags]
        assert len(cues) == len(flagged)
        for c, r in zip(cues, flagged, strict=True):
            assert r.start_s - 0.5 <= c.t_s <= r.end_s + 1e-6
            assert c.side == r.side


def test_summary_has_per_rep_figures_and_plain_feedback(mixed):
    sim, mp = mixed
    s = mp.summary()
    m = s["multi"]
    assert len(m["reps"]) == s["reps_total"] == len(sim.truth["reps"])
    for f in m["reps"]:
        assert set(f) >= {"separation_deg", "lag_s", "lagging", "trunk_roll_deg", "flags"}
    apart_side = sim.truth["apart_sides"][0]
    want = sum(r["knees_apart"] for r in sim.truth["reps"] if r["side"] == apart_side)
    assert m["per_side"][apart_side]["knees_apart"] == want
    assert any("keep the knees together" in line for line in m["feedback"])
    assert any("shoulders down" in line for line in m["feedback"])
    json.dumps(s)  # JSON-able


def test_lag_is_measured_on_lagging_reps():
    sim = simulate_multi("leg_lagging", 4)
    mp = run_multi(sim)
    sc = score_multi(sim, mp)
    assert sc["counts_ok"]
    assert sc[KNEES_APART]["fp"] == 0 and sc[KNEES_APART]["fn"] == 0
    assert float(np.median(sc["lag_err_s"])) < 0.05
    lagged = [f for f in mp.figures if (f["lag_s"] or 0) > 0.25]
    assert len(lagged) == sum(r["lag_s"] > 0 for r in sim.truth["reps"])


def _mirrored(s: Samples) -> Samples:
    """The board strapped upside down: rotated 180 deg about its z axis."""
    flip = np.array([-1.0, -1.0, 1.0])
    return Samples(s.t_s, s.accel_g * flip, None if s.gyro_dps is None else s.gyro_dps * flip)


@pytest.mark.slow
def test_other_thigh_strapped_any_way_round_gives_the_same_flags():
    sim = simulate_multi("knees_apart_one_side", 2)
    base = run_multi(sim)
    sim.samples["right-thigh"] = _mirrored(sim.samples["right-thigh"])
    flipped = run_multi(sim)
    assert [(r.side, r.flags) for r in flipped.reps] == [(r.side, r.flags) for r in base.reps]
    assert score_multi(sim, flipped)[KNEES_APART]["fn"] == 0


def test_a_board_dropping_out_degrades_the_session():
    sim = simulate_multi("board_dropout", 1)
    mp = run_multi(sim)
    drop = sim.truth["dropout"]
    ev = [e for e in mp.events if isinstance(e, BoardEvent)]
    assert [(e.role, e.state) for e in ev] == [(drop["role"], "dropped")]
    t_true = float(sim.host_time(mp.reference, np.array([ev[0].t_s]))[0])
    assert drop["t_s"] <= t_true <= drop["t_s"] + MultiSettings().dropout_s + 0.5
    assert drop["role"] not in ev[0].remaining
    after = [f for f, r in zip(mp.figures, mp.reps, strict=True) if r.start_s > ev[0].t_s]
    assert after and all(drop["role"] not in f["boards"] for f in after)
    assert score_multi(sim, mp)["counts_ok"]


def test_the_primary_dropping_out_hands_the_count_to_the_other_thigh():
    # knees apart on right reps: the left knee stays up, the right thigh alone counts all
    sim = simulate_multi("two_thighs", 3)
    assert sim.truth["apart_sides"] == ["right"]
    # the left thigh's stream ends after 55 % of the session
    left = sim.samples["left-thigh"]
    cut = int(0.55 * len(left))
    sim.samples["left-thigh"] = left.slice(0, cut)
    sim.feeds = [f for f in sim.feeds if f[0] != "left-thigh" or f[1] <= cut]
    mp = run_multi(sim)
    assert [(e.role, e.state) for e in mp.events if isinstance(e, BoardEvent)] == [
        ("left-thigh", "dropped")
    ]
    assert [r.side for r in mp.reps] == [r["side"] for r in sim.truth["reps"]]


def test_rules_need_their_boards():
    with pytest.raises(ValueError):
        MultiPipeline(("left-thigh", "elbow"))
    with pytest.raises(ValueError):
        MultiPipeline(("left-thigh", "left-thigh"))


# ------------------------------------------------------------------ suite (slice)


@pytest.mark.slow
def test_seeded_suite_slice_meets_the_goals():
    scores, single_exact = [], []
    for name, seed in multi_suite(2):
        sim = simulate_multi(name, seed)
        scores.append(score_multi(sim, run_multi(sim)))
        single_exact.append(_single_exact(sim))
    assert len(scores) >= 14
    multi_exact = [s["counts_ok"] for s in scores]
    # counts as exact as the single-board pipeline on the same thigh
    assert sum(multi_exact) >= sum(single_exact)
    assert all(m for m, s in zip(multi_exact, single_exact, strict=True) if s)
    for kind in (KNEES_APART, SHOULDER_LIFT):
        precision, recall = _prf(scores, kind)
        assert precision >= 0.95 and recall >= 0.95, (kind, precision, recall)
    sep = [e for s in scores for e in s["separation_err_deg"]]
    trunk = [e for s in scores for e in s["trunk_err_deg"]]
    assert float(np.median(sep)) <= 2.0 and float(np.median(trunk)) <= 2.0
    for role in ("right-thigh", "sternum"):  # every board, every session (issue 12)
        errs = [s["align_err_s"][role] for s in scores if role in s["align_err_s"]]
        assert max(errs) <= 0.010, (role, errs)


def test_every_scenario_is_in_the_suite():
    names = {n for n, _ in multi_suite(7)}
    assert names == set(list_multi_scenarios())
    assert len(multi_suite(7)) >= 40


# ------------------------------------------------------------------ recordings


def test_there_are_golden_multi_recordings():
    assert len(FOLDERS) >= 3
    for f in FOLDERS:
        assert is_multi_recording(f)
        assert Path(str(f) + ".truth.json").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_golden_multi_recording_matches_truth(folder):
    truth = json.loads(Path(str(folder) + ".truth.json").read_text())
    mp = replay_multi(read_multi_recording(folder))
    assert [r.side for r in mp.reps] == [r["side"] for r in truth["reps"]]
    drop = truth["dropout"]
    for f, t in zip(mp.figures, truth["reps"], strict=True):
        if f["separation_deg"] is not None:
            assert (KNEES_APART in f["flags"]) == t["knees_apart"], (f, t)
            assert abs(f["separation_deg"] - t["separation_deg"]) < 4.0
        elif drop is None or drop["role"] == "sternum":
            pytest.fail(f"rep {f['index']} has no separation with both thighs there")
        if f["trunk_roll_deg"] is not None:
            assert (SHOULDER_LIFT in f["flags"]) == t["shoulder_lift"], (f, t)


@pytest.mark.slow
def test_write_then_replay_is_deterministic(tmp_path):
    sim = simulate_multi("shoulder_lift_deep", 2, reps_per_side=2)
    write_session(sim, str(tmp_path / "s"))
    rec = read_multi_recording(tmp_path / "s")
    assert rec.feeds is not None and len(rec.feeds) == len(sim.feeds)
    a, b = replay_multi(rec), replay_multi(read_multi_recording(tmp_path / "s"))
    assert [e.to_dict() for e in a.events] == [e.to_dict() for e in b.events]
    assert sum(isinstance(e, RepEvent) for e in a.events) == len(sim.truth["reps"])


def test_folder_without_feeds_replays_from_the_manifest_clocks(tmp_path):
    sim = simulate_multi("knees_apart_one_side", 1, reps_per_side=2)
    write_session(sim, str(tmp_path / "s"))
    (tmp_path / "s" / "feeds.csv").unlink()
    mp = replay_multi(read_multi_recording(tmp_path / "s"))
    assert [r.side for r in mp.reps] == [r["side"] for r in sim.truth["reps"]]


def test_writer_never_reuses_a_folder(tmp_path):
    (tmp_path / "s").mkdir()
    with pytest.raises(InputError, match="refusing to overwrite"):
        MultiRecordingWriter(tmp_path / "s")


@pytest.mark.parametrize(
    "manifest, feeds, match",
    [
        ('{"format": "other"}', None, r"manifest.json, field 'format'"),
        ("{not json", None, r"manifest.json:1: not JSON"),
        (None, "role,samples,host_s\nelbow,5,1.0\n", r"feeds.csv:2, field 'role'"),
        (None, "role,samples,host_s\nleft-thigh,x,1.0\n", r"feeds.csv:2, field 'samples'"),
        (None, "role,samples,host_s\nleft-thigh,5,soon\n", r"feeds.csv:2, field 'host_s'"),
        (None, "role,samples,host_s\nleft-thigh,999999,1.0\n", r"feeds.csv:2, field 'samples'"),
    ],
)
def test_bad_folders_give_one_line(tmp_path, manifest, feeds, match):
    sim = simulate_multi("two_thighs", 2, reps_per_side=2)
    write_session(sim, str(tmp_path / "s"))
    if manifest is not None:
        (tmp_path / "s" / "manifest.json").write_text(manifest)
    if feeds is not None:
        (tmp_path / "s" / "feeds.csv").write_text(feeds)
    with pytest.raises(InputError, match=match) as err:
        read_multi_recording(tmp_path / "s")
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ roles and CLI


def test_roles_given_or_remembered(tmp_path):
    path = tmp_path / "boards.json"
    assert load_roles(path) == {}
    ids = ["serial:/dev/a", "serial:/dev/b"]
    assert assign_roles(ids, ["right-thigh", "left-thigh"], {}) == ["right-thigh", "left-thigh"]
    save_roles({"serial:/dev/a": "right-thigh", "serial:/dev/b": "left-thigh"}, path)
    assert assign_roles(ids, [], load_roles(path)) == ["right-thigh", "left-thigh"]
    with pytest.raises(InputError, match="has no role"):
        assign_roles(["serial:/dev/c"], [], load_roles(path))
    with pytest.raises(InputError, match="two boards have the role left-thigh"):
        assign_roles(ids, ["left-thigh", "left-thigh"], {})
    path.write_text('{"serial:/dev/a": "elbow"}')
    with pytest.raises(InputError, match="boards.json"):
        load_roles(path)


@pytest.mark.slow
def test_cli_replay_of_a_folder(capsys):
    folder = FOLDERS[0]
    assert main(["replay", str(folder), "--json", "--no-save"]) == 0
    s = json.loads(capsys.readouterr().out)
    truth = json.loads(Path(str(folder) + ".truth.json").read_text())
    assert s["reps_total"] == len(truth["reps"])
    assert len(s["multi"]["reps"]) == s["reps_total"]
    assert main(["replay", str(folder), "--no-save"]) == 0
    text = capsys.readouterr().out
    assert "apart°" in text and "reps:" in text


def test_cli_live_with_two_boards_dispatches_and_fails_in_one_line(tmp_path, capsys):
    rc = main(["live", "--serial", str(tmp_path / "nope1"), "--serial", str(tmp_path / "nope2"),
               "--role", "left-thigh", "--role", "right-thigh", "--no-save", "--lines",
               "--record", str(tmp_path / "rec")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("imu-host: error: cannot connect to serial") and err.count("\n") == 1
    assert not (tmp_path / "rec").exists()  # nothing created for a session that never ran


def test_cli_live_names_a_missing_port_in_one_line(tmp_path, capsys):
    """Board ids (and so the stored roles) come from the boards themselves, so a port
    that is not there is the first thing said (the role check, once the boards are
    identified: tests/test_multi_live.py::test_cli_live_needs_a_role_per_unknown_board)."""
    rc = main(["live", "--serial", str(tmp_path / "a"), "--serial", str(tmp_path / "b"),
               "--no-record"])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(tmp_path / "a") in err
    assert "Traceback" not in err


def test_nan_free_figures_are_json_numbers(mixed):
    _, mp = mixed
    for f in mp.figures:
        for k in ("separation_deg", "lag_s", "trunk_roll_deg"):
            assert f[k] is None or math.isfinite(f[k])


@pytest.mark.slow
def test_a_board_that_pauses_is_dropped_then_back():
    """The sternum's link is out for 5 s (its clock runs on: the samples of the outage are
    missing, as after a pulled and re-plugged cable)."""
    sim = simulate_multi("shoulder_lift_deep", 3)
    s = sim.samples["sternum"]
    t_host = sim.host_time("sternum", s.t_s)
    out0, out1 = 30.0, 35.0
    keep = (t_host < out0) | (t_host >= out1)
    idx = np.flatnonzero(keep)
    sim.samples["sternum"] = Samples(s.t_s[keep], s.accel_g[keep], s.gyro_dps[keep])
    new_count = np.searchsorted(idx, np.arange(len(s) + 1))  # old count -> new count
    feeds, last_end = [], 0
    for role, end, host in sim.feeds:
        if role == "sternum":
            end = int(new_count[end])
            if end == last_end:  # nothing of this read arrived: the link was out
                continue
            last_end = end
        feeds.append((role, end, host))
    sim.feeds = feeds
    mp = run_multi(sim)
    changes = [e for e in mp.events if isinstance(e, BoardEvent)]
    assert [(e.role, e.state) for e in changes] == [("sternum", "dropped"), ("sternum", "back")]
    ref = mp.reference
    t_drop, t_back = (float(sim.host_time(ref, np.array([e.t_s]))[0]) for e in changes)
    assert out0 < t_drop <= out0 + MultiSettings().dropout_s + 0.5
    assert out1 <= t_back <= out1 + 0.5
    assert changes[1].remaining == ("left-thigh", "right-thigh", "sternum")
    assert score_multi(sim, mp)["counts_ok"]


@pytest.mark.slow
def test_angles_read_from_the_public_trace_give_the_same_events(monkeypatch):
    """core/multi reads each pipeline's angle trace block by block; without those lists it
    falls back to Pipeline.angle_trace() (public): the events must not change."""
    import imu_host.core.multi as multi

    sim = simulate_multi("mixed_faults", 3, reps_per_side=2)
    direct = run_multi(sim)

    class Hidden:  # a pipeline whose detector does not expose per-block trace lists
        pass

    real = multi._Board._read_trace

    def read(self):  # noqa: ANN001, ANN202
        det = self.pipeline._det
        self.pipeline._det = Hidden()
        try:
            self.pipeline.angle_trace = lambda det=det: _trace(det)
            real(self)
        finally:
            self.pipeline._det = det

    def _trace(det):  # noqa: ANN001, ANN202
        if not det.trace_t:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(det.trace_t), np.concatenate(det.trace_deg)

    monkeypatch.setattr(multi._Board, "_read_trace", read)
    fallback = run_multi(sim)
    assert [e.to_dict() for e in fallback.events] == [e.to_dict() for e in direct.events]
    assert len(fallback.reps) == len(sim.truth["reps"])
