"""Regenerate the shared test vectors (firmware bytes produced under MicroPython).

    .venv/bin/python tests/fw_vectors/make_vectors.py

- motion.f32: known motion, float32 x 6 per sample (ax ay az in g, gx gy gz in deg/s):
  knee rolls (gravity rotated by the roll angle, gyro = roll rate) plus a little noise,
  500 samples. Fed to the fake sensors.
- mpu6050_stream.bin: what the firmware sent (fake MPU-6050 at 100 Hz, 4 samples per
  frame, +-4 g / +-500 dps, a 35 ms loop stall every 50 polls, one host ping at 1 s).
- mpu6050_meta.json: harness report (counters); first_index = motion index of seq 0,
  found by matching the decoded stream against the quantised motion table (the
  firmware skips the MPU's settling gyro samples after wake, so it is not the first
  sample the fake produced).
- commands.bin: host encode_command() output the firmware decoder must accept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MP = Path(sys.prefix) / "bin" / "micropython"

VECTOR_ARGS = [
    "sensor=mpu6050",
    "seconds=3",
    "step_us=1000",
    "stall_every=50",
    "stall_us=35000",
    "heap_lock=1",
    "spf=4",
    "cmd_at_s=1.0",
]

COMMANDS = [("ping", 0, 0x1234), ("info", 0, 7), ("identify", 3, 8)]


def knee_motion(n: int = 500, rate_hz: float = 100.0, seed: int = 3) -> np.ndarray:
    """Roll angle theta(t) (deg, + = knees left) -> ideal sensor readings, float32 (n, 6)."""
    t = np.arange(n) / rate_hz
    theta = 38.0 * np.sin(2 * np.pi * t / 2.5)  # deg
    rate = 38.0 * 2 * np.pi / 2.5 * np.cos(2 * np.pi * t / 2.5)  # deg/s
    th = np.radians(theta)
    rng = np.random.default_rng(seed)
    m = np.zeros((n, 6))
    m[:, 0] = 0.0
    m[:, 1] = -np.sin(th)
    m[:, 2] = np.cos(th)
    m[:, 3] = -rate
    m[:, :3] += rng.normal(0, 0.01, (n, 3))
    m[:, 3:] += rng.normal(0, 0.5, (n, 3))
    return m.astype(np.float32)


def _match_first_index(stream: Path, motion: Path) -> int:
    from imu_host.protocol.frames import SampleFrame, decode_all

    m = np.fromfile(motion, dtype="<f4").reshape(-1, 6).astype(np.float64)
    exp = np.clip(
        np.hstack([np.floor(m[:, :3] * 8192 + 0.5), np.floor(m[:, 3:] * 65.5 + 0.5)]),
        -32768,
        32767,
    )
    first = next(f for f in decode_all(stream.read_bytes()) if isinstance(f, SampleFrame))
    for k in range(len(exp)):
        if np.array_equal(first.counts[: min(first.n, 4)], exp[k : k + min(first.n, 4)]):
            return k - first.seq
    raise SystemExit("the stream matches no position of the motion table")


def main() -> None:
    from imu_host.protocol.frames import encode_command

    knee_motion().tofile(HERE / "motion.f32")
    (HERE / "commands.bin").write_bytes(b"".join(encode_command(c, a, t) for c, a, t in COMMANDS))
    env = dict(
        os.environ, MICROPYPATH=f"{ROOT / 'firmware_micropython'}:{ROOT / 'tests/fw_support'}"
    )
    r = subprocess.run(
        [str(MP), "-X", "heapsize=32M", str(ROOT / "tests/fw_support/mp_run_fake.py")]
        + VECTOR_ARGS
        + [f"motion={HERE / 'motion.f32'}", f"out={HERE / 'mpu6050_stream.bin'}"]
        + [f"cmds={HERE / 'commands.bin'}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    meta = json.loads(r.stdout)
    meta.pop("mem_before", None)  # varies from run to run
    meta["first_index"] = _match_first_index(HERE / "mpu6050_stream.bin", HERE / "motion.f32")
    (HERE / "mpu6050_meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(meta)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
