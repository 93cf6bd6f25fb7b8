"""`imu-host demo`: the CLI end to end (subprocess), checked against the motion script's
truth; the recording it makes replays to the same reps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from imu_host.analysis import analyze
from imu_host.io.recording import read_recording
from imu_host.sim import board as sim_board


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


def run_cli(args, tmp_path, timeout=120) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, IMU_HOST_RECORDINGS=str(tmp_path / "recs"), IMU_HOST_DB=str(tmp_path / "h.db")
    )
    return subprocess.run(
        [sys.executable, "-m", "imu_host.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("board", ["auto", "in-process"])
def test_demo_json_events_match_truth(tmp_path, truth, board):
    r = run_cli(["demo", "--fast", "--board", board, "--json-events"], tmp_path)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    reps = [o for o in objs if o["event"] == "rep"]
    assert [o["side"] for o in reps] == [t["side"] for t in truth["reps"]]
    fast = [o["index"] for o in reps if "fast_drop" in o["flags"]]
    assert fast == truth["fast_reps"]
    cues = [o for o in objs if o["event"] == "flag"]
    assert [(c["kind"], c["side"]) for c in cues] == [
        ("fast_drop", truth["reps"][i - 1]["side"]) for i in truth["fast_reps"]
    ]
    summary = objs[-1]
    assert summary["event"] == "summary"
    assert summary["reps_left"] == truth["reps_per_side"]["left"]
    assert summary["reps_right"] == truth["reps_per_side"]["right"]
    # the recording went to the documented folder and replays to the same reps
    recs = list((tmp_path / "recs").glob("live-*.csv"))
    assert [str(p) for p in recs] == [summary["live"]["recording"]]
    a = analyze(read_recording(recs[0]))
    assert [r.to_dict() for r in a.reps] == summary["reps"]
    assert f"recording: {recs[0]}" in r.stderr
    assert ("MicroPython" in r.stderr or "micropython" in r.stderr) == (
        board == "auto" and sim_board.micropython_exe() is not None
    )


def test_demo_text_output_in_a_pipe(tmp_path, truth):
    r = run_cli(["demo", "--fast", "--no-record"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count(" REP ") == len(truth["reps"])
    assert "FLAG dropped too fast (left)" in out  # plain words, never a flag name
    assert "fast_drop" not in out and "FAST DROP" not in out
    n = truth["reps_per_side"]
    assert f"reps: {len(truth['reps'])} (left {n['left']}, right {n['right']})" in out
    assert "recording: none" in out
    assert "\x1b[" not in out and "\a" not in out  # a pipe gets plain lines
    assert not (tmp_path / "recs").exists()


def test_live_bad_input_is_one_line(tmp_path):
    r = run_cli(["live", "--serial", str(tmp_path / "no-such-port"), "--no-record"], tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "no-such-port" in r.stderr
    r = run_cli(["live", "--serial", "x", "--target", "0"], tmp_path)
    assert r.returncode == 2 and "--target" in r.stderr


def test_live_refuses_existing_record_file(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("keep me")
    r = run_cli(["live", "--serial", str(tmp_path / "p"), "--record", str(f)], tmp_path)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert f.read_text() == "keep me"


def test_devices_without_bluetooth_still_lists_serial(tmp_path, monkeypatch, capsys):
    """bleak raises a plain FileNotFoundError without a system bus: one clear line."""
    from imu_host.cli import devices as cmd_devices
    from imu_host.transport import ble as transport_ble
    from imu_host.transport.serial import PtyDevicePort

    class NoBus:  # what BleakScanner does on Linux without D-Bus
        @classmethod
        async def discover(cls, *a, **k):
            raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(transport_ble, "BleakScanner", NoBus)
    import argparse

    p = argparse.ArgumentParser()
    cmd_devices.add_arguments(p)
    port = PtyDevicePort(str(tmp_path / "tty"))
    try:
        assert cmd_devices.run(p.parse_args(["--all", "--scan-time", "0.1"])) == 0
    finally:
        port.close()
    out = capsys.readouterr().out
    assert "Serial ports:" in out
    assert "Bluetooth is not available on this machine" in out
    assert "Traceback" not in out
