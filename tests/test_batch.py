"""``imu-host batch``: one row per recording (same numbers as ``replay --json``), a total,
bad files reported in their row, processes with --jobs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from imu_host.cli.main import main

REPO = Path(__file__).resolve().parents[1]
NAMES = ["controlled_medium_s1.csv", "fast_drops_mixed_s1.csv", "accel_only_s1.csv"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "sessions"
    d.mkdir()
    for n in NAMES:
        shutil.copy(REPO / "recordings" / n, d / n)
        shutil.copy(REPO / "recordings" / (n + ".truth.json"), d / (n + ".truth.json"))
    (d / "broken.csv").write_text("# imu-host recording v1\nt_s,ax_g,ay_g,az_g\n0,0,x,1\n")
    return d


def _replay_json(path: Path, capsys) -> dict:
    assert main(["replay", str(path), "--json", "--no-save"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_batch_rows_equal_replay_json_and_bad_files_do_not_stop_it(folder, tmp_path, capsys):
    out = tmp_path / "results.json"
    rc = main(["batch", str(folder), "--jobs", "2", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 1  # one file failed
    doc = json.loads(out.read_text())
    by_name = {Path(r["file"]).name: r for r in doc["files"]}
    assert set(by_name) == {*NAMES, "broken.csv"}
    assert "is not a number" in by_name["broken.csv"]["error"]
    assert "broken.csv:3" in by_name["broken.csv"]["error"]
    for n in NAMES:
        assert by_name[n]["summary"] == _replay_json(folder / n, capsys)
        truth = json.loads((folder / (n + ".truth.json")).read_text())
        s = by_name[n]["summary"]
        assert (s["reps_left"], s["reps_right"]) == (truth["reps_left"], truth["reps_right"])
    tot = doc["total"]
    assert tot["reps_total"] == sum(by_name[n]["summary"]["reps_total"] for n in NAMES)
    assert tot["error"] == "1 failed"
    assert "TOTAL (3 of 4 files)" in cap.out


def test_batch_csv_and_globs(folder, tmp_path, capsys):
    out = tmp_path / "results.csv"
    rc = main(["batch", str(folder / "controlled*.csv"), str(folder / "accel_only_s1.csv"),
               "--out", str(out)])  # fmt: skip
    capsys.readouterr()
    assert rc == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [Path(r["file"]).name for r in rows[:-1]] == ["controlled_medium_s1.csv",
                                                         "accel_only_s1.csv"]  # fmt: skip
    assert rows[-1]["file"].startswith("TOTAL")
    truth = [json.loads((folder / (n + ".truth.json")).read_text()) for n in
             ("controlled_medium_s1.csv", "accel_only_s1.csv")]  # fmt: skip
    assert int(rows[-1]["reps_total"]) == sum(t["reps_left"] + t["reps_right"] for t in truth)


def test_batch_never_overwrites_its_output(folder, tmp_path, capsys):
    out = tmp_path / "results.csv"
    out.write_text("precious")
    rc = main(["batch", str(folder), "--out", str(out)])
    assert rc == 2 and out.read_text() == "precious"
    assert "refusing to overwrite" in capsys.readouterr().err


def test_batch_missing_path_is_a_row_not_a_crash(tmp_path, capsys):
    rc = main(["batch", str(tmp_path / "nope.csv"), str(REPO / "recordings" / NAMES[0])])
    cap = capsys.readouterr()
    assert rc == 1 and "no such file" in cap.out


def test_progress_bar_on_a_terminal_only(folder, capsys, monkeypatch):
    import io
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    main(["batch", str(folder / NAMES[0]), str(folder / NAMES[2])])
    assert "0/2" in err.getvalue()  # the bar, counting files
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    main(["batch", str(folder / NAMES[0])])
    assert "1/1" not in sys.stderr.getvalue()
    capsys.readouterr()
