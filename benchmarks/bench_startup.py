"""Start-up cost: ``imu-host --version`` and a one-minute replay vs ``python -c "import numpy"``.

Goals (issue 14): --version <= 2x, one-minute replay <= 2.5x the numpy import, both
measured in the same run on the same machine. Usage: python benchmarks/bench_startup.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import PY, REPO, env_without_history, imu_host_cmd, table, timed  # noqa: E402


def one_minute_recording(out: Path) -> Path:
    from imu_host.core.samples import Samples
    from imu_host.io.recording import read_recording, write_recording

    rec = read_recording(REPO / "recordings" / "controlled_medium_s1.csv")
    s = rec.samples
    n = int(60 * rec.sample_rate_hz)
    reps = -(-n // len(s))
    t = [s.t_s + k * (s.t_s[-1] + 1 / rec.sample_rate_hz) for k in range(reps)]
    import numpy as np

    cat = Samples(np.concatenate(t)[:n], np.tile(s.accel_g, (reps, 1))[:n],
                  None if s.gyro_dps is None else np.tile(s.gyro_dps, (reps, 1))[:n])  # fmt: skip
    write_recording(out, cat, rec.sample_rate_hz)
    return out


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rec = one_minute_recording(tmp / "one_minute.csv")
        env = env_without_history(tmp)
        base = timed([PY, "-c", "import numpy"], repeat)
        scipy_signal = timed([PY, "-c", "import numpy, scipy.signal"], repeat)
        version = timed([*imu_host_cmd(), "--version"], repeat, env=env)
        replay = timed(
            [*imu_host_cmd(), "replay", str(rec), "--json", "--no-save"], repeat, env=env
        )
    rows = [
        ('python -c "import numpy" (baseline)', f"{base:.3f}", "1.00", "-"),
        ('python -c "import numpy, scipy.signal"', f"{scipy_signal:.3f}",
         f"{scipy_signal / base:.2f}", "(for scale: what replay no longer imports)"),
        ("imu-host --version", f"{version:.3f}", f"{version / base:.2f}", "<= 2.0"),
        ("imu-host replay (1 min, 100 Hz) --json", f"{replay:.3f}", f"{replay / base:.2f}",
         "<= 2.5"),
    ]  # fmt: skip
    print(f"median of {repeat} runs each, same machine, same run")
    print(table(rows, ("command", "seconds", "ratio", "goal")))


if __name__ == "__main__":
    main()
