"""The v1 reader's speed and peak memory for 1 h and 4 h recordings (100 Hz, accel + gyro).

Speed (the first length only): ``read_recording`` in-process through each strict-row
reader (the compiled one, its numpy twin) and through the general reader alone (numpy's
loadtxt per block, what every block took before the strict readers), best of
``--repeat``, alternating, with each reader's time as a ratio of the general reader's in
the same run (goal, issue 13: <= 0.5).

Also timed: the streaming reader (``open_recording``: the same parsing, the samples handed
on in blocks of 16384 and never all held), as a ratio of the general reader's time.

Memory: peak RSS of a process that only reads the recording (whole, and streamed) and of a
whole replay (which streams), against the file size (goal: replay peak <= 2x the file size,
and flat in the recording's length).

Usage: python benchmarks/bench_parse.py [--repeat N] [hours ...]   (default: 1 4)
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import PY, REPO, imu_host_cmd, peak_rss_mb, table  # noqa: E402


def long_recording(out: Path, hours: float) -> Path:
    from imu_host.core.samples import Samples
    from imu_host.io.recording import RecordingWriter, read_recording

    rec = read_recording(REPO / "recordings" / "controlled_medium_s1.csv")
    s, rate = rec.samples, rec.sample_rate_hz
    n_total = int(hours * 3600 * rate)
    with RecordingWriter(out, rate, s.has_gyro, {"source": "bench_parse"}) as w:
        done = 0
        while done < n_total:
            m = min(len(s), n_total - done)
            t = (done + np.arange(m)) / rate
            w.write(Samples(t, s.accel_g[:m], None if s.gyro_dps is None else s.gyro_dps[:m]))
            done += m
    return out


def reader_times(path: Path, repeat: int) -> list[tuple[str, float, float]]:
    """(reader, best wall s, best CPU s) of read_recording through each block reader."""
    from imu_host.io import recording as rec

    modes = {"general (loadtxt per block)": lambda *a: None,
             "strict, numpy": rec._exact_block_numpy}  # fmt: skip
    if rec._strict_csv is not None:
        modes["strict, compiled"] = rec._exact_block_c
    best = {m: (math.inf, math.inf) for m in modes}
    saved = rec._exact_block
    try:
        for _ in range(repeat):
            for name, fn in modes.items():
                rec._exact_block = fn
                w0, c0 = time.perf_counter(), time.process_time()
                rec.read_recording(path)
                w, c = time.perf_counter() - w0, time.process_time() - c0
                best[name] = (min(best[name][0], w), min(best[name][1], c))
    finally:
        rec._exact_block = saved
    out = [(m, *best[m]) for m in modes]
    best_s = (math.inf, math.inf)
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        with rec.open_recording(path) as stream:
            for _block in stream.blocks():
                pass
        w, c = time.perf_counter() - w0, time.process_time() - c0
        best_s = (min(best_s[0], w), min(best_s[1], c))
    return [*out, ("streamed (open_recording, default reader)", *best_s)]


def main() -> None:
    args = sys.argv[1:]
    repeat = 7
    if args[:1] == ["--repeat"]:
        repeat, args = int(args[1]), args[2:]
    hours = [float(h) for h in args] or [1.0, 4.0]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = peak_rss_mb([PY, "-c", "import numpy"])
        for i, h in enumerate(hours):
            f = long_recording(tmp / f"rec_{h:g}h.csv", h)
            if i == 0:
                times = reader_times(f, repeat)
                size_mb = f.stat().st_size / 2**20
                g_wall, g_cpu = times[0][1], times[0][2]
                print(
                    f"read_recording of {h:g} h ({size_mb:.0f} MB), best of {repeat}, alternating"
                )
                print(table([(m, f"{w:.3f}", f"{w / g_wall:.2f}", f"{c:.3f}", f"{c / g_cpu:.2f}")
                             for m, w, c in times],
                            ("reader", "wall s", "ratio", "CPU s", "CPU ratio")))  # fmt: skip
                print()
            size = f.stat().st_size / 2**20
            reader = peak_rss_mb([PY, "-c", f"from imu_host.io.recording import read_recording; "
                                  f"read_recording({str(f)!r})"])  # fmt: skip
            streamed = peak_rss_mb([PY, "-c", "from imu_host.io.recording import open_recording\n"
                                    f"with open_recording({str(f)!r}) as s:\n"
                                    "    for b in s.blocks(): pass"])  # fmt: skip
            t0 = time.perf_counter()
            replay = peak_rss_mb([*imu_host_cmd(), "replay", str(f), "--json", "--no-save"])
            wall = time.perf_counter() - t0
            rows.append((f"{h:g} h", f"{size:.0f}", f"{reader:.0f}", f"{reader - base:.0f}",
                         f"{(reader - base) / size:.2f}", f"{streamed:.0f}", f"{replay:.0f}",
                         f"{replay / size:.2f}", f"{wall:.1f}"))  # fmt: skip
            f.unlink()
    print(f"python -c 'import numpy' peak RSS: {base:.0f} MB")
    print(table(rows, ("recording", "file MB", "reader peak MB", "reader - numpy MB",
                       "x file size", "streamed reader peak MB", "replay peak MB",
                       "replay x file size", "replay s")))  # fmt: skip


if __name__ == "__main__":
    main()
