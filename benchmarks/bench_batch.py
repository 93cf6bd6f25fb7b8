"""``imu-host batch`` over 100 recordings with --jobs 2 vs a shell loop of ``imu-host replay``
(goal, issue 13: <= 0.1x). Usage: python benchmarks/bench_batch.py [N]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import REPO, env_without_history, imu_host_cmd, table  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    golden = sorted((REPO / "recordings").glob("*.csv"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        folder = tmp / "sessions"
        folder.mkdir()
        for i in range(n):
            shutil.copy(golden[i % len(golden)], folder / f"s{i:03d}.csv")
        env = env_without_history(tmp)
        files = sorted(folder.glob("*.csv"))
        cmd = " ".join(imu_host_cmd())
        loop = (
            "for f in "
            + " ".join(map(str, files))
            + f'; do {cmd} replay "$f" --json --no-save; done'
        )
        subprocess.run([*imu_host_cmd(), "replay", str(files[0]), "--json", "--no-save"],
                       stdout=subprocess.DEVNULL, env=env, check=True)  # warm-up (bytecode)  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(
            ["sh", "-c", loop], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        t_loop = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([*imu_host_cmd(), "batch", str(folder), "--jobs", "2", "--no-progress"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        t_batch = time.perf_counter() - t0
    rows = [
        (f"shell loop: imu-host replay x {n}", f"{t_loop:.1f}", "1.00", "-"),
        (f"imu-host batch ({n} files) --jobs 2", f"{t_batch:.1f}", f"{t_batch / t_loop:.3f}",
         "<= 0.1"),
    ]  # fmt: skip
    print(f"{n} copies of the golden recordings ({len(golden)} distinct), same run")
    print(table(rows, ("command", "seconds", "ratio", "goal")))


if __name__ == "__main__":
    main()
