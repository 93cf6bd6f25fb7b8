"""Replay speed against an independent baseline, measured side by side in one run.

The baseline is what a careful user would write with x-io Fusion: load the same v1
recording with ``numpy.loadtxt`` and run ``imufusion.Ahrs.update_no_magnetometer`` +
``get_gravity`` over every sample in a plain Python loop. imu-host's whole command
(``imu-host replay FILE --json``: start-up, parsing, orientation, rep detection,
summary) is timed against it, best of ``--repeat`` runs each, alternating, so machine
noise hits both alike. Also printed: processing alone (``Pipeline.feed`` on samples
already in memory) in samples/s, and peak RSS of each command.

    .venv/bin/python benchmarks/bench_speed.py [--hours 1] [--long-hours 4] [--repeat 3]

Peak RSS is also measured for a ``--long-hours`` recording (one run each). The history
database goes to a temporary folder (the replay saves as usual, not into yours).

imufusion is installed into the running environment if missing (it is a benchmark
baseline, not a dependency of imu-host).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
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

sys.path.insert(0, str(Path(__file__).parent))
from _common import env_without_history  # noqa: E402

FUSION_BASELINE = r"""
import sys
import numpy as np
import imufusion

path = sys.argv[1]
data = np.loadtxt(path, delimiter=",", ndmin=2, usecols=range(7), encoding="utf-8")
t = data[:, 0]
acc = data[:, 1:4]
gyr = data[:, 4:7]
ahrs = imufusion.Ahrs()
ahrs.set_sample_period(float(np.median(np.diff(t))))
out = np.empty((len(t), 3))
for i in range(len(t)):
    ahrs.update_no_magnetometer(gyr[i], acc[i])
    out[i] = ahrs.get_gravity()
print(out[-1])
"""


def ensure_imufusion() -> None:
    if importlib.util.find_spec("imufusion") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "imufusion"], check=True)


def build(path: Path, hours: float) -> int:
    sim = simulate("controlled_medium", seed=1)
    s = sim.samples
    rate = sim.sample_rate_hz
    period = float(s.t_s[-1] - s.t_s[0]) + 1.0 / rate
    n = int(hours * 3600.0 * rate)
    k = int(np.ceil(n / len(s)))
    t = np.concatenate([s.t_s - s.t_s[0] + j * period for j in range(k)])[:n]
    acc = np.tile(s.accel_g, (k, 1))[:n]
    gyr = np.tile(s.gyro_dps, (k, 1))[:n]
    write_recording(path, Samples(t, acc, gyr), rate)
    return n


def header_lines(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line[:1].isdigit() or line[:1] == "-":
                break
            n += 1
    return n


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command run as a child process."""
    code = (
        "import resource, subprocess, sys, time;"
        "t0 = time.perf_counter();"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
        "dt = time.perf_counter() - t0;"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024;"
        "print(dt, rss, r.returncode)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *cmd], capture_output=True, text=True, env=env
    )
    dt, rss, rc = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return float(dt), float(rss)


