"""``imu-host simulate``: write a simulated recording plus its ground truth (FILE.truth.json)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from imu_host.errors import InputError

HELP = "write a simulated knee-roll recording (v1 CSV) and FILE.truth.json; --list names scenarios"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="scenario name (see --list)")
    parser.add_argument("--out", metavar="FILE", help="recording to write (never overwritten)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--suite",
        metavar="DIR",
        help="write the whole golden suite (SCENARIO_sSEED.csv + .truth.json) into DIR",
    )


def truth_path(out: str | os.PathLike[str]) -> Path:
    """Where the truth for recording ``out`` goes: ``out`` + ``.truth.json``."""
    return Path(str(out) + ".truth.json")


def write_simulation(scenario: str, seed: int, out: str | os.PathLike[str]) -> dict:
    """Simulate and write ``out`` and ``out.truth.json``; refuses to overwrite either."""
    from imu_host.io.recording import write_recording
    from imu_host.sim import generate as sim

    if scenario not in sim.list_scenarios():
        raise InputError(f"unknown scenario '{scenario}'; valid: {', '.join(sim.list_scenarios())}")
    out = Path(out)
    tp = truth_path(out)
    for p in (out, tp):
        if p.exists():
            raise InputError("already exists; refusing to overwrite", path=str(p))
    res = sim.simulate(scenario, seed)
    meta = {
        "source": "imu-host simulate",
        "scenario": scenario,
        "seed": str(seed),
    }
    write_recording(out, res.samples, res.sample_rate_hz, meta)
    try:
        with open(tp, "x", encoding="utf-8") as fh:
            json.dump(res.truth, fh, indent=1)
            fh.write("\n")
    except FileExistsError:
        raise InputError("already exists; refusing to overwrite", path=str(tp)) from None
    except OSError as err:
        raise InputError(f"cannot create: {err.strerror}", path=str(tp)) from None
    return res.truth


def run(args: argparse.Namespace) -> int:
    from imu_host.sim import generate as sim

    if args.list:
        desc = sim.describe_scenarios()
        width = max(len(n) for n in desc)
        for name, text in desc.items():
            print(f"{name:<{width}}  {text}")
        return 0
    if args.suite:
        d = Path(args.suite)
        if d.exists() and not d.is_dir():
            raise InputError("exists and is not a directory", path=str(d))
        d.mkdir(parents=True, exist_ok=True)
        for name, seed in sim.suite():
            out = d / f"{name}_s{seed}.csv"
            truth = write_simulation(name, seed, out)
            print(f"{out}  reps L{truth['reps_left']} R{truth['reps_right']}")
        return 0
    if not args.scenario:
        raise InputError("give a SCENARIO and --out FILE (or --list, or --suite DIR)")
    if not args.out:
        raise InputError("--out FILE is required")
    truth = write_simulation(args.scenario, args.seed, args.out)
    print(
        f"wrote {args.out} and {truth_path(args.out)}: {truth['scenario']} seed {truth['seed']}, "
        f"{truth['reps_left']} left + {truth['reps_right']} right reps, "
        f"{sum(r['fast_drop'] for r in truth['reps'])} fast drops"
    )
    return 0
