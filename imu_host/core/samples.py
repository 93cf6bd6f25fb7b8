"""The sample block that flows between stages: physical units, named where they live."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Samples:
    """A block of consecutive IMU samples in physical units.

    - ``t_s``: (N,) float64 seconds since the start of the stream, non-decreasing; a jump
      larger than one sample period means samples were lost there.
    - ``accel_g``: (N, 3) float64 specific force in g (reads +1 g "up" when at rest).
    - ``gyro_dps``: (N, 3) float64 angular rate in deg/s, or ``None`` (accelerometer only).
    """

    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.accel_g.shape != (n, 3):
            raise ValueError(f"accel_g must have shape ({n}, 3), got {self.accel_g.shape}")
        if self.gyro_dps is not None and self.gyro_dps.shape != (n, 3):
            raise ValueError(f"gyro_dps must have shape ({n}, 3), got {self.gyro_dps.shape}")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def has_gyro(self) -> bool:
        return self.gyro_dps is not None

    def slice(self, start: int, stop: int) -> Samples:
        g = None if self.gyro_dps is None else self.gyro_dps[start:stop]
        return Samples(self.t_s[start:stop], self.accel_g[start:stop], g)

    @staticmethod
    def concat(blocks: list[Samples]) -> Samples:
        if not blocks:
            return Samples(np.zeros(0), np.zeros((0, 3)), None)
        has_gyro = all(b.gyro_dps is not None for b in blocks)
        return Samples(
            np.concatenate([b.t_s for b in blocks]),
            np.concatenate([b.accel_g for b in blocks]),
            np.concatenate([b.gyro_dps for b in blocks]) if has_gyro else None,
        )
