"""Session report: numbers against hand-computed values, files, figure, feedback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imu_host.core.events import FlagEvent, Rep
from imu_host.core.stats import session_stats
from imu_host.errors import InputError
from imu_host.report.summary import flag_marks, rep_phases, reps_from_dicts
from imu_host.report.text import feedback_lines
from imu_host.report.write import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def mk(index, side, start, rom, descent, hold, ret, pd, pr, flags=()):
    """A rep with consistent times: start -> descent -> hold -> return -> end."""
    end = start + descent + hold + ret
    return Rep(
        index,
        side,
        start,
        start + descent + hold / 2,
        end,
        rom,
        descent,
        hold,
        ret,
        pd,
        pr,
        tuple(flags),
    )


# Known truth, computed by hand (see the comments below, not the code under test).
#   left ROM 40, 44, 48, 36 -> mean 42, max 48; right 30, 33, 27 -> mean 30, max 33
#   asymmetry = (42 - 30) / 42 = 28.57 % (right smaller)
#   clean: reps 1, 2, 5 -> 3 of 7 (42.86 %); flagged 4; fast drops 2 (both left)
#   tempo medians  left: descent (0.8+2.0)/2 = 1.4, hold (0.5+1.0)/2 = 0.75,
#                        return (2.0+2.2)/2 = 2.1
#                  right: descent 2.6, hold 1.2, return 2.6
#                  all: descent 2.2, hold 1.0, return 2.2
SESSION = [
    mk(1, "left", 1.0, 40, 2.0, 1.0, 2.0, 30, 28),
    mk(2, "right", 8.0, 30, 2.2, 1.2, 2.6, 28, 25),
    mk(3, "left", 15.0, 44, 0.8, 0.5, 2.2, 120, 30, ["fast_drop"]),
    mk(4, "right", 20.0, 33, 2.6, 0.8, 0.7, 30, 125, ["fast_return"]),
    mk(5, "left", 26.0, 48, 2.4, 1.5, 2.4, 35, 31),
    mk(6, "right", 34.0, 27, 3.0, 2.0, 3.0, 20, 20, ["partial"]),
    mk(7, "left", 44.0, 36, 0.6, 0.0, 1.0, 140, 110, ["fast_drop", "bounce", "fast_return"]),
]
TRUE_DURATION = 48.0


def trace_for(reps, t_end, fs=50.0):
    """An independent smooth angle trace (raised-cosine descent/return) for the reps."""
    t = np.arange(0.0, t_end, 1 / fs)
    y = np.zeros_like(t)
    for r in reps:
        sign = 1.0 if r.side == "left" else -1.0
        d_end, r_start = r.start_s + r.descent_s, r.end_s - r.return_s
        m = (t >= r.start_s) & (t < d_end)
        y[m] = sign * r.rom_deg * (1 - np.cos(np.pi * (t[m] - r.start_s) / r.descent_s)) / 2
        y[(t >= d_end) & (t < r_start)] = sign * r.rom_deg
        m = (t >= r_start) & (t < r.end_s)
        y[m] = sign * r.rom_deg * (1 + np.cos(np.pi * (t[m] - r_start) / r.return_s)) / 2
    return t, y


# ------------------------------------------------------------------------ numbers


def test_counts_and_clean_pct():
    st = session_stats(SESSION, target_per_side=5)
    assert st["reps_total"] == 7
    assert st["sides"]["left"]["done"] == 4 and st["sides"]["right"]["done"] == 3
    assert st["clean_reps"] == 3 and st["flagged_reps"] == 4
    assert st["clean_pct"] == pytest.approx(300 / 7)
    assert st["sides"]["left"]["clean"] == 2 and st["sides"]["right"]["clean"] == 1
    assert st["fast_drops"] == 2 and st["fast_drop_rate"] == pytest.approx(2 / 7)
    assert st["sides"]["left"]["flags"] == {
        "fast_drop": 2,
        "bounce": 1,
        "fast_return": 1,
        "partial": 0,
    }
    assert st["sides"]["right"]["flags"] == {
        "fast_drop": 0,
        "bounce": 0,
        "fast_return": 1,
        "partial": 1,
    }
    assert st["sides"]["left"]["target"] == 5 and st["sides"]["right"]["target"] == 5


def test_rom_and_asymmetry():
    st = session_stats(SESSION)
    assert st["sides"]["left"]["rom_mean_deg"] == pytest.approx(42.0)
    assert st["sides"]["right"]["rom_mean_deg"] == pytest.approx(30.0)
    assert st["sides"]["left"]["rom_max_deg"] == 48
    assert st["sides"]["right"]["rom_max_deg"] == 33
    assert st["asymmetry_pct"] == pytest.approx(100 * 12 / 42)
    assert st["smaller_side"] == "right"


def test_tempo_medians():
    st = session_stats(SESSION)
    assert st["sides"]["left"]["tempo_median_s"] == pytest.approx(
        {"descent": 1.4, "hold": 0.75, "return": 2.1}
    )
    assert st["sides"]["right"]["tempo_median_s"] == pytest.approx(
        {"descent": 2.6, "hold": 1.2, "return": 2.6}
    )
    assert st["tempo_median_s"] == pytest.approx({"descent": 2.2, "hold": 1.0, "return": 2.2})


def test_peak_speed_per_side():
    st = session_stats(SESSION)
    assert st["sides"]["left"]["peak_descent_dps_max"] == 140
    assert st["sides"]["left"]["peak_descent_dps_median"] == pytest.approx((35 + 120) / 2)
    assert st["sides"]["right"]["peak_return_dps_max"] == 125


def test_one_side_only_has_no_asymmetry():
    st = session_stats([r for r in SESSION if r.side == "left"])
    assert st["asymmetry_pct"] is None
    assert st["sides"]["right"]["done"] == 0
    assert st["sides"]["right"]["rom_mean_deg"] is None
    assert st["sides"]["right"]["tempo_median_s"]["descent"] is None


def test_per_side_targets_mapping():
    st = session_stats(SESSION, {"left": 4, "right": 6})
    assert st["sides"]["left"]["target"] == 4 and st["sides"]["right"]["target"] == 6


# ------------------------------------------------------------------------ feedback


def test_feedback_lines_with_counts():
    lines = feedback_lines(session_stats(SESSION, target_per_side=5))
    expected = [
        "4 of 5 prescribed reps to the left were done: 1 still to do.",
        "3 of 5 prescribed reps to the right were done: 2 still to do.",
        "2 of 4 drops to the left were too fast: lower the knees over 2-3 s.",
        "1 of 4 reps to the left bounced at the end: pause at the end instead of pushing further.",
        "1 of 4 returns from the left was too fast: bring the knees back over 2-3 s.",
        "1 of 3 returns from the right was too fast: bring the knees back over 2-3 s.",
    ]
    for e in expected:
        assert e in lines
    assert any(line.startswith("1 of 3 reps to the right was partial") for line in lines)
    assert any(
        line.startswith("Right side range is 29% smaller than left (30° vs 42°") for line in lines
    )
    # one line per fault type and side seen, none for faults not seen
    assert not any("drops to the right" in line for line in lines)
    assert not any("bounced" in line and "right" in line for line in lines)
    assert not any("All" in line and "clean" in line for line in lines)
    # 2 prescribed + 3 left faults + 2 right faults + asymmetry
    assert len(lines) == 8


def test_feedback_all_clean_and_symmetric():
    reps = [mk(1, "left", 0, 40, 2, 1, 2, 30, 30), mk(2, "right", 6, 36, 2, 1, 2, 30, 30)]
    # asymmetry 10 %: no line
    lines = feedback_lines(session_stats(reps, target_per_side=1))
    assert lines == [
        "All prescribed reps were done: 1 to each side.",
        "All 2 reps were clean: smooth and controlled. Keep it up.",
    ]
    assert feedback_lines(session_stats(reps))[0].startswith("All 2 reps were clean")


def test_feedback_asymmetry_threshold():
    at_20 = [mk(1, "left", 0, 50, 2, 1, 2, 30, 30), mk(2, "right", 6, 40, 2, 1, 2, 30, 30)]
    assert not any("smaller" in line for line in feedback_lines(session_stats(at_20)))
    over = [mk(1, "left", 0, 26, 2, 1, 2, 30, 30), mk(2, "right", 6, 40, 2, 1, 2, 30, 30)]
    lines = feedback_lines(session_stats(over))
    assert any(line.startswith("Left side range is 35% smaller than right") for line in lines)


def test_feedback_no_reps_and_over_target():
    assert feedback_lines(session_stats([])) == ["No reps were detected in this session."]
    reps = [mk(i, "left", 6 * i, 40, 2, 1, 2, 30, 30) for i in range(1, 4)]
    lines = feedback_lines(session_stats(reps, target_per_side=2))
    assert (
        "3 reps to the left were done, 2 were prescribed: stop at the prescribed number." in lines
    )
    assert "0 of 2 prescribed reps to the right were done: 2 still to do." in lines


# ------------------------------------------------------------------------ phases / marks


def test_rep_phases():
    ph = rep_phases(SESSION[2])  # start 15.0, descent 0.8, hold 0.5, return 2.2
    assert ph == {
        "descent": {"start_s": 15.0, "end_s": 15.8},
        "hold": {"start_s": 15.8, "end_s": 16.3},
        "return": {"start_s": 16.3, "end_s": 18.5},
    }


def test_flag_marks_use_events_and_keep_orphans():
    events = [
        FlagEvent(15.3, "fast_drop", "left", 120.0),  # matches rep 3
        FlagEvent(60.0, "fast_drop", "right", 150.0),  # no rep (session ended mid-rep)
    ]
    marks = flag_marks(SESSION, events)
    assert (15.3, "fast_drop", "left") in marks
    assert (60.0, "fast_drop", "right") in marks
    # rep 7's fast drop has no event: mid-descent, 44.0 + 0.6 / 2
    assert any(k == "fast_drop" and t == pytest.approx(44.3) for t, k, _ in marks)
    # 6 rep flags + 1 orphan event
    assert len(marks) == 7
    assert [m[0] for m in marks] == sorted(m[0] for m in marks)


# ------------------------------------------------------------------------ files


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report"
    t, y = trace_for(SESSION, TRUE_DURATION)
    events = [
        FlagEvent(15.3, "fast_drop", "left", 120.0),
        FlagEvent(44.2, "fast_drop", "left", 140.0),
    ]
    paths = write_report(
        out,
        SESSION,
        t,
        y,
        events,
        {"source": "recordings/sim.csv", "fast_drop_dps": 90.0, "fast_return_dps": 90.0},
        target_per_side=5,
        html=True,
    )
    return paths


def test_files_exist(written):
    for p in (written.summary_json, written.markdown, written.figure_png, written.html):
        assert p is not None and p.is_file() and p.stat().st_size > 0
    assert written.figure_png.read_bytes()[:8] == PNG_MAGIC
    assert {p.name for p in written.out_dir.iterdir()} == {
        ".imu-host-report.json",  # the manifest of the set (what may be replaced next time)
        "summary.json",
        "report.md",
        "report.png",
        "report.html",
    }


def test_summary_json_numbers(written):
    s = json.loads(written.summary_json.read_text())
    assert s["reps_left"] == 4 and s["reps_right"] == 3 and s["reps_total"] == 7
    assert s["clean_reps"] == 3 and s["flagged_reps"] == 4 and s["fast_drops"] == 2
    assert s["rom_mean_deg"] == {"left": 42.0, "right": 30.0}
    assert s["rom_max_deg"] == {"left": 48, "right": 33}
    # top level = the replay --json numbers (core.stats.summarize: asymmetry to 0.1 %)
    assert s["asymmetry_pct"] == pytest.approx(100 * 12 / 42, abs=0.05)
    assert s["report"]["asymmetry_pct"] == pytest.approx(100 * 12 / 42, abs=1e-3)
    assert s["duration_s"] == pytest.approx(TRUE_DURATION - 1 / 50, abs=1e-6)
    assert s["source"]["source"] == "recordings/sim.csv"
    assert len(s["reps"]) == 7
    r3 = s["reps"][2]
    assert r3["index"] == 3 and r3["flags"] == ["fast_drop"]
    assert r3["phases"]["hold"] == {"start_s": 15.8, "end_s": 16.3}
    assert len(s["flag_events"]) == 2
    rep = s["report"]
    assert rep["target_per_side"] == {"left": 5, "right": 5}
    assert rep["tempo_median_s"] == pytest.approx({"descent": 2.2, "hold": 1.0, "return": 2.2})
    assert "2 of 4 drops to the left were too fast: lower the knees over 2-3 s." in rep["feedback"]
    # the reps round-trip back into Rep objects
    back = reps_from_dicts(s["reps"])
    for a, b in zip(back, SESSION, strict=True):
        assert (a.index, a.side, a.flags) == (b.index, b.side, b.flags)
        assert a.end_s == pytest.approx(b.end_s) and a.rom_deg == pytest.approx(b.rom_deg)


def test_markdown_content(written):
    md = written.markdown.read_text()
    assert "**3 of 7 reps clean (43%)**, 4 with a fault." in md
    assert "Difference in range between the sides: **29%** (the right side goes less far)." in md
    assert "| Prescribed | 5 | 5 | 10 |" in md
    assert "| Done | 4 | 3 | 7 |" in md
    assert "| Clean | 2 | 1 | 3 |" in md
    assert "| Dropped too fast | 2 | 0 | 2 |" in md
    assert "| Range of motion, average (°) | 42.0 | 30.0 |  |" in md
    assert "| Time on the way down, typical (s) | 1.4 | 2.6 | 2.2 |" in md
    assert "- 2 of 4 drops to the left were too fast: lower the knees over 2-3 s." in md
    assert "![Knee angle over time, reps and faults](report.png)" in md
    assert (
        "| 7 | left | 44.0 | 36.0 | 0.6 | 0.0 | 1.0 | 140 | 110 | "
        "dropped too fast, bounced at the end, came back too fast |" in md
    )
    assert "| 1 | left | 1.0 | 40.0 | 2.0 | 1.0 | 2.0 | 30 | 28 | clean |" in md
    assert "`recordings/sim.csv`" in md
    assert "- Limits used: too fast down above 90°/s, too fast back above 90°/s" in md


def test_plain_words_for_patients(written):
    """Issue 14: no internal flag names (fast_return, ...) where people read the report."""
    for text in (written.markdown.read_text(), written.html.read_text()):
        for name in ("fast_drop", "fast_return", "bounce,", "partial |", "ROM", "median"):
            assert name not in text, name


def test_html_is_self_contained(written):
    h = written.html.read_text()
    assert 'src="data:image/png;base64,' in h
    assert "<table>" in h and "<td>7</td>" in h
    assert 'src="report.png"' not in h and "http" not in h


def test_figure_dimensions(written):
    mpl_image = pytest.importorskip("matplotlib.image")
    img = mpl_image.imread(str(written.figure_png))
    h, w = img.shape[:2]
    assert (w, h) == (1300, 900)
    # not a blank canvas: many distinct colours (trace, side shading, markers)
    assert len(np.unique(img.reshape(-1, img.shape[-1])[:, :3], axis=0)) > 50


def test_summary_dict_is_merged(tmp_path):
    given = {
        "reps_left": 4,
        "reps_right": 3,
        "asymmetry_pct": 27.0,
        "tempo": {"x": 1},
        "source": {"path": "rec.csv", "sample_rate_hz": 100},
        "reps": [],
    }
    # meta is the recording's own header, whose "source" says what wrote it
    p = write_report(
        tmp_path / "o", SESSION, None, None, None, {"source": "imu-host simulate"}, summary=given
    )
    s = json.loads(p.summary_json.read_text())
    assert s["asymmetry_pct"] == 27.0  # the lead's value wins
    assert s["tempo"] == {"x": 1} and "tempo_median_s" not in s
    md = p.markdown.read_text()
    assert "- Recording: `rec.csv`" in md  # from summary["source"]["path"]
    assert "- Source: imu-host simulate" in md
    assert s["source"] == {"path": "rec.csv", "sample_rate_hz": 100}
    assert s["clean_reps"] == 3  # filled in where the summary lacks it
    assert len(s["reps"]) == 7 and "phases" in s["reps"][0]
    assert s["report"]["asymmetry_pct"] == pytest.approx(100 * 12 / 42, abs=1e-3)
    assert p.html is None and not (tmp_path / "o" / "report.html").exists()


def test_reconstructed_trace_without_angle(tmp_path):
    p = write_report(tmp_path, SESSION, None, None, None, None)
    assert p.figure_png.read_bytes()[:8] == PNG_MAGIC
    s = json.loads(p.summary_json.read_text())
    assert s["duration_s"] == pytest.approx(SESSION[-1].end_s)


def test_empty_session(tmp_path):
    p = write_report(tmp_path, [], np.zeros(0), np.zeros(0), [], {"duration_s": 12.0})
    s = json.loads(p.summary_json.read_text())
    assert s["reps_total"] == 0 and s["duration_s"] == 12.0
    assert "No reps were detected" in p.markdown.read_text()


def test_out_dir_is_a_file(tmp_path):
    f = tmp_path / "rec.csv"
    f.write_text("keep me")
    with pytest.raises(InputError, match="must be a directory"):
        write_report(f, SESSION, None, None, None, None)
    assert f.read_text() == "keep me"


def test_protected_file_is_never_overwritten(tmp_path):
    rec = tmp_path / "report.md"  # a user's file that happens to have a report name
    rec.write_text("my notes")
    with pytest.raises(InputError, match="would overwrite"):
        write_report(tmp_path, SESSION, None, None, None, None, protect=[rec])
    assert rec.read_text() == "my notes"
    assert not (tmp_path / "report.png").exists()


def test_other_files_in_out_dir_are_left_alone(tmp_path):
    (tmp_path / "rec.csv").write_text("data")
    write_report(tmp_path, SESSION, None, None, None, None)
    write_report(tmp_path, SESSION[:2], None, None, None, None)  # re-run overwrites ours
    assert (tmp_path / "rec.csv").read_text() == "data"
    assert json.loads((tmp_path / "summary.json").read_text())["reps_total"] == 2


def test_bad_rep_dicts():
    with pytest.raises(InputError, match="rep 1"):
        reps_from_dicts([{"index": 1, "side": "left"}])


# ------------------------------------------------------------------------ lazy matplotlib


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_importing_does_not_load_matplotlib():
    r = _run(
        "import sys, imu_host, imu_host.report.summary, imu_host.history.store\n"
        "import importlib.util as u\n"
        "for m in ('imu_host.cli.report', 'imu_host.cli.history'):\n"
        "    if u.find_spec(m): __import__(m)\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib loaded'\n"
    )
    assert r.returncode == 0, r.stderr


def test_missing_matplotlib_still_writes_numbers_and_words(tmp_path):
    """Issue 14: without matplotlib, summary.json and report.md are written; one note says
    what is missing for the PNG."""
    r = _run(
        "import sys; sys.modules['matplotlib'] = None\n"
        "from imu_host.core.events import Rep\n"
        "from imu_host.report.summary import write_report\n"
        "rep = Rep(1, 'left', 0, 1, 2, 40, 1, 0, 1, 30, 30)\n"
        f"p = write_report({str(tmp_path)!r}, [rep], None, None, None, None, html=True)\n"
        "print(p.figure_png)\n"
        "print(*p.notes, sep='\\n')\n"
    )
    assert r.returncode == 0, r.stderr
    figure, note = r.stdout.strip().splitlines()
    assert figure == "None"
    assert note == (
        "no report.png written: plotting needs matplotlib, which is not installed: "
        "pip install 'imu-host[report]'"
    )
    assert json.loads((tmp_path / "summary.json").read_text())["reps_total"] == 1
    md = (tmp_path / "report.md").read_text()
    assert "**1 of 1 reps clean (100%)**" in md and "report.png" not in md
    assert (tmp_path / "report.html").is_file() and not (tmp_path / "report.png").exists()


# ------------------------------------------------------------------------ command


def run_report(argv, capsys):
    import argparse

    from imu_host.cli import report as cmd_report

    parser = argparse.ArgumentParser()
    cmd_report.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        rc = cmd_report.run(args)
    except InputError as err:  # what imu_host.cli.main does
        print(f"imu-host: error: {err}", file=sys.stderr)
        rc = 2
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_report_command_from_summary_json(tmp_path, capsys):
    src = tmp_path / "session.json"
    src.write_text(json.dumps({"duration_s": 50.0, "reps": [r.to_dict() for r in SESSION]}))
    rc, out, err = run_report([str(src), "--target", "5", "--db", str(tmp_path / "h.db")], capsys)
    assert rc == 0, err
    out_dir = tmp_path / "session_report"
    assert out.split() == [str(out_dir / n) for n in ("summary.json", "report.md", "report.png")]
    s = json.loads((out_dir / "summary.json").read_text())
    assert (s["reps_left"], s["reps_right"], s["clean_reps"]) == (4, 3, 3)
    assert s["report"]["target_per_side"] == {"left": 5, "right": 5}
    assert "2 of 4 drops to the left were too fast" in err
    assert not (tmp_path / "h.db").exists()  # a summary is not a new session


def test_report_command_from_history(tmp_path, capsys):
    from imu_host.history.store import HistoryDB

    db = tmp_path / "h.sqlite3"
    with HistoryDB(db) as h:
        sid = h.save_session({"duration_s": 50.0, "reps": [r.to_dict() for r in SESSION]}, "x")
    out_dir = tmp_path / "o"
    rc, _, err = run_report([str(sid), "--db", str(db), "--out", str(out_dir), "--html"], capsys)
    assert rc == 0, err
    assert "**3 of 7 reps clean (43%)**" in (out_dir / "report.md").read_text()
    assert (out_dir / "report.html").is_file()
    rc, _, err = run_report(["99", "--db", str(db), "--out", str(out_dir)], capsys)
    assert rc == 2 and "no session with id 99" in err


def test_report_command_errors(tmp_path, capsys):
    rc, _, err = run_report([str(tmp_path / "missing.csv")], capsys)
    assert rc == 2 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc, _, err = run_report([str(bad)], capsys)
    assert rc == 2 and "not valid JSON" in err and str(bad) in err
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    rc, _, err = run_report([str(other)], capsys)
    assert rc == 2 and "not a session summary" in err
    # the input itself would be overwritten: refused, untouched
    inp = tmp_path / "summary.json"
    text = json.dumps({"reps": [r.to_dict() for r in SESSION]})
    inp.write_text(text)
    rc, _, err = run_report([str(inp), "--out", str(tmp_path)], capsys)
    assert rc == 2 and "would overwrite" in err and inp.read_text() == text


def test_nan_angle_before_centre_is_known(tmp_path):
    t, y = trace_for(SESSION, TRUE_DURATION)
    y[:100] = np.nan  # the pipeline's trace is NaN until the centre is learned
    p = write_report(tmp_path, SESSION, t, y, [FlagEvent(0.5, "fast_drop", "left", 1.0)], {})
    assert p.figure_png.read_bytes()[:8] == PNG_MAGIC


# ------------------------------------------------------------------------ end to end


def test_report_command_on_simulated_recording(tmp_path, capsys):
    """Simulator -> recording -> `imu-host report` -> files + history.

    The expected numbers are counted here from the pipeline's own rep list (the report's
    input), so this checks the report and history wiring, not the detector (the golden
    tests compare the detector with the simulator's truth).
    """
    from imu_host import analysis as session
    from imu_host.history.store import HistoryDB
    from imu_host.io.recording import write_recording
    from imu_host.sim.generate import simulate

    sim = simulate("one_side_tighter", 2)
    rec = tmp_path / "tight.csv"
    write_recording(
        rec, sim.samples, sim.sample_rate_hz, {"started_at": "2026-03-02T08:15:00+00:00"}
    )
    rec_bytes = rec.read_bytes()
    reps = session.analyze_file(str(rec)).reps
    assert len(reps) >= 4, "the pipeline found too few reps for this test to mean anything"
    n_l = sum(r.side == "left" for r in reps)
    n_r = sum(r.side == "right" for r in reps)
    clean = sum(not r.flags for r in reps)
    rom = {side: [r.rom_deg for r in reps if r.side == side] for side in ("left", "right")}
    hi, lo = (
        max(np.mean(rom["left"]), np.mean(rom["right"])),
        min(np.mean(rom["left"]), np.mean(rom["right"])),
    )

    db = tmp_path / "h.sqlite3"
    rc, out, err = run_report([str(rec), "--target", "6", "--db", str(db)], capsys)
    assert rc == 0, err
    out_dir = tmp_path / "tight_report"
    assert out.split() == [str(out_dir / n) for n in ("summary.json", "report.md", "report.png")]
    s = json.loads((out_dir / "summary.json").read_text())
    assert (s["reps_left"], s["reps_right"], s["clean_reps"]) == (n_l, n_r, clean)
    assert s["report"]["asymmetry_pct"] == pytest.approx(100 * (hi - lo) / hi, abs=1e-3)
    assert len(s["reps"]) == n_l + n_r and all("phases" in r for r in s["reps"])
    assert s["source"]["path"] == str(rec)
    md = (out_dir / "report.md").read_text()
    assert f"| Done | {n_l} | {n_r} | {n_l + n_r} |" in md
    assert "| Prescribed | 6 | 6 | 12 |" in md
    assert f"- Recording: `{rec}`" in md
    assert (out_dir / "report.png").read_bytes()[:8] == PNG_MAGIC

    # saved once to the history; a second report of the same recording does not duplicate
    rc, _, err = run_report([str(rec), "--db", str(db)], capsys)
    assert rc == 0, err
    with HistoryDB(db) as h:
        (row,) = h.sessions()
    assert (row.reps_left, row.reps_right, row.clean_reps) == (n_l, n_r, clean)
    assert row.started_at.isoformat() == "2026-03-02T08:15:00+00:00"
    assert rec.read_bytes() == rec_bytes  # the recording is never touched
    rc, _, _ = run_report(
        [str(rec), "--db", str(tmp_path / "other.db"), "--no-save", "--out", str(tmp_path / "o2")],
        capsys,
    )
    assert rc == 0 and not (tmp_path / "other.db").exists()
