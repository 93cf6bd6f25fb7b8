"""The seeded multi-sensor suite against the simulator's truth, and its cost.

For every (scenario, seed) of ``multi_suite(SEEDS, FIRST)`` (7 scenarios x 7 seeds = 49
sessions by default, seeds 1..7): the multi-board pipeline fed in the simulated host's
read order, scored by ``score_multi`` (rep counts and sides, knees_apart / shoulder_lift
precision and recall, separation / trunk-roll / lag errors, clock alignment error per
board), next to the single-board pipeline on the left thigh alone (the baseline: "counts
as exact as single-sensor"). Speed: multi-board processing time as a ratio of the
single-board pipelines run on the same thighs' samples in the same run.

    .venv/bin/python benchmarks/bench_multi.py [SEEDS] [--first-seed N] [--no-pings]
        [--link-asymmetry-ms MS] [--refine-with-pings]

``--first-seed 101`` runs a fresh seed set (101..107) the tuning has never seen.
``--no-pings``: clocks from arrival times only (as before the pings; the same sessions,
the pings come from their own random stream). ``--link-asymmetry-ms``: each board's
down-link latency floor differs from its up-link's by up to this much (default 1 ms), the
error the pings' midpoint cannot see (a sensitivity check of NTP's assumption).
``--refine-with-pings``: the shared-motion shifts correct the ping clocks too
(``MultiSettings.refine_with_pings``).
Alignment per board: the per-session median |error| (the goal: <= 10 ms in every
session), and the distribution within sessions (90th percentile and max |error| over
each session, the first minutes of clock fitting included).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from imu_host.core.multi import KNEES_APART, SHOULDER_LIFT, MultiSettings
from imu_host.core.pipeline import Pipeline
from imu_host.sim.multibody import (
    LINK_ASYMMETRY_S,
    multi_suite,
    run_multi,
    score_multi,
    simulate_multi,
)

OTHER_ROLES = ("right-thigh", "sternum")


def single(sim, role: str) -> tuple[bool, float]:
    s = sim.samples[role]
    t0 = time.perf_counter()
    p = Pipeline(sim.sample_rate_hz[role], s.has_gyro)
    for i in range(0, len(s), 5):  # frame by frame, as live
        p.feed(s.slice(i, i + 5))
    p.finish()
    el = time.perf_counter() - t0
    return [r.side for r in p.reps] == [r["side"] for r in sim.truth["reps"]], el


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", nargs="?", type=int, default=7, help="seeds per scenario (7)")
    ap.add_argument("--first-seed", type=int, default=1, help="first seed of the set (1)")
    ap.add_argument("--no-pings", action="store_true", help="clocks from arrival times only")
    ap.add_argument("--link-asymmetry-ms", type=float, default=LINK_ASYMMETRY_S * 1000,
                    help="down-link floor within +- this of the up-link's (1 ms)")  # fmt: skip
    ap.add_argument("--refine-with-pings", action="store_true",
                    help="shared-motion shifts correct the ping clocks too")  # fmt: skip
    args = ap.parse_args()
    settings = MultiSettings(refine_with_pings=True) if args.refine_with_pings else None
    asym_s = args.link_asymmetry_ms / 1000.0
    rows, scores = [], []
    t_multi = t_single = 0.0
    single_ok = []
    for name, seed in multi_suite(args.seeds, args.first_seed):
        sim = simulate_multi(name, seed, link_asymmetry_s=asym_s)
        t0 = time.perf_counter()
        mp = run_multi(sim, settings, pings=not args.no_pings)
        t_multi += time.perf_counter() - t0
        sc = score_multi(sim, mp)
        ok1, el = single(sim, "left-thigh")
        t_single += el
        if "right-thigh" in sim.samples:
            t_single += single(sim, "right-thigh")[1]
        single_ok.append(ok1)
        scores.append(sc)
        al = sc["align_err_s"]
        rows.append(
            f"| {name} | {seed} | {sim.truth['boards']['left-thigh']['link']} | "
            f"{sc['reps']}/{sc['truth_reps']} | "
            f"{'yes' if sc['counts_ok'] else 'NO'} | {'yes' if ok1 else 'no'} | "
            f"{sc[KNEES_APART]['tp']}/{sc[KNEES_APART]['fp']}/{sc[KNEES_APART]['fn']} | "
            f"{sc[SHOULDER_LIFT]['tp']}/{sc[SHOULDER_LIFT]['fp']}/{sc[SHOULDER_LIFT]['fn']} | "
            + " | ".join("-" if r not in al else f"{al[r] * 1000:.1f}" for r in OTHER_ROLES)
            + " |"
        )
    print("| scenario | seed | link | reps | counts exact | single exact | knees_apart tp/fp/fn "
          "| shoulder_lift tp/fp/fn | align right ms | align sternum ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    n = len(scores)
    exact = sum(s["counts_ok"] for s in scores)
    how = (
        "arrival times only"
        if args.no_pings
        else (
            f"pings, link asymmetry +-{args.link_asymmetry_ms:g} ms"
            + (", shared motion refines them" if args.refine_with_pings else "")
        )
    )
    print(f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1} ({how}); sessions: {n}; "
          f"counts exact (sides in order): multi {exact}/{n}, "
          f"single-board left thigh {sum(single_ok)}/{n}; multi exact wherever single is: "
          f"{all(s['counts_ok'] for s, o in zip(scores, single_ok, strict=True) if o)}")  # fmt: skip
    for kind in (KNEES_APART, SHOULDER_LIFT):
        tp = sum(s[kind]["tp"] for s in scores)
        fp = sum(s[kind]["fp"] for s in scores)
        fn = sum(s[kind]["fn"] for s in scores)
        print(f"{kind}: tp {tp} fp {fp} fn {fn}; precision {tp / max(1, tp + fp):.3f}, "
              f"recall {tp / max(1, tp + fn):.3f}")  # fmt: skip
    for key, unit in (("separation_err_deg", "deg"), ("trunk_err_deg", "deg"),
                      ("lag_err_s", "s")):  # fmt: skip
        e = np.array([x for s in scores for x in s[key]])
        print(f"{key}: median {np.median(e):.2f} {unit}, 90th pct {np.percentile(e, 90):.2f}, "
              f"max {e.max():.2f} (n={len(e)})")  # fmt: skip
    for role in OTHER_ROLES:
        e = np.array([s["align_err_s"][role] for s in scores if role in s["align_err_s"]]) * 1000
        p90 = np.array([s["align_spread_s"][role]["p90"] for s in scores
                        if role in s["align_spread_s"]]) * 1000  # fmt: skip
        mx = np.array([s["align_spread_s"][role]["max"] for s in scores
                       if role in s["align_spread_s"]]) * 1000  # fmt: skip
        print(f"alignment {role} (per-session median |error|): median {np.median(e):.1f} ms, "
              f"90th pct {np.percentile(e, 90):.1f} ms, max {e.max():.1f} ms, "
              f"sessions <= 10 ms: {int((e <= 10).sum())}/{len(e)}; within sessions: "
              f"90th pct |error| median {np.median(p90):.1f} ms (max {p90.max():.1f}), "
              f"max |error| median {np.median(mx):.1f} ms (max {mx.max():.1f})")  # fmt: skip
    print(f"speed: multi-board pipeline {t_multi:.1f} s vs single-board pipelines on the same "
          f"thighs {t_single:.1f} s: ratio {t_multi / t_single:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
