"""Peak memory of the v1 reader and of a whole replay for 1 h and 4 h recordings (100 Hz,
accel + gyro), against the file size (goal, issue 13: reader peak <= 2x the file size).

Usage: python benchmarks/bench_parse.py [hours ...]   (default: 1 4)
"""

from __future__ import annotations

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


def main() -> None:
    hours = [float(h) for h in sys.argv[1:]] or [1.0, 4.0]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = peak_rss_mb([PY, "-c", "import numpy"])
        for h in hours:
            f = long_recording(tmp / f"rec_{h:g}h.csv", h)
            size = f.stat().st_size / 2**20
            reader = peak_rss_mb([PY, "-c", f"from imu_host.io.recording import read_recording; "
                                  f"read_recording({str(f)!r})"])  # fmt: skip
            t0 = time.perf_counter()
            replay = peak_rss_mb([*imu_host_cmd(), "replay", str(f), "--json", "--no-save"])
            wall = time.perf_counter() - t0
            rows.append((f"{h:g} h", f"{size:.0f}", f"{reader:.0f}", f"{reader - base:.0f}",
                         f"{(reader - base) / size:.2f}", f"{replay:.0f}", f"{wall:.1f}"))  # fmt: skip
            f.unlink()
    print(f"python -c 'import numpy' peak RSS: {base:.0f} MB")
    print(table(rows, ("recording", "file MB", "reader peak MB", "reader - numpy MB",
                       "x file size", "replay peak MB", "replay s")))  # fmt: skip


if __name__ == "__main__":
    main()
