"""The command line as a newcomer meets it: help, bare command, python -m, argument checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imu_host.cli.main import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "recordings" / "controlled_medium_s1.csv"


def _run(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "imu_host", *args], capture_output=True, text=True, env=full, **kw
    )


def _truth(path: Path) -> dict:
    return json.loads(Path(str(path) + ".truth.json").read_text())


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_lists_every_command(flag):
    r = _run(flag)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for name in COMMANDS:
        assert name in r.stdout


def test_bare_command_lists_commands_not_just_usage():
    r = _run()
    assert "Traceback" not in r.stderr
    text = r.stdout + r.stderr
    for name in ("replay", "live", "report", "history", "batch", "simulate"):
        assert name in text
    assert r.returncode == 2


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_works(name, capsys):
    with pytest.raises(SystemExit) as ex:
        main([name, "--help"])
    assert ex.value.code == 0
    assert name in capsys.readouterr().out


def test_python_dash_m_runs_replay_like_the_script():
    r = _run("replay", str(GOLDEN), "--json", "--no-save")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    t = _truth(GOLDEN)
    assert (s["reps_left"], s["reps_right"]) == (t["reps_left"], t["reps_right"])


def test_version_does_not_import_command_modules():
    code = (
        "import sys; from imu_host.cli.main import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.startswith(('imu_host.cli.', 'imu_host.core', "
        "'imu_host.io', 'scipy', 'matplotlib', 'serial', 'bleak'))]\n"
        "print(heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("['imu_host.cli.main']") or r.stdout.strip().endswith("[]")


def test_replay_imports_only_what_it_uses():
    code = (
        "import sys; from imu_host.cli.main import main\n"
        f"main(['replay', {str(GOLDEN)!r}, '--json', '--no-save'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('imu_host.cli.', 'matplotlib', "
        "'serial', 'bleak', 'imu_host.live', 'imu_host.sim'))), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    loaded = eval(r.stderr.strip().splitlines()[-1])
    assert set(loaded) <= {"imu_host.cli.main", "imu_host.cli.replay", "imu_host.cli.options"}


@pytest.mark.parametrize("axis", ["-y", "neg-y"])
def test_thigh_axis_negative_is_accepted_as_readme_says(axis, capsys):
    # the same recording with the thigh axis renamed: -y worn = +x physically, so the
    # counts stay those of the truth when the samples are rotated accordingly
    import numpy as np

    from imu_host.io.recording import read_recording, write_recording

    rec = read_recording(GOLDEN)
    s = rec.samples
    # body +x (toward the knee) becomes sensor -y: sensor = R @ body
    rot = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=float)
    from imu_host.core.samples import Samples

    rotated = Samples(s.t_s, s.accel_g @ rot.T, None if s.gyro_dps is None else s.gyro_dps @ rot.T)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rot.csv"
        write_recording(p, rotated, rec.sample_rate_hz)
        rc = main(["replay", str(p), "--json", "--no-save", "--thigh-axis", axis])
        cap = capsys.readouterr()
    assert rc == 0, cap.err
    got = json.loads(cap.out)
    t = _truth(GOLDEN)
    assert (got["reps_left"], got["reps_right"]) == (t["reps_left"], t["reps_right"])


def test_columns_starting_with_dash_accepted(tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text("junk,0.00,0,0,1\njunk,0.01,0,0,1\njunk,0.02,0,0,1\n")
    rc = main(["replay", str(p), "--json", "--no-save", "--columns", "-,t,ax,ay,az"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert json.loads(cap.out)["source"]["samples"] == 3


BAD_ARGS = [
    ("--target", "0"),
    ("--target", "-2"),
    ("--target", "x"),
    ("--fast-drop-dps", "0"),
    ("--fast-drop-dps", "-5"),
    ("--fast-drop-dps", "nan"),
    ("--fast-drop-dps", "inf"),
    ("--fast-return-dps", "nan"),
    ("--fast-return-dps", "-1"),
]
RATE_ARGS = [("--rate", v) for v in ("0", "-10", "nan", "inf", "1e-9", "-100")]


def _one_line_refusal(argv: list[str], capsys) -> str:
    try:
        rc = main(argv)
    except SystemExit as ex:  # argparse
        rc = ex.code
    cap = capsys.readouterr()
    assert rc == 2, (argv, cap)
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert "Traceback" not in cap.err
    return lines[0]


@pytest.mark.parametrize("opt,value", BAD_ARGS + RATE_ARGS)
def test_replay_refuses_bad_numbers_with_one_line(opt, value, capsys):
    line = _one_line_refusal(["replay", str(GOLDEN), "--no-save", f"{opt}={value}"], capsys)
    assert opt in line


@pytest.mark.parametrize("opt,value", BAD_ARGS)
@pytest.mark.parametrize("command", ["live", "report", "demo", "batch"])
def test_every_command_refuses_the_same_bad_numbers(command, opt, value, capsys):
    if command in ("batch",) and opt == "--target":
        pytest.skip("batch has no --target")
    src = [] if command in ("live", "demo") else [str(GOLDEN)]
    line = _one_line_refusal([command, *src, f"{opt}={value}"], capsys)
    assert opt in line


@pytest.mark.parametrize("value", ["nan", "0", "-1", "inf"])
@pytest.mark.parametrize("command", ["live", "demo"])
def test_duration_refused_with_one_line(command, value, capsys):
    line = _one_line_refusal([command, f"--duration={value}"], capsys)
    assert "--duration" in line


@pytest.mark.parametrize("opt,value", RATE_ARGS)
@pytest.mark.parametrize("command", ["report", "batch"])
def test_rate_refused_everywhere(command, opt, value, capsys):
    line = _one_line_refusal([command, str(GOLDEN), f"{opt}={value}"], capsys)
    assert "--rate" in line


def test_matplotlib_is_a_hard_dependency():
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("matplotlib") for d in deps)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_main_help_strings_match_the_command_modules(name):
    import importlib

    from imu_host.cli.main import HELP

    assert HELP[name] == importlib.import_module(COMMANDS[name]).HELP


@pytest.mark.slow
def test_non_editable_install_runs_demo_report_and_help(tmp_path):
    """A wheel, installed (not editable) where no checkout is beside it, runs the demo's
    in-process board (the firmware ships inside the package), `report` and `--help`."""
    import sysconfig

    wheels = tmp_path / "wheels"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(wheels), str(REPO)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("imu_host-*.whl")
    site = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert (site / "imu_host" / "_firmware" / "streamer.py").is_file()
    # -S: no site-packages processing, so the checkout's editable install is invisible;
    # the dependencies come from this environment's site-packages as a plain path
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}",
        "IMU_HOST_FIRMWARE_DIR": "",
        "MPLBACKEND": "Agg",
    }
    env.pop("IMU_HOST_FIRMWARE_DIR")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", "-m", "imu_host", *args],
            capture_output=True, text=True, cwd=work, env=env, timeout=240,
        )  # fmt: skip

    where = subprocess.run(
        [sys.executable, "-S", "-c", "import imu_host; print(imu_host.__file__)"],
        capture_output=True, text=True, cwd=work, env=env,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    r = run("--help")
    assert r.returncode == 0 and "demo" in r.stdout and "report" in r.stdout, r.stderr
    r = run("demo", "--board", "in-process", "--fast", "--quiet", "--lines",
            "--record", str(work / "demo.csv"))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "simulator truth" in r.stderr
    r = run("report", str(work / "demo.csv"), "--out", str(work / "rep"), "--no-save")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "rep" / "summary.json").is_file() and (work / "rep" / "report.png").is_file()


def test_replay_says_when_it_saved_to_the_history(tmp_path, capsys, monkeypatch):
    """replay saves to the history by default and says so on stderr (where, which session);
    --no-save saves nothing and says nothing; --json keeps stdout pure JSON."""
    db = tmp_path / "h.sqlite3"
    assert main(["replay", str(GOLDEN), "--db", str(db)]) == 0
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if "history" in ln]
    assert len(line) == 1 and str(db) in line[0] and "session 1" in line[0], err
    assert main(["replay", str(GOLDEN), "--db", str(tmp_path / "other.sqlite3"), "--no-save"]) == 0
    assert "history" not in capsys.readouterr().err
    assert not (tmp_path / "other.sqlite3").exists()
    assert main(["replay", str(GOLDEN), "--json", "--db", str(tmp_path / "j.sqlite3")]) == 0
    out = capsys.readouterr()
    json.loads(out.out)
    assert "session 1" in out.err