def fusion_inputs(tmp: Path, hours: float) -> tuple[Path, Path, int]:
    """(v1 recording, the same rows without the header for loadtxt, samples)."""
    rec = tmp / f"rec_{hours:g}h.csv"
    n = build(rec, hours)
    skip = header_lines(rec)
    plain = tmp / f"plain_{hours:g}h.csv"
    with open(rec, encoding="utf-8") as src, open(plain, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= skip:
                dst.write(line)
    return rec, plain, n


def processing_rate(rec: Path, repeat: int) -> float:
    """Samples/s of the pipeline alone (samples in memory, fed as a replay feeds them)."""
    from imu_host.analysis import FEED_SAMPLES

    loaded = read_recording(rec)
    s = loaded.samples
    best = float("inf")
    for _ in range(repeat):
        p = Pipeline(loaded.sample_rate_hz, s.has_gyro, keep_trace=True)
        t0 = time.perf_counter()
        for i in range(0, len(s), FEED_SAMPLES):
            p.feed(s.slice(i, i + FEED_SAMPLES))
        p.finish()
        best = min(best, time.perf_counter() - t0)
    return len(s) / best


def phases(rec: Path, repeat: int) -> list[tuple[str, float]]:
    """Where a replay's time goes, in-process (best of ``repeat``, seconds): parsing, the
    roll estimator, the rep detector (fed the estimator's output), the summary."""
    from imu_host.core.reps.detector import RepDetector
    from imu_host.core.stats import summarize

    best = {"parse (read_recording)": math.inf, "roll estimator": math.inf,
            "rep detector": math.inf, "summary": math.inf}  # fmt: skip
    for _ in range(repeat):
        t0 = time.perf_counter()
        loaded = read_recording(rec)
        t1 = time.perf_counter()
        s, rate = loaded.samples, loaded.sample_rate_hz
        segs = estimator_segments(s, rate)
        t2 = time.perf_counter()
        det = RepDetector(rate, has_gyro=s.has_gyro)
        events = []
        for seg in segs:
            events += det.feed(seg.t_s, seg.theta_deg, seg.rate_dps, seg.calm)
        events += det.finish()
        t3 = time.perf_counter()
        summarize(det.reps, float(s.t_s[-1] - s.t_s[0]), events)
        t4 = time.perf_counter()
        for k, dt in zip(best, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            best[k] = min(best[k], dt)
    return list(best.items())


def estimator_segments(s: Samples, rate: float) -> list:
    """The roll estimator's output for ``s``, fed in replay-sized chunks (what the rep
    detector is fed in a replay)."""
    from imu_host.analysis import FEED_SAMPLES
    from imu_host.core.orientation import RollEstimator

    est = RollEstimator(rate, s.has_gyro)
    segs = []
    for i in range(0, len(s), FEED_SAMPLES):
        g = None if s.gyro_dps is None else s.gyro_dps[i : i + FEED_SAMPLES]
        segs += est.process(s.t_s[i : i + FEED_SAMPLES], s.accel_g[i : i + FEED_SAMPLES], g)
    return segs


def detector_rates(rec: Path, repeat: int) -> tuple[float, float]:
    """Samples/s of the rep detector alone (fed the estimator's output, as a replay feeds
    it): the fast path and its plain block-by-block reference, best of ``repeat``,
    alternating."""
    from imu_host.core.reps.detector import RepDetector

    loaded = read_recording(rec)
    s, rate = loaded.samples, loaded.sample_rate_hz
    segs = estimator_segments(s, rate)
    best = {False: math.inf, True: math.inf}
    for _ in range(repeat):
        for ref in (True, False):
            det = RepDetector(rate, has_gyro=s.has_gyro, reference=ref)
            t0 = time.perf_counter()
            for seg in segs:
                det.feed(seg.t_s, seg.theta_deg, seg.rate_dps, seg.calm)
            det.finish()
            best[ref] = min(best[ref], time.perf_counter() - t0)
    return len(s) / best[False], len(s) / best[True]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--long-hours", type=float, default=4.0, help="second size, RSS only")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ensure_imufusion()
    exe = str(Path(sys.executable).parent / "imu-host")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # as installed: bytecode is written (pip compiles it at install, an editable install
        # on first run); a sandbox's PYTHONDONTWRITEBYTECODE=1 would recompile imu-host's
        # modules on every run (~0.06 s) but not numpy's, whose bytecode pip wrote
        env = env_without_history(tmp)
        base_py = tmp / "fusion_baseline.py"
        base_py.write_text(FUSION_BASELINE)
        rec, plain, n = fusion_inputs(tmp, args.hours)
        size_mb = rec.stat().st_size / 2**20  # MiB, as ru_maxrss / 1024
        timed([sys.executable, str(base_py), str(plain)], env)  # warm-up: bytecode, file cache
        timed([exe, "replay", str(rec), "--json"], env)
        ours, theirs = [], []
        for _ in range(args.repeat):  # alternating, so machine noise hits both alike
            theirs.append(timed([sys.executable, str(base_py), str(plain)], env))
            ours.append(timed([exe, "replay", str(rec), "--json"], env))
        t_ours = min(x[0] for x in ours)
        t_base = min(x[0] for x in theirs)
        rss_ours = max(x[1] for x in ours)
        rss_base = max(x[1] for x in theirs)
        rate = processing_rate(rec, args.repeat)
        split = phases(rec, args.repeat)
        det_fast, det_ref = detector_rates(rec, args.repeat)
        t_start = min(timed([exe, "--version"], env)[0] for _ in range(args.repeat))
        for f in (rec, plain):
            f.unlink()
        rec4, plain4, n4 = fusion_inputs(tmp, args.long_hours)
        size4_mb = rec4.stat().st_size / 2**20
        _t4, rss4_ours = timed([exe, "replay", str(rec4), "--json"], env)
        _t4b, rss4_base = timed([sys.executable, str(base_py), str(plain4)], env)
    h, h4 = f"{args.hours:g} h", f"{args.long_hours:g} h"
    print(f"\n{h} at 100 Hz: {n:,} samples, {size_mb:.1f} MiB v1 CSV; {h4}: {n4:,} samples, "
          f"{size4_mb:.1f} MiB (RSS in MiB too); best of {args.repeat}, this machine: {os.cpu_count()} cores\n")  # fmt: skip
    print("| measure | imu-host | Fusion baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| whole `replay --json`, {h} (s) | {t_ours:.2f} | {t_base:.2f} | "
          f"{t_ours / t_base:.2f} | <= 1.0 (toward 0.4) |")  # fmt: skip
    print(f"| processing alone (samples/s) | {rate:,.0f} | | | >= 1,000,000 |")
    print(f"| rep detector alone (samples/s; vs its reference step loop) | {det_fast:,.0f} | "
          f"{det_ref:,.0f} | {det_fast / det_ref:.2f} | >= 2,500,000 |")  # fmt: skip
    print("| `batch` 100 files --jobs 2 vs shell loop | see `benchmarks/bench_batch.py` | | | "
          "<= 0.1 |")  # fmt: skip
    print(f"| peak RSS {h} (MiB; x file) | {rss_ours:.1f} ({rss_ours / size_mb:.2f}x) | "
          f"{rss_base:.1f} | {rss_ours / rss_base:.2f} | <= 2x file ({2 * size_mb:.1f}) |")  # fmt: skip
    print(f"| peak RSS {h4} (MiB; x file) | {rss4_ours:.1f} ({rss4_ours / size4_mb:.2f}x) | "
          f"{rss4_base:.1f} | {rss4_ours / rss4_base:.2f} | <= 2x file ({2 * size4_mb:.1f}) |")  # fmt: skip
    print(f"\nwhere the {h} replay's time goes (in-process, best of {args.repeat}):\n")
    print("| phase | s |")
    print("|---|---|")
    print(f"| start-up (`imu-host --version`) | {t_start:.2f} |")
    for name, dt in split:
        print(f"| {name} | {dt:.2f} |")


if __name__ == "__main__":
    main()
