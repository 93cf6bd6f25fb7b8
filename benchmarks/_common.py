"""Helpers shared by the start-up, batch and parse benchmarks (not a test module)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def imu_host_cmd() -> list[str]:
    script = Path(PY).parent / "imu-host"
    return [str(script)] if script.exists() else [PY, "-m", "imu_host"]


def timed(cmd: list[str], repeat: int = 5, **kw) -> float:
    """Median wall time of ``cmd`` over ``repeat`` runs (output discarded)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kw)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS (MB) of one run of ``cmd`` in a fresh wrapper process."""
    code = (
        "import resource, subprocess, sys\n"
        f"subprocess.run({cmd!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 1024.0


def table(rows: Sequence[tuple[str, ...]], head: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(tuple("-" * w for w in widths)), *map(line, rows)])


def env_without_history(tmp: Path) -> dict[str, str]:
    """The environment for timed commands: the history in ``tmp``, and bytecode written as
    on an installed system (a sandbox's PYTHONDONTWRITEBYTECODE=1 would recompile
    imu-host's modules on every run, but not numpy's, whose bytecode pip wrote)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"IMU_HOST_DB": str(tmp / "h.sqlite3"), "XDG_DATA_HOME": str(tmp)})
    return env


__all__ = ["PY", "REPO", "env_without_history", "imu_host_cmd", "peak_rss_mb", "shutil",
           "table", "timed"]  # fmt: skip
