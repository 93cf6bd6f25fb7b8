"""The terminal view in a real terminal: ``imu-host demo`` under tmux, read back with
``capture-pane``: the "roll once to each side" prompt before the axis is known, big
digits for the counts of the simulator's truth, and a full redraw on resize (a narrow
terminal shows one clean frame, nothing left over from the wide one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

from imu_host.live.term import big_number
from imu_host.sim import board as sim_board

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux not installed (apt-get install tmux)"),
    pytest.mark.slow,
    pytest.mark.realtime,
]


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, check=True).stdout


def screen(name: str) -> list[str]:
    return tmux("capture-pane", "-p", "-t", name).splitlines()


def wait_for(name: str, pred, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    rows = screen(name)
    while not pred(rows):
        if time.monotonic() > deadline:
            raise AssertionError("screen never matched:\n" + "\n".join(rows))
        time.sleep(0.1)
        rows = screen(name)
    return rows


def test_terminal_view_prompt_big_digits_and_resize(tmp_path):
    truth = sim_board.script_truth()
    first, second = truth["reps"][0], truth["reps"][1]
    name = f"imu-{uuid.uuid4().hex[:8]}"
    cmd = (f"cd {tmp_path} && {sys.executable} -m imu_host.cli.main demo --board in-process "
           f"--no-record --quiet --target 3 --duration {second['end_s'] + 2:.0f}; sleep 60")  # fmt: skip
    tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "30", cmd)
    try:
        rows = wait_for(name, lambda r: any("ROLL ONCE TO EACH SIDE" in x for x in r))
        assert sum("imu-host live" in x for x in rows) == 1
        # after the first true rep: its side's count in big digits, green (clean)
        side = first["side"].upper()
        rows = wait_for(name, lambda r: any("last #1" in x for x in r), timeout=first["end_s"] + 15)
        head = next(i for i, x in enumerate(rows) if x.strip().startswith("LEFT"))
        want_l = big_number(1 if side == "LEFT" else 0)
        want_r = big_number(1 if side == "RIGHT" else 0)
        block = rows[head + 1 : head + 6]
        for got, a, b in zip(block, want_l, want_r, strict=True):
            assert got.split() == (a.split() + b.split())
        assert "of 3" in rows[head + 6]
        # narrow terminal: one clean frame in the narrow layout, nothing left over
        tmux("resize-window", "-t", name, "-x", "36", "-y", "20")
        rows = wait_for(name, lambda r: any(x.startswith("L ") and " R " in x for x in r))
        assert sum("imu-host live" in x for x in rows) <= 1
        assert not any("██" in x for x in rows)  # no big digits from the wide frame
        assert all(len(x) <= 36 for x in rows)
        tmux("resize-window", "-t", name, "-x", "100", "-y", "30")
        rows = wait_for(name, lambda r: any(x.strip().startswith("LEFT") for x in r))
        assert sum("imu-host live" in x for x in rows) == 1
        # the session ends: the view leaves the screen, the event lines and summary stay
        rows = wait_for(name, lambda r: any("session ended" in x for x in r), timeout=40)
        text = "\n".join(rows)
        assert text.count(" REP ") >= 2 and "ROLL ONCE" not in text
    finally:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)
