"""``imu-host batch``: many recordings in one go, one row each plus a total.

Files, folders (their ``*.csv`` and ``*.bin`` files) and globs; ``--jobs N`` analyses in
N processes. Each file's numbers are exactly ``imu-host replay FILE --json --no-save``'s
(the same :func:`~imu_host.analysis.analyze_path` call); a file that fails is reported in its row (``error``)
and the batch goes on. Nothing is stored in the history.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from imu_host.cli.options import (
    add_import_arguments,
    add_settings_arguments,
    import_options,
    positive_int,
    settings_from_args,
)
from imu_host.errors import InputError

HELP = "Analyse many recordings (files, folders, globs) into one table with a total."
SUFFIXES = (".csv", ".bin")
COLUMNS = (
    "file", "reps_left", "reps_right", "reps_total", "clean_reps", "flagged_reps",
    "fast_drops", "rom_mean_left_deg", "rom_mean_right_deg", "rom_max_left_deg",
    "rom_max_right_deg", "asymmetry_pct", "descent_s_median", "hold_s_median",
    "return_s_median", "duration_s", "warnings", "error",
)  # fmt: skip
COUNTS = ("reps_left", "reps_right", "reps_total", "clean_reps", "flagged_reps", "fast_drops")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="recordings, folders or globs")
    parser.add_argument(
        "--jobs", type=positive_int, default=1, metavar="N", help="processes to use (default 1)"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="also write the table to FILE (.csv or .json; never overwritten)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_settings_arguments(parser)
    add_import_arguments(parser)


def expand(paths: list[str]) -> list[str]:
    """Files in command-line order: folders give their recordings (sorted), globs expand;
    a path that matches nothing is kept (its row then names the problem)."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(str(q) for q in Path(p).rglob("*") if q.suffix.lower() in SUFFIXES
                           and q.is_file())  # fmt: skip
            out.extend(found)
        elif not os.path.exists(p) and glob.has_magic(p):
            hits = sorted(glob.glob(p, recursive=True))
            out.extend(h for h in hits if os.path.isfile(h)) if hits else out.append(p)
        else:
            out.append(p)
    seen: set[str] = set()
    unique = []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def analyze_one(path: str, options: Any, settings: Any) -> dict[str, Any]:
    """The replay --json summary of one file, or its one-line error."""
    from imu_host.analysis import analyze_path

    try:
        a = analyze_path(path, options, settings, trace=False)  # a summary needs no trace
    except InputError as err:
        return {"file": path, "error": str(err)}
    except Exception as err:  # noqa: BLE001  (one bad file must not stop the batch)
        return {"file": path, "error": f"internal error: {type(err).__name__}: {err}"}
    return {"file": path, "summary": a.summary, "notices": a.notices}


def _job(task: tuple[str, Any, Any]) -> dict[str, Any]:
    return analyze_one(*task)


def row_of(result: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, None)
    row["file"] = result["file"]
    if "error" in result:
        row["error"] = result["error"]
        return row
    s = result["summary"]
    for k in COUNTS:
        row[k] = s.get(k)
    rm, rx, t = s.get("rom_mean_deg") or {}, s.get("rom_max_deg") or {}, s.get("tempo") or {}
    row["rom_mean_left_deg"], row["rom_mean_right_deg"] = rm.get("left"), rm.get("right")
    row["rom_max_left_deg"], row["rom_max_right_deg"] = rx.get("left"), rx.get("right")
    row["asymmetry_pct"] = s.get("asymmetry_pct")
    for k in ("descent_s_median", "hold_s_median", "return_s_median"):
        row[k] = t.get(k)
    row["duration_s"] = s.get("duration_s")
    row["warnings"] = len(result.get("notices") or []) or None
    return row


def total_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["error"] is None]
    tot: dict[str, Any] = dict.fromkeys(COLUMNS, None)
    tot["file"] = f"TOTAL ({len(ok)} of {len(rows)} files)"
    for k in (*COUNTS, "duration_s"):
        tot[k] = sum(r[k] or 0 for r in ok)
    failed = len(rows) - len(ok)
    tot["error"] = f"{failed} failed" if failed else None
    tot["warnings"] = sum(r["warnings"] or 0 for r in ok) or None
    return tot


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def render(rows: list[dict[str, Any]], total: dict[str, Any]) -> str:
    shown_cols = ("reps_left", "reps_right", "clean_reps", "flagged_reps", "fast_drops",
                  "rom_mean_left_deg", "rom_mean_right_deg", "asymmetry_pct", "duration_s")  # fmt: skip
    heads = ("left", "right", "clean", "flagged", "fast", "ROM L", "ROM R", "asym%", "dur s")
    width = max(12, *(len(os.path.basename(str(r["file"]))) for r in [*rows, total]))
    width = min(width, 48)
    lines = [f"{'file':<{width}} " + " ".join(f"{h:>7}" for h in heads) + "  error"]
    for r in [*rows, total]:
        name = str(r["file"]) if r is total else os.path.basename(str(r["file"]))
        cells = " ".join(f"{_cell(r[c]):>7}" for c in shown_cols)
        lines.append(f"{name[:width]:<{width}} {cells}  {r['error'] or ''}".rstrip())
    return "\n".join(lines)


def _write_out(path: str, results: list[dict[str, Any]], rows: list[dict[str, Any]],
               total: dict[str, Any]) -> None:  # fmt: skip
    from imu_host.paths import create_exclusive

    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError("--out must end in .csv or .json", path=path)
    if suffix == ".json":
        text = json.dumps({"files": results, "total": total}, indent=1) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in [*rows, total]:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        text = buf.getvalue()
    with create_exclusive(path, "batch result", text=True) as fh:
        fh.write(text)


def run(args: argparse.Namespace) -> int:
    options = import_options(args)
    settings = settings_from_args(args)
    files = expand(args.paths)
    if args.out and Path(args.out).exists():
        raise InputError("already exists; refusing to overwrite", path=args.out)
    if not files:
        raise InputError("no recordings found (give files, folders or globs)")
    tasks = [(f, options, settings) for f in files]
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(tasks), unit="file", file=sys.stderr, leave=False)
    results: list[dict[str, Any]] = []
    if args.jobs > 1 and len(tasks) > 1:
        chunk = max(1, len(tasks) // (args.jobs * 4))
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(tasks))) as pool:
            for res in pool.map(_job, tasks, chunksize=chunk):
                results.append(res)
                if progress is not None:
                    progress.update(1)
    else:
        for task in tasks:
            results.append(_job(task))
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    rows = [row_of(r) for r in results]
    total = total_of(rows)
    for r in results:
        for n in r.get("notices") or []:
            print(f"imu-host: warning: {r['file']}: {n}", file=sys.stderr)
    print(render(rows, total))
    if args.out:
        _write_out(args.out, results, rows, total)
        print(f"wrote {args.out}", file=sys.stderr)
    return 1 if total["error"] else 0
