"""Bounds on what an input file may contain (one definition for readers and the CLI)."""

from __future__ import annotations

MIN_RATE_HZ = 1.0  # below this a knee roll (seconds long) is a handful of samples
MAX_RATE_HZ = 10_000.0  # above any wearable IMU's output data rate
MAX_ACCEL_G = 1_000.0  # |value| in g; sensors saturate at 16 g, so more is not a reading
MAX_GYRO_DPS = 100_000.0  # |value| in deg/s; sensors saturate at 4000 deg/s
MAX_TIME_S = 1e10  # |t| in seconds after unit conversion (~300 years)
MAX_LINE_BYTES = 64 * 1024  # a CSV row longer than this is not a sensor row
SHOWN_CHARS = 40  # at most this much of a bad value is quoted in an error line
CHUNK_BYTES = 1 << 20  # files are read in blocks of this size (bounded memory)
MAX_HEADER_LINES = 10_000  # '#' / banner lines before the data starts
