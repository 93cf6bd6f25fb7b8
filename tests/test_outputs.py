"""Issue 15, output side: nothing the user has is overwritten; hostile input gets one line."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imu_host.core.events import Rep
from imu_host.errors import InputError
from imu_host.history.store import HistoryDB, save_to_history
from imu_host.report.write import MANIFEST_NAME, write_report

pytest.importorskip("matplotlib")


def mk(index, side, start, rom, flags=()):
    return Rep(
        index, side, start, start + 2.5, start + 5.0, rom, 2.0, 1.0, 2.0, 30.0, 30.0, tuple(flags)
    )


REPS = [mk(1, "left", 1.0, 40), mk(2, "right", 8.0, 35, ["fast_drop"]), mk(3, "left", 15.0, 42)]
REP_DICT = REPS[0].to_dict()


def run_cli(argv, capsys):
    from imu_host.cli.main import main

    rc = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("imu-host: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------ report set


def test_symlinked_member_is_refused_and_its_target_untouched(tmp_path):
    other = tmp_path / "other-recording.csv"
    other.write_text("# imu-host recording v1\nprecious\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").symlink_to(other)
    with pytest.raises(InputError, match="symbolic link"):
        write_report(out, REPS, None, None, None, None)
    assert other.read_text() == "# imu-host recording v1\nprecious\n"
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # nothing else written


def test_dangling_symlink_creates_nothing_outside(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    target = tmp_path / "elsewhere" / "planted.md"
    target.parent.mkdir()
    (out / "report.md").symlink_to(target)
    with pytest.raises(InputError, match="symbolic link"):
        write_report(out, REPS, None, None, None, None)
    assert not target.exists()


def test_a_file_that_is_not_our_output_is_never_replaced(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.md").write_text("my own notes")
    with pytest.raises(InputError, match="not an earlier imu-host report output"):
        write_report(out, REPS, None, None, None, None)
    assert (out / "report.md").read_text() == "my own notes"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]  # no temp files left


def test_an_edited_earlier_output_is_not_replaced(tmp_path):
    out = tmp_path / "o"
    write_report(out, REPS, None, None, None, None)
    (out / "report.md").write_text("edited by the physiotherapist")
    with pytest.raises(InputError, match="not an earlier imu-host report output"):
        write_report(out, REPS[:1], None, None, None, None)
    assert (out / "report.md").read_text() == "edited by the physiotherapist"
    assert json.loads((out / "summary.json").read_text())["reps_total"] == 3  # old set intact


def test_the_whole_set_is_replaced_and_a_stale_html_removed(tmp_path):
    out = tmp_path / "o"
    write_report(out, REPS, None, None, None, None, html=True)
    assert (out / "report.html").is_file()
    p = write_report(out, REPS[:2], None, None, None, None)  # no --html this time
    assert not (out / "report.html").exists()  # it would tell another story than report.md
    assert json.loads(p.summary_json.read_text())["reps_total"] == 2
    assert "of 2 reps clean" in p.markdown.read_text()
    names = sorted(x.name for x in out.iterdir())
    assert names == sorted([MANIFEST_NAME, "report.md", "report.png", "summary.json"])
    for name in names:  # health data
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_report_command_refuses_symlink_in_out(tmp_path, capsys):
    src = tmp_path / "s.json"
    src.write_text(json.dumps({"reps": [r.to_dict() for r in REPS]}))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.png").symlink_to(victim)
    rc, _, err = run_cli(["report", src, "--out", out], capsys)
    assert rc == 2 and "symbolic link" in one_error_line(err)
    assert victim.read_text() == "keep"


# ------------------------------------------------------------------------ history files


def _db_with_session(tmp_path: Path) -> tuple[Path, Path]:
    from imu_host.io.recording import write_recording
    from imu_host.sim.generate import simulate

    sim = simulate("fast_drops_mixed", 1)
    rec = tmp_path / "rec.csv"
    write_recording(rec, sim.samples, sim.sample_rate_hz, {"started_at": "2026-03-02T08:15:00Z"})
    db = tmp_path / "h.sqlite3"
    save_to_history({"duration_s": 30.0, "reps": [r.to_dict() for r in REPS]}, str(rec), db)
    return db, rec


@pytest.mark.parametrize("flag", ["--csv", "--plot"])
def test_history_export_never_overwrites_a_listed_recording(tmp_path, capsys, flag):
    db, rec = _db_with_session(tmp_path)
    before = rec.read_bytes()
    target = rec if flag == "--csv" else rec.with_suffix(".png")
    if flag == "--plot":
        target.write_bytes(b"an old plot the user kept")
        before = target.read_bytes()
    rc, _, err = run_cli(["history", "--db", db, flag, target], capsys)
    assert rc == 2 and "refusing to overwrite" in one_error_line(err)
    assert target.read_bytes() == before
    with HistoryDB(db) as h:
        assert len(h.sessions()) == 1  # and the history is still readable


def test_history_export_writes_new_files(tmp_path, capsys):
    db, _ = _db_with_session(tmp_path)
    rc, _, err = run_cli(
        ["history", "--db", db, "--csv", tmp_path / "h.csv", "--plot", tmp_path / "t.png"], capsys
    )
    assert rc == 0, err
    assert (tmp_path / "h.csv").read_text().startswith("id,started_at")
    assert stat.S_IMODE((tmp_path / "h.csv").stat().st_mode) == 0o600


def test_history_db_is_private(tmp_path):
    folder = tmp_path / "new" / "data"
    db = folder / "h.sqlite3"
    save_to_history({"duration_s": 3.0, "reps": [REP_DICT]}, "x", db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for extra in (folder / "h.sqlite3-wal", folder / "h.sqlite3-shm"):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0


def test_rerun_with_other_settings_keeps_the_stored_numbers(tmp_path, capsys):
    db, rec = _db_with_session(tmp_path)
    rec2 = tmp_path / "rec2.csv"
    rec2.write_bytes(rec.read_bytes() + b"")
    rc, _, err = run_cli(["replay", rec2, "--db", db], capsys)
    assert rc == 0, err
    with HistoryDB(db) as h:
        rows = h.sessions()
    # rec2 has rec's bytes: it is the session already stored (from rec), not a new one
    assert len(rows) == 1
    stored = (rows[0].reps_left, rows[0].reps_right, rows[0].fast_drops)
    assert stored == (2, 1, 1)
    assert "already in the history" in err and "kept" in err
    rc, _, err = run_cli(["replay", rec2, "--db", db, "--fast-drop-dps", "900"], capsys)
    assert rc == 0, err
    with HistoryDB(db) as h:
        (row,) = h.sessions()
    assert (row.reps_left, row.reps_right, row.fast_drops) == stored
    assert len([ln for ln in err.splitlines() if "kept" in ln]) == 1


def test_damaged_summary_json_in_history_is_one_line(tmp_path, capsys):
    db, _ = _db_with_session(tmp_path)
    con = sqlite3.connect(db)
    con.execute("UPDATE sessions SET summary_json = '{broken'")
    con.commit()
    con.close()
    rc, _, err = run_cli(["report", "1", "--db", db, "--out", tmp_path / "o"], capsys)
    assert rc == 2 and "damaged" in one_error_line(err)


def test_unreadable_start_time_in_history_is_one_line(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    with HistoryDB(db) as h:
        for i in range(3):
            h.save_session(
                {"duration_s": 3.0 + i, "reps": [REP_DICT]},
                f"s{i}",
                datetime(2026, 3, 1 + i, tzinfo=UTC),
            )
    con = sqlite3.connect(db)
    con.execute("UPDATE sessions SET started_at = 'yesterday' WHERE source = 's1'")
    con.commit()
    con.close()
    rc, out, err = run_cli(["history", "--db", db], capsys)
    assert rc == 0
    assert "Traceback" not in err
    (warning,) = err.splitlines()
    assert "session 2" in warning and "yesterday" in warning and "left out" in warning
    assert [ln.split()[-1] for ln in out.splitlines()[1:]] == ["s0", "s2"]


# ------------------------------------------------------------------------ non-UTF-8 names


def test_non_utf8_file_name_report_and_history(tmp_path, capsys):
    from imu_host.io.recording import write_recording
    from imu_host.sim.generate import simulate

    sim = simulate("controlled_slow", 1)
    name = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9-session.csv"))
    write_recording(name, sim.samples, sim.sample_rate_hz, {})
    db = tmp_path / "h.sqlite3"
    rc, out, err = run_cli(["report", name, "--db", db, "--out", tmp_path / "o"], capsys)
    assert rc == 0, err
    s = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert "caf\ufffd-session.csv" in s["source"]["path"]
    rc, out, err = run_cli(["replay", name, "--db", tmp_path / "h2.sqlite3"], capsys)
    assert rc == 0, err
    for d in (db, tmp_path / "h2.sqlite3"):
        with HistoryDB(d) as h:
            (row,) = h.sessions()
        assert row.source.endswith("caf\ufffd-session.csv")


# ------------------------------------------------------------------------ hostile summaries


def rom_literal(text: str) -> str:
    """A summary whose one rep has ``rom_deg`` written as the JSON text ``text``."""
    return json.dumps({"reps": [{**REP_DICT, "rom_deg": 12345.5}]}).replace("12345.5", text)


HOSTILE = {
    "nan_string": json.dumps({"reps": [{**REP_DICT, "rom_deg": "NaN"}]}),
    "nan_literal": rom_literal("NaN"),
    "infinity": rom_literal("Infinity"),
    "1e308_time": json.dumps({"reps": [{**REP_DICT, "end_s": 1e308, "peak_s": 1e308}]}),
    "1e308_rom": json.dumps({"reps": [{**REP_DICT, "rom_deg": 1e308}]}),
    "1e400": rom_literal("1e400"),
    "negative_times": json.dumps(
        {"reps": [{**REP_DICT, "start_s": -5, "peak_s": -3, "end_s": -1}]}
    ),
    "wrong_types": json.dumps({"reps": [{**REP_DICT, "side": 3, "index": "x"}]}),
    "bool_index": json.dumps({"reps": [{**REP_DICT, "index": True}]}),
    "flags_string": json.dumps({"reps": [{**REP_DICT, "flags": "fast_drop"}]}),
    "unknown_flag": json.dumps({"reps": [{**REP_DICT, "flags": ["wobble"]}]}),
    "rep_not_object": json.dumps({"reps": [7]}),
    "duration_string": json.dumps({"reps": [REP_DICT], "duration_s": "long"}),
    "duration_nan": '{"reps": [], "duration_s": NaN}',
    "events_string": json.dumps({"reps": [REP_DICT], "flag_events": "abc"}),
    "event_1e308": json.dumps(
        {"reps": [REP_DICT], "flag_events": [{"t_s": 1e308, "kind": "fast_drop", "side": "left"}]}
    ),
    "deep_nesting": '{"reps": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "deep_reps": '{"reps": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "top_level_list": "[1, 2, 3]",
    "not_utf8": b'{"reps": [], "source": {"path": "\xff"}}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_summary_json_one_line(tmp_path, capsys, case):
    src = tmp_path / f"{case}.json"
    data = HOSTILE[case]
    src.write_bytes(data if isinstance(data, bytes) else data.encode())
    rc, out, err = run_cli(["report", src, "--out", tmp_path / "o", "--no-save"], capsys)
    line = one_error_line(err)
    assert rc == 2
    assert str(src) in line
    assert len(line) < 300
    assert not (tmp_path / "o" / "summary.json").exists()


def _many(n: int) -> dict:
    reps = [
        {
            **REP_DICT,
            "index": i + 1,
            "start_s": 6.0 * i,
            "peak_s": 6.0 * i + 3,
            "end_s": 6.0 * i + 5,
        }
        for i in range(n)
    ]
    return {"reps": reps}


def test_160k_reps_is_one_line_not_minutes(tmp_path, capsys):
    src = tmp_path / "many.json"
    src.write_text(json.dumps(_many(160_000)))  # 40 MB: refused before it is parsed
    rc, _, err = run_cli(["report", src, "--out", tmp_path / "o", "--no-save"], capsys)
    assert rc == 2 and "larger than 8 MB" in one_error_line(err)
    compact = tmp_path / "compact.json"  # small enough to read, too many reps to draw
    compact.write_text(json.dumps(_many(1001), separators=(",", ":")))
    rc, _, err = run_cli(["report", compact, "--out", tmp_path / "o", "--no-save"], capsys)
    assert rc == 2
    line = one_error_line(err)
    assert "1001 reps" in line and "at most 1000" in line


def test_fifo_summary_is_refused_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    rc, _, err = run_cli(["report", fifo, "--out", tmp_path / "o"], capsys)
    assert rc == 2 and "not a regular file" in one_error_line(err)


def test_valid_summary_still_reports(tmp_path, capsys):
    """The checks refuse only what is wrong: a real summary.json round-trips."""
    out1 = tmp_path / "o1"
    p = write_report(out1, REPS, None, None, None, {"recording": "a.csv"})
    rc, _, err = run_cli(["report", p.summary_json, "--out", tmp_path / "o2"], capsys)
    assert rc == 0, err
    s = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert (s["reps_left"], s["reps_right"], s["fast_drops"]) == (2, 1, 1)


def test_report_shows_results_before_a_history_error(tmp_path, capsys):
    from imu_host.io.recording import write_recording
    from imu_host.sim.generate import simulate

    sim = simulate("fast_drops_mixed", 1)
    rec = tmp_path / "rec.csv"
    write_recording(rec, sim.samples, sim.sample_rate_hz, {})
    bad_db = tmp_path / "notes.txt"
    bad_db.write_text("not a database")
    rc, out, err = run_cli(["report", rec, "--db", bad_db, "--out", tmp_path / "o"], capsys)
    assert rc == 2
    assert (tmp_path / "o" / "report.md").is_file() and "summary.json" in out
    lines = err.strip().splitlines()
    assert any("drops to the" in ln for ln in lines[:-1])  # the feedback came first
    assert lines[-1].startswith("imu-host: error: ") and "not an SQLite file" in lines[-1]
    assert bad_db.read_text() == "not a database"
