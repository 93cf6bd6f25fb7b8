"""Seeded robustness suite: every simulator family, the issue-9 families weighted up.

Prints one row per family: recordings, exact-count rate, fast-drop precision / recall /
F1, reps counted while upright (walking, getting down), median ROM error against the
simulator's true amplitude; then the same over the issue-9 families and over everything.
Truth is the simulator's movement model (``imu_host.sim.score``).

    .venv/bin/python benchmarks/bench_suite.py            # default seeds (>= 150 recordings)
    .venv/bin/python benchmarks/bench_suite.py --quick    # 2 seeds of the issue-9 families
    .venv/bin/python benchmarks/bench_suite.py --failures # also list every failing recording
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys

from imu_host.analysis import analyze
from imu_host.io.recording import Recording
from imu_host.sim.generate import list_scenarios, simulate
from imu_host.sim.scenarios import NEW_FAMILIES
from imu_host.sim.score import Score, median, prf, score

NEW_SEEDS = range(101, 113)  # 12 seeds of each issue-9 family
OLD_SEEDS = range(101, 104)  # 3 seeds of every other family


def plan(quick: bool) -> list[tuple[str, int]]:
    if quick:
        return [(n, s) for n in NEW_FAMILIES for s in (1, 2)]
    out = [(n, s) for n in NEW_FAMILIES for s in NEW_SEEDS]
    out += [(n, s) for n in list_scenarios() if n not in NEW_FAMILIES for s in OLD_SEEDS]
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
    rom = median([e for r in res for e in r.rom_err_deg])
    return (
        f"{label:<24} {len(res):>4} {100 * exact:>7.1f} {p:>6.3f} {rc:>6.3f} {f1:>6.3f}"
        f" {tp + fn:>5} {up:>7} {rom:>8.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--failures", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    jobs = plan(args.quick)
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(run_one, jobs, chunksize=1)
    by: dict[str, list[Score]] = {}
    for name, _seed, sc in results:
        by.setdefault(name, []).append(sc)
    print(f"{'family':<24} {'n':>4} {'exact%':>7} {'P':>6} {'R':>6} {'F1':>6} {'drops':>5}"
          f" {'upright':>7} {'ROM err':>8}")  # fmt: skip
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
