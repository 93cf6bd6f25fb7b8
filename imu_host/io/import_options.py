"""How to read a foreign file (shared by the importers, the v1 loader and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportOptions:
    """How to read a foreign file.

    - ``format``: ``csv`` (the options below), ``phyphox``, ``sensorlogger`` or ``raw``
      (a byte capture of the board's stream); the last three need no other option.
    - ``columns``: the role of each column, in file order, comma separated. Roles are
      ``t, ax, ay, az, gx, gy, gz`` and ``-`` (ignore). With a header row, column names
      may be given instead of positions as ``role=name`` pairs, e.g.
      ``t=time,ax=accX,ay=accY,az=accZ`` (names are matched without quotes, then
      ignoring case).
    - ``header``: whether the first data line names the columns.
    - ``time``: ``s``, ``ms``, ``us``, ``ns`` or ``iso`` (ISO 8601 date-times).
    - ``accel_units``: ``g``, ``m/s^2`` or ``counts`` (with ``accel_lsb_per_g``);
      ``gyro_units``: ``dps``, ``rad/s`` or ``counts`` (with ``gyro_lsb_per_dps``).
    - ``delimiter``: one character (``\\t`` for tabs; ``" "`` splits on any whitespace);
      ``decimal``: ``.`` or ``,`` (decimal comma, with a delimiter other than ``,``).
    - ``sample_rate_hz``: nominal rate; ``None`` estimates it from the timestamps.

    Lines starting with ``#`` or ``//`` are comments; without ``header``, banner lines
    before the first data row (an Arduino sketch's greeting) are skipped with a notice.
    """

    columns: str = "t,ax,ay,az"
    header: bool = False
    time: str = "s"
    accel_units: str = "g"
    gyro_units: str = "dps"
    delimiter: str = ","
    sample_rate_hz: float | None = None
    accel_lsb_per_g: float | None = None
    gyro_lsb_per_dps: float | None = None
    decimal: str = "."
    format: str = "csv"


# The public MEx dataset (thigh accelerometer, no header, ISO time, x,y,z in g).
MEX_OPTIONS = ImportOptions(columns="t,ax,ay,az", header=False, time="iso", accel_units="g")
