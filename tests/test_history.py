"""Session history: round trip, dedup, concurrency, damaged/foreign files, outputs."""

from __future__ import annotations

import csv
import multiprocessing as mp
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from imu_host.core.events import Rep
from imu_host.errors import InputError
from imu_host.history.export import format_table, plot_history, write_csv
from imu_host.history.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    HistoryDB,
    default_db_path,
    save_to_history,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rep(index, side, rom, flags=()):
    start = 6.0 * index
    return Rep(
        index, side, start, start + 2.5, start + 5.0, rom, 2.0, 1.0, 2.0, 30.0, 30.0, tuple(flags)
    )


def summary_of(reps, duration=60.0, **extra):
    return {"duration_s": duration, "reps": [r.to_dict() for r in reps], **extra}


# Session A (hand-computed): left ROM 40, 50 -> 45; right 30, 36 -> 33; asym 12/45 = 26.67 %
# clean 2 of 4 (50 %); fast drops 1 of 4 (25 %)
SESSION_A = [
    rep(1, "left", 40, ["fast_drop"]),
    rep(2, "right", 30),
    rep(3, "left", 50),
    rep(4, "right", 36, ["partial"]),
]
# Session B: left 44 (1 rep), right 44 (1 rep), both clean: asym 0, fast drops 0
SESSION_B = [rep(1, "left", 44), rep(2, "right", 44)]

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_round_trip(tmp_path):
    db_path = tmp_path / "h.sqlite3"
    with HistoryDB(db_path) as db:
        a = db.save_session(summary_of(SESSION_A), "a.csv", T0)
        b = db.save_session(summary_of(SESSION_B, 30.0), "live:serial", T0 + timedelta(days=2))
    assert a != b
    with HistoryDB(db_path) as db:
        rows = db.sessions()
        stored = db.summary_json(a)
    assert [r.id for r in rows] == [a, b]
    ra, rb = rows
    assert ra.started_at == T0 and ra.source == "a.csv" and ra.duration_s == 60.0
    assert (ra.reps_left, ra.reps_right, ra.clean_reps, ra.flagged_reps) == (2, 2, 2, 2)
    assert ra.fast_drops == 1 and ra.fast_drop_rate == pytest.approx(0.25)
    assert ra.clean_pct == pytest.approx(50.0)
    assert ra.rom_left_deg == pytest.approx(45.0) and ra.rom_right_deg == pytest.approx(33.0)
    assert ra.asymmetry_pct == pytest.approx(100 * 12 / 45)
    assert rb.asymmetry_pct == pytest.approx(0.0) and rb.fast_drop_rate == 0.0
    assert rb.started_at == T0 + timedelta(days=2)
    assert stored == summary_of(SESSION_A)


def test_top_level_summary_without_reps(tmp_path):
    s = {
        "reps_left": 3,
        "reps_right": 5,
        "clean_reps": 6,
        "flagged_reps": 2,
        "fast_drops": 1,
        "rom_mean_deg": {"left": 41.5, "right": 38.0},
        "asymmetry_pct": 8.4,
        "duration_s": 90.0,
        "source": {"started_at": "2026-03-05T10:00:00Z"},
    }
    with HistoryDB(tmp_path / "h.sqlite3") as db:
        db.save_session(s, "x")
        (r,) = db.sessions()
    assert (r.reps_left, r.reps_right, r.clean_reps, r.fast_drops) == (3, 5, 6, 1)
    assert r.rom_left_deg == 41.5 and r.asymmetry_pct == 8.4
    assert r.started_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    with HistoryDB(tmp_path / "h.sqlite3") as db, pytest.raises(InputError, match="rep counts"):
        db.save_session({"duration_s": 3}, "y")


