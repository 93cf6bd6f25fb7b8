"""Reports and history of multi-board sessions (two thighs, optional sternum).

Truth is the multi-body simulator's labels in the golden folders' ``.truth.json`` (per
rep: side, ``knees_apart``, ``shoulder_lift``; the drop-out's board and time), never the
code under test. A rep can be checked for knees apart only while both thighs stream, so
the expected counts leave out the reps after a thigh's drop-out (truth time).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from imu_host.cli.main import main
from imu_host.history.export import format_table
from imu_host.history.store import SCHEMA_VERSION, HistoryDB

# whole-session simulations and replays: run by `pytest -m slow` (and CI), not by default
pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parent.parent / "recordings" / "multi"
FOLDERS = sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []
SIDES = ("left", "right")
ROLES = ("left-thigh", "right-thigh", "sternum")


def _truth(folder: Path) -> dict:
    return json.loads(Path(str(folder) + ".truth.json").read_text())


def _expected(truth: dict) -> dict:
    """Per side from the truth: (flagged, checked) for knees apart and shoulder lift."""
    drop = truth["dropout"]

    def checked(rep: dict, needs: tuple[str, ...]) -> bool:
        return drop is None or drop["role"] not in needs or rep["end_s"] < drop["t_s"]

    out = {}
    for side in SIDES:
        reps = [r for r in truth["reps"] if r["side"] == side]
        k = [r for r in reps if checked(r, ("left-thigh", "right-thigh"))]
        s = [r for r in reps if checked(r, ("sternum",))]
        out[side] = {
            "knees": (sum(r["knees_apart"] for r in k), len(k)),
            "shoulders": (sum(r["shoulder_lift"] for r in s), len(s)),
        }
    return out


def _copy(folder: Path, tmp_path: Path, name: str = "session-a") -> Path:
    """The golden folder under a name without underscores (the file name is shown)."""
    dst = tmp_path / name
    shutil.copytree(folder, dst)
    return dst


NUMBER_WORDS = {"the one rep": 1, "both reps": 2}


def _said(text: str, what: str, side: str) -> tuple[int, int] | None:
    """(flagged, checked) as the report says it in words for ``side``."""
    bad, good = {
        "knees": ("Knees came apart on", "Knees stayed together on"),
        "shoulders": ("The opposite shoulder lifted on", "The shoulders stayed down on"),
    }[what]
    m = re.search(rf"{bad} (\d+) of (\d+) reps? to the {side}\b", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(rf"{good} (the one rep|both reps|all (\d+) reps) to the {side}\b", text)
    if m:
        return 0, NUMBER_WORDS.get(m.group(1)) or int(m.group(2))
    return None


def _report(folder: Path, out: Path, db: Path, *extra: str) -> int:
    return main(["report", str(folder), "--out", str(out), "--db", str(db), "--html", *extra])


# ------------------------------------------------------------------ report of a folder


def test_there_are_golden_multi_sessions():
    assert len(FOLDERS) >= 3


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_report_of_a_golden_session_shows_the_truth_per_side(folder, tmp_path, capsys):
    truth = _truth(folder)
    want = _expected(truth)
    src = _copy(folder, tmp_path)
    assert _report(src, tmp_path / "rep", tmp_path / "h.sqlite3") == 0
    capsys.readouterr()
    md = (tmp_path / "rep" / "report.md").read_text()
    page = (tmp_path / "rep" / "report.html").read_text()
    assert (tmp_path / "rep" / "report.png").read_bytes()[:4] == b"\x89PNG"
    for side in SIDES:
        for what in ("knees", "shoulders"):
            n, m = want[side][what]
            if m:  # the words, in the Markdown and on the page
                assert _said(md, what, side) == (n, m), (side, what)
                assert _said(page, what, side) == (n, m), (side, what)
    # the counts per side as reps in the summary too
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert [r["side"] for r in s["reps"]] == [r["side"] for r in truth["reps"]]
    for side in SIDES:
        ps = s["multi"]["per_side"][side]
        assert (ps["knees_apart"], ps["reps_checked_knees"]) == want[side]["knees"]
        assert (ps["shoulder_lift"], ps["reps_checked_trunk"]) == want[side]["shoulders"]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_per_rep_table_says_knees_and_shoulders_or_a_dash(folder, tmp_path, capsys):
    truth = _truth(folder)
    drop = truth["dropout"]
    src = _copy(folder, tmp_path)
    assert _report(src, tmp_path / "rep", tmp_path / "h.sqlite3", "--no-save") == 0
    capsys.readouterr()
    md = (tmp_path / "rep" / "report.md").read_text()
    head = md.index("| # | Side | Gap between the knees")
    rows = [ln for ln in md[head:].splitlines()[2:] if ln.startswith("| ")]
    assert len(rows) == len(truth["reps"])
    for row, t in zip(rows, truth["reps"], strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        knees, shoulders = cells[-2], cells[-1]
        thigh_gone = drop is not None and drop["role"] != "sternum" and t["start_s"] > drop["t_s"]
        chest_gone = drop is not None and drop["role"] == "sternum" and t["start_s"] > drop["t_s"]
        assert cells[1] == t["side"]
        if thigh_gone:
            assert knees == "–" and cells[2] == "–"  # no gap figure without both thighs
        else:
            assert knees == ("came apart" if t["knees_apart"] else "together")
        if chest_gone:
            assert shoulders == "–"
        else:
            assert shoulders == ("lifted" if t["shoulder_lift"] else "down")


def test_board_dropout_is_said_with_its_time_and_the_boards_left(tmp_path, capsys):
    folder = next(f for f in FOLDERS if _truth(f)["dropout"] is not None)
    drop = _truth(folder)["dropout"]
    src = _copy(folder, tmp_path)
    assert _report(src, tmp_path / "rep", tmp_path / "h.sqlite3", "--no-save") == 0
    capsys.readouterr()
    md = (tmp_path / "rep" / "report.md").read_text()
    words = drop["role"].replace("-", " ").replace("sternum", "chest")
    m = re.search(rf"The {words} sensor dropped out at (\d+) s; then: ([a-z ,]+)\.", md)
    assert m, md
    assert abs(int(m.group(1)) - drop["t_s"]) <= 3.0  # detected within the 1.5 s rule
    rest = {"left thigh", "right thigh", "chest"} - {words}
    assert set(m.group(2).split(", ")) == rest


@pytest.mark.parametrize("folder", FOLDERS[:1], ids=lambda p: p.name)
def test_no_snake_case_keys_in_the_markdown_or_html(folder, tmp_path, capsys):
    src = _copy(folder, tmp_path)
    assert _report(src, tmp_path / "rep", tmp_path / "h.sqlite3", "--no-save") == 0
    capsys.readouterr()
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    keys: set[str] = set()

    def walk(o: object) -> None:
        if isinstance(o, dict):
            keys.update(k for k in o if "_" in k)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(s)
    assert {"separation_deg", "knees_apart", "shoulder_lift", "board_changes"} <= keys
    for name in ("report.md", "report.html"):
        text = (tmp_path / "rep" / name).read_text()
        # the recording's own description (the simulator names its scenario) is quoted
        shown = "\n".join(ln for ln in text.splitlines() if "Source:" not in ln)
        found = sorted(k for k in keys if k in shown)
        assert not found, (name, found)
        assert not re.findall(r"\b[a-z]+_[a-z_]+\b", re.sub(r"<[^>]+>", " ", shown)[:200000])


def test_replay_folder_with_report_and_history(tmp_path, capsys):
    folder = next(f for f in FOLDERS if f.name.startswith("mixed_faults"))
    want = _expected(_truth(folder))
    src = _copy(folder, tmp_path)
    db = tmp_path / "h.sqlite3"
    assert main(["replay", str(src), "--report", str(tmp_path / "rep"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'rep'}" in out
    md = (tmp_path / "rep" / "report.md").read_text()
    assert _said(md, "knees", "left") == want["left"]["knees"]
    # replaying the same folder again (or its report) stores no second session
    assert main(["replay", str(src), "--db", str(db)]) == 0
    assert _report(src, tmp_path / "rep2", db) == 0
    capsys.readouterr()
    with HistoryDB(db) as h:
        rows = h.sessions()
    assert len(rows) == 1
    r = rows[0]
    assert r.boards == ROLES
    assert (r.knees_apart_left, r.knees_apart_right) == (
        want["left"]["knees"][0],
        want["right"]["knees"][0],
    )
    assert (r.shoulder_lift_left, r.shoulder_lift_right) == (
        want["left"]["shoulders"][0],
        want["right"]["shoulders"][0],
    )


# ------------------------------------------------------------------ history


def _v1_database(path: Path) -> None:
    """A history as imu-host wrote it before multi-board sessions (schema 1, as shipped)."""
    con = sqlite3.connect(path)
    con.execute(
        """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY, source_key TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
        started_at TEXT NOT NULL, saved_at TEXT NOT NULL, duration_s REAL,
        reps_left INTEGER NOT NULL, reps_right INTEGER NOT NULL, clean_reps INTEGER NOT NULL,
        flagged_reps INTEGER NOT NULL, fast_drops INTEGER NOT NULL, rom_left_deg REAL,
        rom_right_deg REAL, asymmetry_pct REAL, target_per_side INTEGER,
        summary_json TEXT NOT NULL)"""
    )
    con.execute("CREATE INDEX sessions_started_at ON sessions (started_at)")
    con.execute(
        "INSERT INTO sessions VALUES (1, 'sha256:abc', 'old.csv', '2026-03-01T09:30:00+00:00', "
        "'2026-03-01T09:40:00+00:00', 60.0, 3, 2, 4, 1, 1, 40.0, 30.0, 25.0, 3, '{\"reps\": []}')"
    )
    con.execute("PRAGMA application_id = 1229804872")  # 0x494D5548, "IMUH"
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def test_a_schema_1_history_still_opens_and_takes_multi_sessions(tmp_path, capsys):
    db = tmp_path / "old.sqlite3"
    _v1_database(db)
    with HistoryDB(db) as h:
        (old,) = h.sessions()
    assert (old.source, old.reps_left, old.reps_right, old.clean_reps, old.fast_drops) == (
        "old.csv", 3, 2, 4, 1,
    )  # fmt: skip
    assert (old.rom_left_deg, old.rom_right_deg, old.target_per_side) == (40.0, 30.0, 3)
    assert old.boards is None and old.knees_apart_left is None
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    con.close()
    # a single-board table of the old row is exactly the table of before
    assert "apart" not in format_table([old])
    folder = next(f for f in FOLDERS if f.name.startswith("board_dropout"))
    want = _expected(_truth(folder))
    src = _copy(folder, tmp_path)
    assert main(["replay", str(src), "--db", str(db)]) == 0
    capsys.readouterr()
    csv_path = tmp_path / "h.csv"
    assert main(["history", "--db", str(db), "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = lines[0].split()
    assert "apart%" in head and "shoulder%" in head

    def rates(kind: str) -> str:  # % of the checked reps per side, from the truth
        return "/".join(f"{100 * want[s][kind][0] / want[s][kind][1]:.0f}" for s in SIDES)

    k, sh = rates("knees"), rates("shoulders")
    new_row = next(ln for ln in lines if ln.rstrip().endswith("session-a"))
    old_row = next(ln for ln in lines if ln.rstrip().endswith("old.csv"))
    assert f"  {k}  " in new_row and f"  {sh}  " in new_row
    assert old_row.split()[-3:-1] == ["-", "-"]
    with csv_path.open() as f:
        data = {r["source"]: r for r in csv.DictReader(f)}
    row = data[str(src)]
    assert row["boards"].split() == list(ROLES)
    assert (int(row["knees_apart_left"]), int(row["knees_apart_right"])) == (
        want["left"]["knees"][0], want["right"]["knees"][0],
    )  # fmt: skip
    assert (int(row["shoulder_lift_left"]), int(row["shoulder_lift_right"])) == (
        want["left"]["shoulders"][0], want["right"]["shoulders"][0],
    )  # fmt: skip
    assert data["old.csv"]["boards"] == "" and data["old.csv"]["knees_apart_left"] == ""
    assert data["old.csv"]["reps_left"] == "3" and data["old.csv"]["fast_drops"] == "1"


def test_two_thigh_session_stores_no_shoulder_counts(tmp_path, capsys):
    """Without a sternum board the shoulder check is not done: NULL, not 0."""
    from imu_host.sim.multibody import simulate_multi, write_session

    sim = simulate_multi("two_thighs", 2, reps_per_side=2)
    write_session(sim, str(tmp_path / "s"))
    db = tmp_path / "h.sqlite3"
    assert main(["replay", str(tmp_path / "s"), "--db", str(db)]) == 0
    capsys.readouterr()
    with HistoryDB(db) as h:
        (r,) = h.sessions()
    assert r.boards == ("left-thigh", "right-thigh")
    assert r.shoulder_lift_left is None and r.shoulder_lift_right is None
    truth = sim.truth["reps"]
    assert (r.knees_apart_left, r.knees_apart_right) == tuple(
        sum(t["knees_apart"] for t in truth if t["side"] == s) for s in SIDES
    )


def test_report_of_the_summary_json_and_of_the_history_session(tmp_path, capsys):
    """A multi-board summary.json (its reps carry knees_apart / shoulder_lift) reads back."""
    folder = next(f for f in FOLDERS if f.name.startswith("mixed_faults"))
    want = _expected(_truth(folder))
    src = _copy(folder, tmp_path)
    db = tmp_path / "h.sqlite3"
    assert _report(src, tmp_path / "rep", db) == 0
    assert main(["report", str(tmp_path / "rep" / "summary.json"), "--out",
                 str(tmp_path / "again"), "--db", str(db)]) == 0  # fmt: skip
    assert main(["report", "1", "--out", str(tmp_path / "stored"), "--db", str(db)]) == 0
    capsys.readouterr()
    for d in ("again", "stored"):
        md = (tmp_path / d / "report.md").read_text()
        assert _said(md, "knees", "left") == want["left"]["knees"]
        assert _said(md, "shoulders", "right") == want["right"]["shoulders"]


def test_the_report_knows_the_multi_flag_names():
    from imu_host.core.multi import MULTI_FLAGS
    from imu_host.core.multi import ROLES as CORE_ROLES
    from imu_host.report.summary import MULTI_FLAG_NAMES, MULTI_ROLES

    assert MULTI_FLAG_NAMES == MULTI_FLAGS and MULTI_ROLES == CORE_ROLES


# ------------------------------------------------------------------ damaged folders


def _damage(folder: Path, how: str) -> str:
    """Damage a copied session folder; returns the file the error must name."""
    if how == "manifest":
        (folder / "manifest.json").write_text("{not json")
        return "manifest.json"
    if how == "board file":
        (folder / "right-thigh.csv").unlink()
        return "right-thigh.csv"
    if how == "feeds":
        lines = (folder / "feeds.csv").read_text().splitlines()
        lines[3] = "left-thigh,x,1.0"
        (folder / "feeds.csv").write_text("\n".join(lines) + "\n")
        return "feeds.csv:4"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["manifest", "board file", "feeds"])
@pytest.mark.parametrize("command", ["report", "replay"])
def test_a_damaged_folder_is_one_line_and_no_report(tmp_path, capsys, how, command):
    src = _copy(FOLDERS[0], tmp_path)
    names = _damage(src, how)
    out = tmp_path / "rep"
    db = tmp_path / "h.sqlite3"
    if command == "report":
        rc = main(["report", str(src), "--out", str(out), "--db", str(db)])
    else:
        rc = main(["replay", str(src), "--report", str(out), "--db", str(db)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("imu-host: error: ") and err.count("\n") == 1, err
    assert names in err and "Traceback" not in err
    assert not out.exists() and not db.exists()


# ------------------------------------------------------------------ live


@pytest.mark.slow
@pytest.mark.realtime
def test_cli_live_three_boards_writes_the_report_and_saves(tmp_path, capsys):
    """Three simulated boards over pseudo-terminals (the real serial path), in real time:
    `live --report DIR` writes the report with the truth's per-side counts, and the
    session is stored in the history with its roles (its recording folder is the source)."""
    from imu_host.sim.board import SimulatedBoard
    from imu_host.sim.multibody import simulate_multi
    from imu_host.transport.serial import PtyDevicePort

    sim = simulate_multi("mixed_faults", 2, reps_per_side=1)
    ports, boards = [], []
    for role in ROLES:
        s = sim.samples[role]
        pad = int(round(sim.truth["boards"][role]["start_s"] * sim.sample_rate_hz[role]))
        acc = s.accel_g[[0] * pad + list(range(len(s)))]
        gyr = s.gyro_dps[[0] * pad + list(range(len(s)))]
        port = PtyDevicePort(str(tmp_path / f"tty-{role}"))
        ports.append(port)
        boards.append(SimulatedBoard(port, acc, gyr, odr_hz=sim.sample_rate_hz[role],
                                     samples_per_frame=5, speed=1.0).start())  # fmt: skip
    folder, db = tmp_path / "rec", tmp_path / "h.sqlite3"
    duration = max(r["end_s"] for r in sim.truth["reps"]) + 4.0
    argv = ["live"]
    for p in ports:
        argv += ["--serial", p.path]
    for role in ROLES:
        argv += ["--role", role]
    argv += ["--duration", f"{duration:.1f}", "--lines", "--quiet", "--record", str(folder),
             "--report", str(tmp_path / "rep"), "--db", str(db)]  # fmt: skip
    try:
        rc = main(argv)
    finally:
        for b in boards:
            b.stop()
        for p in ports:
            p.close()
    out = capsys.readouterr().out
    assert rc == 0
    assert f"report: {tmp_path / 'rep'}" in out and "saved to history as session 1" in out
    want = _expected(sim.truth)
    md = (tmp_path / "rep" / "report.md").read_text()
    for side in SIDES:
        for what in ("knees", "shoulders"):
            if want[side][what][1]:
                assert _said(md, what, side) == want[side][what], (side, what)
    with HistoryDB(db) as h:
        (r,) = h.sessions()
    assert r.boards == ROLES and r.source == str(folder)
    assert (r.knees_apart_left, r.knees_apart_right) == tuple(want[s]["knees"][0] for s in SIDES)
    # the recording replayed later is the same session: no second row
    assert main(["replay", str(folder), "--db", str(db)]) == 0
    capsys.readouterr()
    with HistoryDB(db) as h:
        assert len(h.sessions()) == 1


@pytest.mark.parametrize(
    "multi",
    [
        "not an object",
        {"per_side": "x"},
        {"per_side": {"left": {"reps": -3, "knees_apart": "many"}}, "reps": [1, None, {}]},
        {
            "per_side": {},
            "board_changes": [{"role": "elbow"}, {"role": "sternum", "t_s": "x"}],
            "feedback": [1, "ok"],
            "settings": {"separation_deg": 1e300},
        },  # fmt: skip
    ],
)
@pytest.mark.slow
def test_a_damaged_multi_section_in_a_summary_never_breaks_the_report(tmp_path, capsys, multi):
    """A summary.json edited by hand: the report is still written (the damaged parts are
    left out), never a traceback."""
    folder = next(f for f in FOLDERS if f.name.startswith("mixed_faults"))
    src = _copy(folder, tmp_path)
    assert _report(src, tmp_path / "rep", tmp_path / "h.sqlite3", "--no-save") == 0
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    s["multi"] = multi
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(s))
    rc = main(["report", str(bad), "--out", str(tmp_path / "again"), "--no-save"])
    err = capsys.readouterr().err
    assert rc == 0, err
    md = (tmp_path / "again" / "report.md").read_text()
    assert "Traceback" not in err and "## Reps" in md


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_history_rates_and_trend_of_multi_sessions_follow_the_truth(tmp_path, capsys):
    from imu_host.history.export import multi_trend

    db = tmp_path / "h.sqlite3"
    single = tmp_path / "single.csv"
    shutil.copy(GOLDEN.parent / "controlled_medium_s1.csv", single)
    assert main(["replay", str(single), "--db", str(db)]) == 0
    # a history of single-board sessions only: the trend as before (six panels)
    assert main(["history", "--db", str(db), "--plot", str(tmp_path / "one.png")]) == 0
    srcs = [_copy(f, tmp_path, f"session{i}") for i, f in enumerate(FOLDERS)]
    for src in srcs:
        assert main(["replay", str(src), "--db", str(db)]) == 0
    assert main(["history", "--db", str(db), "--plot", str(tmp_path / "all.png")]) == 0
    capsys.readouterr()
    w, h_one = _png_size(tmp_path / "one.png")
    assert _png_size(tmp_path / "all.png") == (w, h_one + h_one // 3)  # a fourth row of panels
    with HistoryDB(db) as h:
        rows = h.sessions()
    tr = multi_trend(rows)
    by_source = {r.source: i for i, r in enumerate(rows)}
    i0 = by_source[str(single)]
    assert tr["separation_max_deg"][i0] is None and tr["knees_apart_pct"]["left"][i0] is None
    assert tr["separation_limit_deg"] == [8.0] and tr["trunk_roll_limit_deg"] == [10.0]
    for folder, src in zip(FOLDERS, srcs, strict=True):
        truth = _truth(folder)
        want = _expected(truth)
        i = by_source[str(src)]
        r = rows[i]
        for side in SIDES:
            for kind, key, rate in (("knees", "knees_apart_pct", r.knees_apart_rate(side)),
                                    ("shoulders", "shoulder_lift_pct",
                                     r.shoulder_lift_rate(side))):  # fmt: skip
                flagged, checked = want[side][kind]
                expect = None if not checked else 100 * flagged / checked
                got = tr[key][side][i]
                assert got == (None if rate is None else 100 * rate)
                assert (got is None) == (expect is None) and (
                    got is None or abs(got - expect) < 1e-9), (folder.name, side, kind)  # fmt: skip
        drop = truth["dropout"]

        def seen(rep: dict, needs: tuple[str, ...], drop: dict | None = drop) -> bool:
            return drop is None or drop["role"] not in needs or rep["end_s"] < drop["t_s"]

        sep = max(t["separation_deg"] for t in truth["reps"]
                  if seen(t, ("left-thigh", "right-thigh")))  # fmt: skip
        trunk = max(t["trunk_roll_deg"] for t in truth["reps"] if seen(t, ("sternum",)))
        assert abs(tr["separation_max_deg"][i] - sep) < 3.0, folder.name
        assert abs(tr["trunk_roll_max_deg"][i] - trunk) < 3.0, folder.name
