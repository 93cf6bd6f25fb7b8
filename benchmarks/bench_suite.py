"""Seeded robustness suite: every simulator family, the issue-9 families weighted up.

Prints one row per family: recordings, exact-count rate, fast-drop precision / recall /
F1, reps counted while upright (walking, getting down), median ROM error against the
simulator's true amplitude and how many matched reps are more than 5 deg off (all reps,
then the true fast drops, with the drops' median error); then the same over the issue-9 families and over everything.
Truth is the simulator's movement model (``imu_host.sim.score``).

    .venv/bin/python benchmarks/bench_suite.py            # default seeds (>= 150 recordings)
    .venv/bin/python benchmarks/bench_suite.py --quick    # 2 seeds of the issue-9 families
    .venv/bin/python benchmarks/bench_suite.py --failures # also list every failing recording
    .venv/bin/python benchmarks/bench_suite.py --real     # the real MEx recordings instead
    .venv/bin/python benchmarks/bench_suite.py --first-seed 201   # fresh seeds (held out)

``--real`` reads ``../shared/real/mex_knee_rolling`` (hand counts in ``labels.csv``, hand-read
peaks in ``excursion_peaks.csv``; sides A/B there are arbitrary) and prints per file: the
count against the hand-count range, the per-side median ROM against the median hand-read
peak of the side matched by timing, the per-rep ROM error after removing each side's
centre offset, and the share of reps flagged as fast drops (no real rep was labelled a
momentum drop).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np

from imu_host.analysis import analyze
from imu_host.io.recording import Recording
from imu_host.sim.generate import list_scenarios, simulate
from imu_host.sim.scenarios import NEW_FAMILIES
from imu_host.sim.score import Score, median, prf, score

ROM_OFF_DEG = 5.0  # a matched rep whose ROM is this far off its true amplitude: "off"
NEW_SEEDS = range(101, 113)  # 12 seeds of each issue-9 family
OLD_SEEDS = range(101, 104)  # 3 seeds of every other family


def plan(quick: bool, first_seed: int = NEW_SEEDS.start) -> list[tuple[str, int]]:
    if quick:
        return [(n, s) for n in NEW_FAMILIES for s in (1, 2)]
    k = first_seed - NEW_SEEDS.start
    out = [(n, s + k) for n in NEW_FAMILIES for s in NEW_SEEDS]
    out += [(n, s + k) for n in list_scenarios() if n not in NEW_FAMILIES for s in OLD_SEEDS]
    return out


def run_one(job: tuple[str, int]) -> tuple[str, int, Score]:
    name, seed = job
    sim = simulate(name, seed)
    a = analyze(Recording(f"{name}:{seed}", sim.samples, sim.sample_rate_hz, {}))
    return name, seed, score(a.reps, sim.truth)


def row(label: str, res: list[Score]) -> str:
    tp = sum(r.flags["fast_drop"][0] for r in res)
    fp = sum(r.flags["fast_drop"][1] for r in res)
    fn = sum(r.flags["fast_drop"][2] for r in res)
    p, rc, f1 = prf(tp, fp, fn)
    exact = sum(r.exact for r in res) / len(res)
    up = sum(r.upright_reps for r in res)
    errs = [e for r in res for e in r.rom_err_deg]
    rom = median(errs)
    off = sum(e > ROM_OFF_DEG for e in errs)
    drops = [e for r in res for e in r.drop_rom_err_deg]
    d_off = sum(e > ROM_OFF_DEG for e in drops)
    return (
        f"{label:<24} {len(res):>4} {100 * exact:>7.1f} {p:>6.3f} {rc:>6.3f} {f1:>6.3f}"
        f" {tp + fn:>5} {up:>7} {rom:>8.2f} {off:>4}/{len(errs):<4} {d_off:>4}/{len(drops):<4}"
        f" {median(drops):>6.2f}"
    )


MEX_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "real" / "mex_knee_rolling"
PEAK_MATCH_S = 1.0  # a detected rep's peak within this of a hand-read peak is that excursion


def real_table() -> int:
    from imu_host.io.recording import MEX_OPTIONS, import_csv

    if not (MEX_DIR / "labels.csv").is_file():
        print(f"real recordings not found at {MEX_DIR}")
        return 1
    with open(MEX_DIR / "labels.csv", newline="") as fh:
        labels = list(csv.DictReader(fh))
    with open(MEX_DIR / "excursion_peaks.csv", newline="") as fh:
        peaks = list(csv.DictReader(fh))
    print(f"{'subject':<8} {'count':>5} {'hand':>6} {'ok':>3} {'A: ROM/hand':>12} {'B: ROM/hand':>12}"
          f" {'rep err':>8} {'matched':>8} {'fast%':>6}")  # fmt: skip
    all_err: list[float] = []
    flagged = total = 0
    for row in labels:
        subj = row["subject"]
        rec = import_csv(MEX_DIR / f"subject_{subj}.csv", MEX_OPTIONS)
        a = analyze(rec)
        t0 = float(rec.samples.t_s[0])
        lo, _, hi = row["count_range"].partition("-")
        n = len(a.reps)
        ok = int(lo) <= n <= int(hi or lo)
        hp = [p for p in peaks if p["subject"] == subj]
        # side correspondence by timing: detected side -> A/B
        pairs = []
        for r in a.reps:
            best = min(hp, key=lambda p: abs(float(p["peak_time_s"]) - (r.peak_s - t0)))
            if abs(float(best["peak_time_s"]) - (r.peak_s - t0)) <= PEAK_MATCH_S:
                pairs.append((r, best))
        sides: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for r, p in pairs:
            sides.setdefault(p["side"], {}).setdefault(r.side, []).append(
                (r.rom_deg, abs(float(p["peak_angle_deg"])))
            )
        cells = {}
        for ab in ("A", "B"):
            byside = sides.get(ab, {})
            if not byside:
                cells[ab] = "-"
                continue
            best_side = max(byside, key=lambda k: len(byside[k]))
            v = np.array(byside[best_side])
            cells[ab] = f"{np.median(v[:, 0]):5.1f}/{np.median(v[:, 1]):4.1f}"
            # per-rep error once the side's centre offset (median difference) is removed
            d = v[:, 0] - v[:, 1]
            all_err += list(np.abs(d - np.median(d)))
        err = [e for e in all_err[-len(pairs) :]] if pairs else []
        fast = sum("fast_drop" in r.flags for r in a.reps)
        flagged, total = flagged + fast, total + n
        print(f"{subj:<8} {n:>5} {row['count_range']:>6} {'yes' if ok else 'NO':>3}"
              f" {cells['A']:>12} {cells['B']:>12} {np.median(err) if err else float('nan'):>8.1f}"
              f" {len(pairs):>4}/{len(hp):<3} {100 * fast / max(n, 1):>6.0f}")  # fmt: skip
    print(f"all: median per-rep ROM error (side offset removed) {np.median(all_err):.1f} deg;"
          f" fast-drop flags on {flagged}/{total} reps")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--failures", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--real", action="store_true")
    ap.add_argument(
        "--first-seed", type=int, default=NEW_SEEDS.start, help="e.g. 201 for fresh seeds"
    )
    args = ap.parse_args(argv)
    if args.real:
        return real_table()
    jobs = plan(args.quick, args.first_seed)
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(run_one, jobs, chunksize=1)
    by: dict[str, list[Score]] = {}
    for name, _seed, sc in results:
        by.setdefault(name, []).append(sc)
    print(f"{'family':<24} {'n':>4} {'exact%':>7} {'P':>6} {'R':>6} {'F1':>6} {'drops':>5}"
          f" {'upright':>7} {'ROM err':>8} {'>5 deg':>9} {'drops>5':>9} {'drop err':>6}")  # fmt: skip
    for name in [*NEW_FAMILIES, *sorted(set(by) - set(NEW_FAMILIES))]:
        if name in by:
            print(row(name, by[name]))
    new = [s for n in NEW_FAMILIES for s in by.get(n, [])]
    print(row("ALL issue-9 families", new))
    print(row("ALL", [s for v in by.values() for s in v]))
    if args.failures:
        for name, seed, sc in results:
            fl = sc.flags["fast_drop"]
            if not sc.exact or fl[1] or fl[2] or sc.upright_reps:
                print(f"  {name}:{seed} got {sc.got} want {sc.want} fast_drop(tp,fp,fn)={fl}"
                      f" upright={sc.upright_reps}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