def test_schema_pragmas(tmp_path):
    p = tmp_path / "h.sqlite3"
    HistoryDB(p).close()
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_since_filter(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite3") as db:
        for d in range(5):
            db.save_session(
                summary_of(SESSION_B, 10.0 + d),
                f"s{d}",
                datetime(2026, 3, 1 + 3 * d, 12, 0, tzinfo=UTC),
            )
        assert [r.source for r in db.sessions(date(2026, 3, 7))] == ["s2", "s3", "s4"]
        assert len(db.sessions(date(2026, 4, 1))) == 0
        assert len(db.sessions(None)) == 5


def test_reimport_of_same_recording_is_deduplicated(tmp_path):
    rec = tmp_path / "rec.csv"
    rec.write_bytes(b"t,ax,ay,az\n0,0,0,1\n")
    db_path = tmp_path / "h.sqlite3"
    notes: list[str] = []
    first = save_to_history(summary_of(SESSION_A), str(rec), db_path, notify=notes.append)
    assert notes == []
    # the same analysis again: same row, nothing to say
    assert save_to_history(summary_of(SESSION_A), str(rec), db_path, notify=notes.append) == first
    assert notes == []
    # re-analysed with other settings (different numbers), same file bytes: same row, the
    # stored numbers are kept (issue 15: never silently rewritten) and the user is told
    second = save_to_history(summary_of(SESSION_B), str(rec), db_path, notify=notes.append)
    assert first == second
    with HistoryDB(db_path) as db:
        (row,) = db.sessions()
        assert db.summary_json(first) == summary_of(SESSION_A)
    assert row.reps_total == 4  # session A's numbers, as first stored
    assert len(notes) == 1 and f"session {first}" in notes[0] and "kept" in notes[0]
    # a different recording is a new row
    rec2 = tmp_path / "rec2.csv"
    rec2.write_bytes(b"t,ax,ay,az\n0,0,0,2\n")
    assert save_to_history(summary_of(SESSION_B), str(rec2), db_path) != first
    # summaries without a file: identical content dedups, different content does not
    s = summary_of(SESSION_A)
    x = save_to_history(s, "live:ble", db_path, started_at=T0)
    assert save_to_history(s, "live:ble", db_path, started_at=T0) == x
    assert save_to_history(s, "live:ble", db_path, started_at=T0 + timedelta(hours=1)) != x
    with HistoryDB(db_path) as db:
        assert len(db.sessions()) == 4
    # the recording is untouched
    assert rec.read_bytes() == b"t,ax,ay,az\n0,0,0,1\n"


def test_start_time_from_recording_header_or_mtime(tmp_path):
    import os

    rec = tmp_path / "live.csv"
    rec.write_text(
        "# imu-host recording v1\n# sample_rate_hz: 100\n"
        "# started: 2026-02-03T07:45:00+00:00\nt_s,ax_g,ay_g,az_g\n0,0,0,1\n"
    )
    plain = tmp_path / "plain.csv"
    plain.write_text("# imu-host recording v1\nt_s,ax_g,ay_g,az_g\n0,0,0,1\n")
    os.utime(plain, (1767225600, 1767225600))  # 2026-01-01T00:00:00Z
    db = tmp_path / "h.sqlite3"
    save_to_history(summary_of(SESSION_A), str(rec), db)
    save_to_history(summary_of(SESSION_B), str(plain), db)
    with HistoryDB(db) as h:
        by_src = {r.source: r.started_at for r in h.sessions()}
    assert by_src[str(rec)] == datetime(2026, 2, 3, 7, 45, tzinfo=UTC)
    assert by_src[str(plain)] == datetime(2026, 1, 1, tzinfo=UTC)


def test_no_save(tmp_path):
    p = tmp_path / "h.sqlite3"
    assert save_to_history(summary_of(SESSION_A), "a", p, no_save=True) is None
    assert not p.exists()


def test_default_db_path(monkeypatch, tmp_path):
    monkeypatch.delenv("IMU_HOST_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "imu-host" / "history.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local/share/imu-host/history.sqlite3"
    monkeypatch.setenv("IMU_HOST_DB", str(tmp_path / "env.sqlite3"))
    assert default_db_path() == tmp_path / "env.sqlite3"
    save_to_history(summary_of(SESSION_B), "x")
    assert (tmp_path / "env.sqlite3").is_file()


# ------------------------------------------------------------------------ concurrency

N_PROCS, N_EACH = 6, 8


def _writer(args):
    db_path, worker = args
    for i in range(N_EACH):
        reps = [rep(1, "left", 30 + worker), rep(2, "right", 20 + i)]
        save_to_history(
            summary_of(reps),
            f"w{worker}-{i}",
            db_path,
            started_at=T0 + timedelta(minutes=worker * 100 + i),
        )
    return worker


def test_concurrent_writers(tmp_path):
    db_path = str(tmp_path / "shared" / "h.sqlite3")  # created by the racing writers
    ctx = mp.get_context("spawn")
    with ctx.Pool(N_PROCS) as pool:
        done = pool.map(_writer, [(db_path, w) for w in range(N_PROCS)])
    assert sorted(done) == list(range(N_PROCS))
    with HistoryDB(db_path) as db:
        rows = db.sessions()
    assert len(rows) == N_PROCS * N_EACH
    assert {r.source for r in rows} == {f"w{w}-{i}" for w in range(N_PROCS) for i in range(N_EACH)}
    for r in rows:
        w, i = map(int, r.source[1:].split("-"))
        assert r.rom_left_deg == 30 + w and r.rom_right_deg == 20 + i
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


# ------------------------------------------------------------------------ bad files


def _assert_refused(path: Path, match: str):
    before = path.read_bytes()
    with pytest.raises(InputError, match=match) as ei:
        HistoryDB(path)
    assert str(path) in str(ei.value)
    with pytest.raises(InputError):
        save_to_history(summary_of(SESSION_A), "a", path)
    assert path.read_bytes() == before
    return ei.value


def test_not_sqlite_file_is_refused_and_untouched(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("these are my notes, not a database\n" * 10)
    err = _assert_refused(p, "not an SQLite file")
    assert "\n" not in str(err)


def test_foreign_sqlite_is_refused_and_untouched(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE bookmarks (url TEXT)")
    con.execute("INSERT INTO bookmarks VALUES ('https://example.org')")
    con.commit()
    con.close()
    _assert_refused(p, "another program")
    con = sqlite3.connect(p)
    assert con.execute("SELECT count(*) FROM bookmarks").fetchone()[0] == 1
    con.close()


def test_foreign_wal_database_gets_no_files_beside_it(tmp_path):
    p = tmp_path / "app.db"
    con = sqlite3.connect(p)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    assert [f.name for f in tmp_path.iterdir()] == ["app.db"]
    _assert_refused(p, "another program")
    assert [f.name for f in tmp_path.iterdir()] == ["app.db"]


def test_foreign_application_id_is_refused(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("PRAGMA application_id = 1234")
    con.execute("CREATE TABLE sessions (x)")
    con.commit()
    con.close()
    _assert_refused(p, "another program")


def test_newer_schema_is_refused(tmp_path):
    p = tmp_path / "h.sqlite3"
    with HistoryDB(p) as db:
        db.save_session(summary_of(SESSION_A), "a", T0)
    con = sqlite3.connect(p)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _assert_refused(p, "newer than this imu-host")


def test_damaged_database_is_refused_and_untouched(tmp_path):
    p = tmp_path / "h.sqlite3"
    with HistoryDB(p) as db:
        for i in range(40):
            db.save_session(summary_of(SESSION_A, 60.0 + i), f"s{i}", T0 + timedelta(days=i))
    con = sqlite3.connect(p)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(p.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    # scribble over everything after the first page (header and schema stay readable)
    for i in range(page, len(data)):
        data[i] = (i * 7 + 3) & 0xFF
    p.write_bytes(bytes(data))
    _assert_refused(p, "damaged")


def test_truncated_database_is_refused(tmp_path):
    p = tmp_path / "h.sqlite3"
    with HistoryDB(p) as db:
        for i in range(40):
            db.save_session(summary_of(SESSION_A, 60.0 + i), f"s{i}", T0)
    con = sqlite3.connect(p)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    p.write_bytes(p.read_bytes()[:5000])
    _assert_refused(p, "damaged")


def test_empty_file_is_initialised(tmp_path):
    p = tmp_path / "h.sqlite3"
    p.write_bytes(b"")
    with HistoryDB(p) as db:
        db.save_session(summary_of(SESSION_B), "b", T0)
        assert len(db.sessions()) == 1


def test_directory_path_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        HistoryDB(tmp_path)


# ------------------------------------------------------------------------ outputs


@pytest.fixture
def rows(tmp_path):
    with HistoryDB(tmp_path / "h.sqlite3") as db:
        db.save_session(summary_of(SESSION_A), "a.csv", T0)
        db.save_session(summary_of(SESSION_B, 30.0), "b.csv", T0 + timedelta(days=7))
        return db.sessions()


def test_table(rows):
    text = format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == [
        "id",
        "date",
        "left",
        "right",
        "clean%",
        "ROM",
        "L",
        "ROM",
        "R",
        "asym%",
        "fast%",
        "source",
    ]
    cells = lines[1].split()
    # id, date, time, left, right, clean%, ROM L, ROM R, asym%, fast%, source
    assert cells[3:] == ["2", "2", "50", "45.0", "33.0", "27", "25", "a.csv"]
    assert format_table([]) == "no sessions stored"


def test_csv(rows, tmp_path):
    p = write_csv(rows, tmp_path / "h.csv")
    with p.open() as f:
        data = list(csv.DictReader(f))
    assert len(data) == 2
    a = data[0]
    assert a["started_at"] == "2026-03-01T09:30:00+00:00"
    assert (a["reps_left"], a["reps_right"], a["reps_total"]) == ("2", "2", "4")
    assert float(a["clean_pct"]) == 50.0
    assert float(a["rom_left_deg"]) == 45.0 and float(a["rom_right_deg"]) == 33.0
    assert float(a["asymmetry_pct"]) == pytest.approx(26.7)
    assert float(a["fast_drop_rate_pct"]) == 25.0
    assert float(data[1]["fast_drop_rate_pct"]) == 0.0


def test_plot(rows, tmp_path):
    pytest.importorskip("matplotlib")
    p = plot_history(rows, tmp_path / "trend.png")
    assert p.read_bytes()[:8] == PNG_MAGIC
    assert p.stat().st_size > 10_000


# ------------------------------------------------------------------------ command


def run_history(argv, capsys):
    import argparse

    from imu_host.cli import history as cmd_history

    parser = argparse.ArgumentParser()
    cmd_history.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        rc = cmd_history.run(args)
    except InputError as err:  # what imu_host.cli.main does
        print(f"imu-host: error: {err}", file=__import__("sys").stderr)
        rc = 2
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_history_command(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    with HistoryDB(db) as h:
        h.save_session(summary_of(SESSION_A), "a.csv", T0)
        h.save_session(summary_of(SESSION_B), "b.csv", T0 + timedelta(days=10))
    rc, out, err = run_history(
        ["--db", str(db), "--csv", str(tmp_path / "h.csv"), "--plot", str(tmp_path / "t.png")],
        capsys,
    )
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and lines[1].split()[-1] == "a.csv"
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG_MAGIC
    assert len((tmp_path / "h.csv").read_text().splitlines()) == 3
    rc, out, _ = run_history(["--db", str(db), "--since", "2026-03-05"], capsys)
    assert rc == 0 and len(out.splitlines()) == 2 and out.splitlines()[1].split()[-1] == "b.csv"


def test_history_command_errors(tmp_path, capsys):
    rc, _, err = run_history(["--db", str(tmp_path / "x.sqlite3"), "--since", "March"], capsys)
    assert rc == 2 and "--since must be a date" in err
    # a missing database is reported and not created
    rc, out, err = run_history(["--db", str(tmp_path / "none.sqlite3")], capsys)
    assert rc == 0 and "no sessions stored" in err and not (tmp_path / "none.sqlite3").exists()
    rc, _, err = run_history(
        ["--db", str(tmp_path / "none.sqlite3"), "--plot", str(tmp_path / "p.png")], capsys
    )
    assert rc == 2 and "no sessions to plot" in err
    rc, _, err = run_history(["--plot", str(tmp_path / "p.jpg")], capsys)
    assert rc == 2 and "must end in .png" in err
    bad = tmp_path / "bad.sqlite3"
    bad.write_text("hello")
    rc, _, err = run_history(["--db", str(bad)], capsys)
    assert rc == 2 and str(bad) in err and "not an SQLite file" in err
    assert len(err.strip().splitlines()) == 1
    assert bad.read_text() == "hello"


def test_cli_damaged_db_one_line_exit_2(tmp_path, capsys):
    from imu_host.cli.main import main

    bad = tmp_path / "h.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 1000)
    before = bad.read_bytes()
    assert main(["history", "--db", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imu-host: error: " + str(bad))
    assert bad.read_bytes() == before
