"""Replay throughput on a one-hour 100 Hz recording (360,000 samples).

Builds the hour from the simulator (a continuous 60-minute set is made by repeating a
seeded scenario's samples with shifted times), writes it as a v1 recording, then measures:
parse (read_recording), processing (Pipeline.feed whole), the whole `imu-host replay --json`
command, and checks the results equal sample-by-sample streaming (on the first 10 min,
since one feed per sample is slow by design). Prints a table.

    .venv/bin/python benchmarks/bench_replay.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from imu_host.core.pipeline import Pipeline
from imu_host.core.samples import Samples
from imu_host.io.recording import read_recording, write_recording
from imu_host.sim.generate import simulate

HOUR_S = 3600.0


def build_hour(path: Path) -> int:
    sim = simulate("controlled_medium", seed=1)
    s = sim.samples
    rate = sim.sample_rate_hz
    period = float(s.t_s[-1] - s.t_s[0]) + 1.0 / rate
    reps = int(np.ceil(HOUR_S / period))
    t = np.concatenate([s.t_s - s.t_s[0] + k * period for k in range(reps)])
    acc = np.tile(s.accel_g, (reps, 1))
    gyr = np.tile(s.gyro_dps, (reps, 1))
    n = int(HOUR_S * rate)
    write_recording(path, Samples(t[:n], acc[:n], gyr[:n]), rate)
    return n


def run_pipeline(s: Samples, rate: float, step: int | None) -> list:
    p = Pipeline(rate, s.has_gyro)
    ev = []
    if step is None:
        ev += p.feed(s)
    else:
        for i in range(0, len(s), step):
            ev += p.feed(s.slice(i, i + step))
    return ev + p.finish()


def best_of(fn, k: int = 3) -> float:
    best = float("inf")
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hour.csv"
        n = build_hour(path)
        size_mb = path.stat().st_size / 1e6
        t_parse = best_of(lambda: read_recording(path))
        rec = read_recording(path)
        s, rate = rec.samples, rec.sample_rate_hz
        t_proc = best_of(lambda: run_pipeline(s, rate, None))
        whole = run_pipeline(s, rate, None)
        t_cli = best_of(
            lambda: subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "imu_host.cli.main",
                    "replay",
                    str(path),
                    "--json",
                    "--no-save",
                ],
                check=True,
                capture_output=True,
            ),
            k=2,
        )
        out = subprocess.run(
            [sys.executable, "-m", "imu_host.cli.main", "replay", str(path), "--json", "--no-save"],
            check=True,
            capture_output=True,
            text=True,
        )
        reps_cli = json.loads(out.stdout)["reps_total"]
        m = int(600 * rate)
        sub = s.slice(0, m)
        t_single = best_of(lambda: run_pipeline(sub, rate, 1), k=1)
        same = run_pipeline(sub, rate, 1) == run_pipeline(sub, rate, None)
        same_chunks = run_pipeline(sub, rate, 97) == run_pipeline(sub, rate, None)
    reps = sum(1 for e in whole if type(e).__name__ == "RepEvent")
    rows = [
        ("recording", f"{n:,} samples, {size_mb:.1f} MB, {rate:g} Hz, gyro"),
        ("parse (read_recording)", f"{t_parse:.3f} s  = {n / t_parse:,.0f} samples/s"),
        ("processing (Pipeline.feed whole)", f"{t_proc:.3f} s  = {n / t_proc:,.0f} samples/s"),
        ("imu-host replay --json (whole command)", f"{t_cli:.3f} s"),
        ("reps found (pipeline / CLI)", f"{reps} / {reps_cli}"),
        (
            "sample-by-sample feed, first 10 min",
            f"{t_single:.2f} s = {m / t_single:,.0f} samples/s",
        ),
        ("identical: whole vs sample-by-sample / vs 97-chunks", f"{same} / {same_chunks}"),
    ]
    w = max(len(a) for a, _ in rows)
    print(f"{'measure':<{w}}  result")
    print(f"{'-' * w}  {'-' * 40}")
    for a, b in rows:
        print(f"{a:<{w}}  {b}")
    return 0 if same and same_chunks else 1


if __name__ == "__main__":
    sys.exit(main())
