"""Hostile and damaged input on the reading side: one line naming file/line/field, exit 2,
never a traceback; bounded memory; non-regular files refused (issue 15 reproducers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imu_host.cli.main import main

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "recordings" / "controlled_medium_s1.csv"
HEAD = "# imu-host recording v1\n"


def _one_line(argv: list[str], capsys) -> str:
    try:
        rc = main(argv)
    except SystemExit as ex:
        rc = ex.code
    cap = capsys.readouterr()
    assert rc == 2, cap
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert "Traceback" not in cap.err
    return lines[0]


def _replay_one_line(path: Path | str, capsys, *extra: str) -> str:
    return _one_line(["replay", str(path), "--no-save", *extra], capsys)


def test_one_row_file_without_rate(tmp_path, capsys):
    p = tmp_path / "one.csv"
    p.write_text(HEAD + "t_s,ax_g,ay_g,az_g\n0.0,0,0,1\n")
    assert "sample rate" in _replay_one_line(p, capsys)


def test_all_equal_times_without_rate(tmp_path, capsys):
    p = tmp_path / "eq.csv"
    p.write_text(HEAD + "t_s,ax_g,ay_g,az_g\n" + "1.0,0,0,1\n" * 50)
    assert "sample rate" in _replay_one_line(p, capsys)


def test_foreign_one_row_file(tmp_path, capsys):
    p = tmp_path / "one.csv"
    p.write_text("0.0,0,0,1\n")
    assert "sample rate" in _replay_one_line(p, capsys, "--columns", "t,ax,ay,az")


@pytest.mark.parametrize("rate", ["inf", "1e9", "1e-9", "nan", "-100", "0"])
def test_absurd_declared_rate(tmp_path, capsys, rate):
    p = tmp_path / "r.csv"
    p.write_text(HEAD + f"# sample_rate_hz: {rate}\nt_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,0,1\n")
    line = _replay_one_line(p, capsys)
    assert "r.csv" in line and "sample_rate_hz" in line


def test_empty_delimiter(capsys):
    line = _one_line(["replay", str(GOLDEN), "--no-save", "--columns", "t,ax,ay,az",
                      "--delimiter="], capsys)  # fmt: skip
    assert "--delimiter" in line


def test_iso_time_with_a_short_row(tmp_path, capsys):
    p = tmp_path / "mex.csv"
    p.write_text("2018-11-08 11:34:51.474000,0,0,1\n2018-11-08 11:34:51.484000,0\n"
                 "2018-11-08 11:34:51.494000,0,0,1\n")  # fmt: skip
    line = _replay_one_line(p, capsys, "--format", "mex")
    assert "mex.csv:2" in line and "fields" in line


def test_iso_time_in_the_last_column_with_a_short_row(tmp_path, capsys):
    p = tmp_path / "iso.csv"
    p.write_text("0,0,1,2018-11-08 11:34:51.474000\n0,0\n0,0,1,2018-11-08 11:34:51.494000\n")
    line = _replay_one_line(p, capsys, "--columns", "ax,ay,az,t", "--time", "iso")
    assert "iso.csv:2" in line and "fields" in line


def test_huge_gyro_value(tmp_path, capsys):
    p = tmp_path / "big.csv"
    rows = "".join(f"{i / 100:.2f},0,0,1,0,0,0\n" for i in range(200))
    rows += "2.00,0,0,1,1e154,0,0\n"
    p.write_text(HEAD + "# sample_rate_hz: 100\nt_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + rows)
    line = _replay_one_line(p, capsys)
    assert "big.csv:204" in line and "gx_dps" in line


def test_50_mb_field_is_not_echoed(tmp_path, capsys):
    p = tmp_path / "long.csv"
    with open(p, "w") as fh:
        fh.write(HEAD + "t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,0,")
        fh.write("9" * 50_000_000)
        fh.write("\n0.02,0,0,1\n")
    line = _replay_one_line(p, capsys)
    assert len(line) < 400 and "long.csv:4" in line


def test_long_bad_value_is_capped_in_the_message(tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text(HEAD + "t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,0," + "x" * 5000 + "\n0.02,0,0,1\n")
    line = _replay_one_line(p, capsys)
    assert len(line) < 400 and "x.csv:4" in line


def test_duplicate_header_columns_refused(tmp_path, capsys):
    p = tmp_path / "dup.csv"
    p.write_text(HEAD + "t_s,ax_g,ay_g,az_g,az_g\n0,0,0,1,1\n0.01,0,0,1,1\n")
    assert "twice" in _replay_one_line(p, capsys)


def test_duplicate_column_roles_refused(tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text("0,0,0,1,5\n0.01,0,0,1,5\n")
    assert "twice" in _replay_one_line(p, capsys, "--columns", "t,ax,ay,az,az")


def test_header_name_used_twice_refused(tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text("time,x,y,z,z\n0,0,0,1,5\n0.01,0,0,1,5\n")
    line = _replay_one_line(p, capsys, "--header", "--columns", "t=time,ax=x,ay=y,az=z")
    assert "2 times" in line


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "imu_host", "replay", str(fifo), "--no-save"],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    assert r.returncode == 2 and "not a regular file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/null"])
def test_devices_are_refused(dev, capsys):
    if not os.path.exists(dev):
        pytest.skip(f"no {dev}")
    assert "not a regular file" in _replay_one_line(dev, capsys)


def test_2gb_sparse_file_is_refused_with_bounded_memory(tmp_path):
    p = tmp_path / "sparse.csv"
    with open(p, "wb") as fh:
        fh.write(HEAD.encode() + b"t_s,ax_g,ay_g,az_g\n")
        fh.truncate(2 * 1024**3)
    code = (
        "import resource, sys\n"
        "from imu_host.cli.main import main\n"
        f"rc = main(['replay', {str(p)!r}, '--no-save'])\n"
        "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    rc, peak_mb = (int(x) for x in r.stdout.split())
    assert rc == 2 and ("binary data" in r.stderr or "line longer" in r.stderr)
    assert peak_mb < 400, peak_mb


def test_truncated_final_row_is_accepted_with_a_notice(tmp_path, capsys):
    text = GOLDEN.read_text()
    cut = text[: text.rstrip("\n").rfind(",")]  # the last row loses its last field
    p = tmp_path / "cut.csv"
    p.write_text(cut)
    rc = main(["replay", str(p), "--no-save", "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    notes = [ln for ln in cap.err.splitlines() if "incomplete" in ln]
    assert len(notes) == 1 and "ignored" in notes[0]


def _subprocess(argv: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imu_host", *argv], **kw)


def test_non_utf8_file_name_in_messages(tmp_path):
    d = os.fsencode(tmp_path)
    bad = d + b"/rec\xff.csv"
    with open(bad, "wb") as fh:
        fh.write(b"hello,world\n")
    r = _subprocess([b"replay", bad, b"--no-save"], capture_output=True)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_stdout_to_dev_full(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        r = _subprocess(["replay", str(GOLDEN), "--no-save"], stdout=full, stderr=subprocess.PIPE,
                        text=True)  # fmt: skip
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_ascii_locale_and_the_degree_sign():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = _subprocess(["replay", str(GOLDEN), "--no-save"], capture_output=True, text=True,
                    env=env, encoding="ascii", errors="replace")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "reps:" in r.stdout and "Traceback" not in r.stderr


def test_results_are_shown_when_the_history_cannot_be_saved(tmp_path, capsys):
    rc = main(["replay", str(GOLDEN), "--db", str(tmp_path)])  # a directory, not a database
    cap = capsys.readouterr()
    assert rc == 2
    assert "reps:" in cap.out  # the results first
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "not saved to the history" in lines[0]
