"""`imu-host live` at the end of a session: saved to the history (unless --no-save) and
`--report DIR` written, both with the motion script's truth; `demo` never saves."""

from __future__ import annotations

import io
import json

from imu_host.cli import live as cmd_live
from imu_host.cli.main import build_parser
from imu_host.history.store import HistoryDB
from imu_host.sim import board as sim_board
from imu_host.transport.serial import PtyDevicePort, SerialTransport


def _live(tmp_path, *extra):
    truth = sim_board.script_truth()
    script = sim_board.script_samples()
    port = PtyDevicePort(str(tmp_path / "ttyIMU0"))
    board = sim_board.SimulatedBoard(port, *script, speed=0).start()
    args = build_parser().parse_args(
        ["live", "--serial", port.path, "--record", str(tmp_path / "rec.csv"), "--lines", *extra]
    )
    out = io.StringIO()
    try:
        rc = cmd_live.run_session(SerialTransport(port.path), args, out=out, stop=board.done.is_set)
    finally:
        board.stop()
        port.close()
    return rc, out.getvalue(), truth


def test_live_session_is_saved_and_reported(tmp_path):
    db = tmp_path / "h.sqlite3"
    rc, out, truth = _live(tmp_path, "--db", str(db), "--report", str(tmp_path / "rep"))
    assert rc == 0
    want = truth["reps_per_side"]
    with HistoryDB(db) as h:
        (row,) = h.sessions()
    assert (row.reps_left, row.reps_right) == (want["left"], want["right"])
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert (s["reps_left"], s["reps_right"]) == (want["left"], want["right"])
    assert s["fast_drops"] == len(truth["fast_reps"])
    assert (tmp_path / "rep" / "report.png").is_file()
    assert "saved to history as session" in out and "report:" in out


def test_live_no_save_leaves_no_database(tmp_path):
    db = tmp_path / "h.sqlite3"
    rc, out, _ = _live(tmp_path, "--db", str(db), "--no-save")
    assert rc == 0 and not db.exists()
    assert "saved to history" not in out


def test_demo_has_no_history_options():
    p = build_parser()
    assert p.parse_args(["demo"]).__dict__.get("no_save") is None
    assert not hasattr(p.parse_args(["demo"]), "db")
