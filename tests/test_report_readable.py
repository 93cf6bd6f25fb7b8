"""Issue 14 "Reports people read": figure, words, settings, output folder, history plot."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from imu_host.core.events import Rep
from imu_host.errors import InputError
from imu_host.report.summary import figure_title
from imu_host.report.write import write_report

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgba  # noqa: E402

from imu_host.report.figure import session_figure  # noqa: E402


def mk(index, side, start, rom, descent=2.0, hold=1.0, ret=2.0, pd=30.0, pr=30.0, flags=()):
    end = start + descent + hold + ret
    return Rep(
        index, side, start, start + descent + hold / 2, end, rom, descent, hold, ret, pd, pr,
        tuple(flags),
    )  # fmt: skip


REPS = [mk(1, "left", 20.0, 40), mk(2, "right", 27.0, 36), mk(3, "left", 34.0, 42)]


def walk_then_reps():
    """A trace: 15 s of walking and getting down (swings to ±150°), then the three reps."""
    t = np.arange(0.0, 45.0, 0.02)
    y = np.where(t < 15.0, 150.0 * np.sin(2 * np.pi * 0.8 * t), 0.0)
    for r in REPS:
        sign = 1.0 if r.side == "left" else -1.0
        m = (t >= r.start_s) & (t <= r.end_s)
        y[m] = sign * r.rom_deg * np.sin(np.pi * (t[m] - r.start_s) / (r.end_s - r.start_s))
    return t, y


def _angle_axes(fig):
    return fig.axes[0]


# ------------------------------------------------------------------------ figure


def test_title_is_the_session_not_a_temp_path(tmp_path):
    rec = tmp_path / "tmp8x2k1" / "monday-morning.csv"
    meta = {"recording": str(rec), "started_at": "2026-03-02T08:15:00"}
    title = figure_title(meta, 95.0)
    assert "monday-morning.csv" in title
    assert str(tmp_path) not in title and "tmp8x2k1" not in title
    assert "2026" in title and "08:15" in title and "Mar" in title
    fig = session_figure(REPS, None, None, None, meta, title)
    assert fig._suptitle.get_text() == title


def test_hold_swatch_matches_the_hold_bands():
    t, y = walk_then_reps()
    ax = _angle_axes(session_figure(REPS, t, y, None, {}))
    leg = {h.get_label(): h for h in ax.get_legend().legend_handles}
    swatch = next(h for label, h in leg.items() if "hold" in label)
    holds = [p for p in ax.patches if np.allclose(p.get_facecolor(), swatch.get_facecolor())]
    assert len(holds) == len(REPS)  # one band per rep, exactly the legend's colour
    left = next(h for label, h in leg.items() if label == "rep to the left")
    bands = [p for p in ax.patches if np.allclose(p.get_facecolor(), left.get_facecolor())]
    assert bands, "the left-rep swatch matches no band"
    # bands never overlap (an overlap would blend into a colour no swatch shows)
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches)
    for (_a0, a1), (b0, _b1) in zip(spans, spans[1:], strict=False):
        assert b0 >= a1 - 1e-9


def _threshold_lines(fig):
    ax = fig.axes[2]
    return [ln for ln in ax.get_lines() if "limit" in ln.get_label()]


def test_fast_drop_and_fast_return_thresholds_are_distinguishable():
    fig = session_figure(REPS, None, None, None, {"fast_drop_dps": 90, "fast_return_dps": 120})
    a, b = _threshold_lines(fig)
    assert to_rgba(a.get_color()) != to_rgba(b.get_color())
    assert a.get_linestyle() != b.get_linestyle()
    assert "drop" in a.get_label() and "return" in b.get_label()
    # equal thresholds: one line that says it is both (not two lines drawn on each other)
    (one,) = _threshold_lines(
        session_figure(REPS, None, None, None, {"fast_drop_dps": 100, "fast_return_dps": 100})
    )
    assert "fast-drop and fast-return" in one.get_label()


def test_angle_axis_is_scaled_to_the_exercise_not_the_walk():
    t, y = walk_then_reps()
    ax = _angle_axes(session_figure(REPS, t, y, None, {}))
    lo, hi = ax.get_ylim()
    assert hi == pytest.approx(-lo)
    assert 42 < hi < 60  # deepest rep 42°: room for it, not for the 150° walk
    assert "cut at" in ax.get_ylabel()


def test_no_reps_gets_a_clear_page(tmp_path):
    t = np.arange(0.0, 30.0, 0.02)
    fig = session_figure([], t, 3.0 * np.sin(t), None, {})
    assert len(fig.axes) == 1
    texts = " ".join(x.get_text() for x in fig.axes[0].texts)
    assert "No reps were detected in this session." in texts
    p = write_report(tmp_path / "o", [], t, 3.0 * np.sin(t), [], {"duration_s": 30.0})
    md = p.markdown.read_text()
    assert "**No reps were detected in this session.**" in md
    assert "| Done |" not in md and "## Reps" not in md  # no empty tables


# ------------------------------------------------------------------------ summary.json


def _sim_recording(tmp_path: Path, name="rec.csv", scenario="fast_drops_mixed") -> Path:
    from imu_host.io.recording import write_recording
    from imu_host.sim.generate import simulate

    sim = simulate(scenario, 1)
    rec = tmp_path / name
    write_recording(
        rec, sim.samples, sim.sample_rate_hz, {"started_at": "2026-03-02T08:15:00+00:00"}
    )
    return rec


def run_cli(argv, capsys):
    from imu_host.cli.main import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_settings_used_are_stored_in_summary_json(tmp_path, capsys):
    rec = _sim_recording(tmp_path)
    out = tmp_path / "o"
    rc, _, err = run_cli(
        ["report", str(rec), "--out", str(out), "--no-save", "--fast-drop-dps", "80",
         "--fast-return-dps", "130", "--thigh-axis=-x"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    s = json.loads((out / "summary.json").read_text())
    det = s["settings"]["detector"]
    assert det["fast_drop_dps"] == 80 and det["fast_return_dps"] == 130
    assert s["settings"]["orientation"]["thigh_axis"] == "-x"
    md = (out / "report.md").read_text()
    assert "too fast down above 80°/s, too fast back above 130°/s" in md


# ------------------------------------------------------------------------ output folder


def test_default_folder_beside_a_writable_input(tmp_path, capsys, monkeypatch):
    rec = _sim_recording(tmp_path)
    monkeypatch.chdir(tmp_path)
    rc, out, err = run_cli(["report", str(rec), "--no-save"], capsys)
    assert rc == 0, err
    assert (tmp_path / "rec_report" / "report.md").is_file()
    assert "note" not in err


def test_default_folder_falls_back_to_cwd_when_input_folder_is_read_only(
    tmp_path, capsys, monkeypatch
):
    data = tmp_path / "shared"
    data.mkdir()
    rec = _sim_recording(data)
    data.chmod(0o555)  # a read-only data folder (like /work/shared/real)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    try:
        rc, out, err = run_cli(["report", str(rec), "--no-save"], capsys)
    finally:
        data.chmod(0o755)
    assert rc == 0, err
    assert (here / "rec_report" / "report.md").is_file()
    assert not (data / "rec_report").exists()
    notes = [ln for ln in err.splitlines() if ln.startswith("imu-host: note:")]
    assert len(notes) == 1 and "read-only" in notes[0] and str(here / "rec_report") in notes[0]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_default_folder_not_in_someone_elses_folder(tmp_path, capsys, monkeypatch):
    data = tmp_path / "theirs"
    data.mkdir()
    rec = _sim_recording(data)
    os.chown(data, 65534, 65534)  # another user's (shared) folder
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_cli(["report", str(rec), "--no-save"], capsys)
    assert rc == 0, err
    assert (tmp_path / "rec_report").is_dir() and not (data / "rec_report").exists()


# ------------------------------------------------------------------------ command line


def test_help_works_for_every_command(capsys):
    from imu_host.cli.main import COMMANDS, main

    for argv in (["--help"], ["-h"], *([c, "--help"] for c in COMMANDS)):
        with pytest.raises(SystemExit) as ei:
            main(list(argv))
        assert ei.value.code == 0, argv
    assert "history" in capsys.readouterr().out


# ------------------------------------------------------------------------ history plot


def _rows(tmp_path, starts, targets=None):
    from imu_host.history.store import HistoryDB

    with HistoryDB(tmp_path / "h.sqlite3") as db:
        for i, st in enumerate(starts):
            reps = [mk(1, "left", 0, 40 + i), mk(2, "right", 6, 30 + i, flags=["fast_drop"])]
            s = {"duration_s": 60.0, "reps": [r.to_dict() for r in reps]}
            if targets:
                s["target_per_side"] = targets[i]
            db.save_session(s, f"s{i}", st)
        return db.sessions()


def test_history_ticks_readable_when_sessions_fall_on_one_day(tmp_path, monkeypatch):
    from imu_host.history.export import session_labels

    monkeypatch.setenv("TZ", "UTC")
    if hasattr(__import__("time"), "tzset"):
        __import__("time").tzset()
    day = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    rows = _rows(tmp_path, [day, day + timedelta(hours=4), day + timedelta(hours=9)])
    labels = session_labels(rows)
    assert labels == ["04 Mar\n08:00", "04 Mar\n12:00", "04 Mar\n17:00"]
    assert len(set(labels)) == 3


def test_history_sessions_per_week(tmp_path, monkeypatch):
    from imu_host.history.export import sessions_per_week

    monkeypatch.setenv("TZ", "UTC")
    if hasattr(__import__("time"), "tzset"):
        __import__("time").tzset()
    # Mon 2 Mar, Wed 4 Mar, (no session the week of 9 Mar), Sun 22 Mar
    starts = [datetime(2026, 3, d, 9, 0, tzinfo=UTC) for d in (2, 4, 22)]
    weeks = sessions_per_week(_rows(tmp_path, starts))
    assert [(w.isoformat(), n) for w, n in weeks] == [
        ("2026-03-02", 2),
        ("2026-03-09", 0),
        ("2026-03-16", 1),
    ]


def test_history_plot_panels(tmp_path):
    from imu_host.history.export import plot_history

    day = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    rows = _rows(tmp_path, [day + timedelta(days=d) for d in (0, 0.2, 3, 9)], [6, 6, 8, 8])
    p = plot_history(rows, tmp_path / "trend.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rows[0].target_per_side == 6


@pytest.mark.slow
def test_report_command_prints_with_an_ascii_terminal(tmp_path):
    """PYTHONIOENCODING=ascii: the ° in the feedback must not crash the report."""
    import subprocess

    rec = _sim_recording(tmp_path, scenario="one_side_tighter")
    r = subprocess.run(
        [sys.executable, "-m", "imu_host", "report", str(rec), "--no-save",
         "--out", str(tmp_path / "o")],
        capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode("ascii", "replace")
    assert b"Traceback" not in r.stderr


def test_target_must_not_be_negative(tmp_path):
    with pytest.raises(InputError):
        write_report(tmp_path, REPS, None, None, None, None, target_per_side=-1)


def test_settings_object_is_stored_and_its_thresholds_shown(tmp_path):
    """replay/live can pass the pipeline's Settings as they are."""
    from imu_host.core.pipeline import Settings
    from imu_host.core.reps.detector import DetectorSettings

    st = Settings(detector=DetectorSettings(fast_drop_dps=85.0, fast_return_dps=140.0))
    p = write_report(tmp_path / "o", REPS, None, None, None, None, settings=st)
    s = json.loads(p.summary_json.read_text())
    assert s["settings"]["detector"]["fast_drop_dps"] == 85.0
    assert s["settings"]["detector"]["fast_return_dps"] == 140.0
    assert "too fast down above 85°/s, too fast back above 140°/s" in p.markdown.read_text()
