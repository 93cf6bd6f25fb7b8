"""Command-line options shared by the commands that read recordings or run the pipeline.

The validators here (``positive_int``, ``positive_float``, ``rate_hz``, ``thigh_axis``,
``delimiter``) are the one definition of what a number or name on the command line may
be; every command uses them, so ``--target 0`` or ``--fast-drop-dps nan`` is refused
with the same one line everywhere.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

from imu_host.io.limits import MAX_RATE_HZ, MIN_RATE_HZ

FORMATS = ("v1", "mex", "csv", "phyphox", "sensorlogger", "raw")
TIME_UNITS = ("s", "ms", "us", "ns", "iso")
ACCEL_UNITS = ("g", "m/s^2", "counts")
GYRO_UNITS = ("dps", "rad/s", "counts")
AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
_AXIS_SPELLINGS = {"": "+", "+": "+", "-": "-", "pos-": "+", "neg-": "-", "plus-": "+"}
_DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "\t": "\t",
    "space": " ",
    "whitespace": " ",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
}


# ----------------------------------------------------------------------------- validators


def positive_int(text: str) -> int:
    """A whole number >= 1 (rep targets)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """A finite number > 0 (speed thresholds, durations)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return v


def rate_hz(text: str) -> float:
    """A sample rate in the range a wearable IMU can have."""
    v = positive_float(text)
    if not MIN_RATE_HZ <= v <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(
            f"expected a sample rate from {MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} Hz, got {text!r}"
        )
    return v


def thigh_axis(text: str) -> str:
    """``+x``/``x``/``-y``/``neg-y``/``pos-z`` -> the canonical ``+x`` ... ``-z``."""
    t = text.strip().lower()
    sign, axis = t[:-1], t[-1:]
    if sign in _AXIS_SPELLINGS and axis in ("x", "y", "z"):
        return _AXIS_SPELLINGS[sign] + axis
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(AXES)} (or neg-x, neg-y, neg-z), got {text!r}"
    )


def delimiter(text: str) -> str:
    """One character, or a name: tab (also \\t), space, comma, semicolon, pipe."""
    named = _DELIMITER_NAMES.get(text.lower() if len(text) > 1 else text)
    if named is not None:
        return named
    if len(text) != 1 or text in '\r\n"' or text.isalnum() or text in ".-+":
        raise argparse.ArgumentTypeError(
            f"expected one separator character or tab/space/semicolon, got {text!r}"
        )
    return text


# ----------------------------------------------------------------------------- import


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("foreign data (files that are not imu-host v1 recordings)")
    g.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="v1 = imu-host recording (default; .bin raw captures are recognised); "
        "mex = MEx dataset (no header, ISO time, x,y,z in g); phyphox = phyphox export "
        "(CSV, folder or .zip); sensorlogger = Sensor Logger export (CSV, folder or .zip); "
        "raw = byte capture of the board's stream (live --raw); csv = use the options below",
    )
    g.add_argument(
        "--columns",
        metavar="SPEC",
        help="column roles in file order, e.g. 't,ax,ay,az,gx,gy,gz' ('-' skips one), or "
        "with --header 't=time,ax=accX,...' (header names without quotes)",
    )
    g.add_argument("--header", action="store_true", help="the first data line names the columns")
    g.add_argument("--time", choices=TIME_UNITS, default="s", help="time column unit (default s)")
    g.add_argument("--accel-units", choices=ACCEL_UNITS, default="g")
    g.add_argument(
        "--accel-lsb-per-g",
        type=positive_float,
        metavar="N",
        help="with --accel-units counts: counts per g (MPU-6050 at ±2 g: 16384)",
    )
    g.add_argument("--gyro-units", choices=GYRO_UNITS, default="dps")
    g.add_argument(
        "--gyro-lsb-per-dps",
        type=positive_float,
        metavar="N",
        help="with --gyro-units counts: counts per °/s (MPU-6050 at ±250 °/s: 131)",
    )
    g.add_argument(
        "--delimiter",
        type=delimiter,
        default=",",
        help="field separator: one character or tab, space, semicolon (default ',')",
    )
    g.add_argument(
        "--decimal-comma",
        action="store_true",
        help="numbers are written 0,5 (with --delimiter ';')",
    )
    g.add_argument(
        "--rate", type=rate_hz, metavar="HZ", help="sample rate (default: from the file)"
    )


def import_options(args: argparse.Namespace):  # noqa: ANN201  (ImportOptions | None)
    """ImportOptions from the parsed arguments; None for a v1 recording."""
    from imu_host.io.import_options import MEX_OPTIONS, ImportOptions

    fmt = args.format or ("csv" if args.columns else "v1")
    if fmt == "v1":
        return None
    if fmt == "mex":
        return replace(MEX_OPTIONS, sample_rate_hz=args.rate)
    if fmt in ("phyphox", "sensorlogger", "raw"):
        return ImportOptions(format=fmt, sample_rate_hz=args.rate)
    return ImportOptions(
        columns=args.columns or "t,ax,ay,az",
        header=args.header,
        time=args.time,
        accel_units=args.accel_units,
        gyro_units=args.gyro_units,
        delimiter=args.delimiter,
        sample_rate_hz=args.rate,
        accel_lsb_per_g=args.accel_lsb_per_g,
        gyro_lsb_per_dps=args.gyro_lsb_per_dps,
        decimal="," if args.decimal_comma else ".",
    )


# ----------------------------------------------------------------------------- detection


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    from imu_host.core.reps.detector import DetectorSettings

    d = DetectorSettings()
    g = parser.add_argument_group("detection")
    g.add_argument(
        "--fast-drop-dps",
        type=positive_float,
        default=d.fast_drop_dps,
        metavar="DPS",
        help=f"peak descent speed that flags a fast drop (default {d.fast_drop_dps:g})",
    )
    g.add_argument(
        "--fast-return-dps",
        type=positive_float,
        default=d.fast_return_dps,
        metavar="DPS",
        help=f"peak return speed that flags a yanked return (default {d.fast_return_dps:g})",
    )
    g.add_argument(
        "--swap-sides", action="store_true", help="swap left and right (sensor worn reversed)"
    )
    g.add_argument(
        "--thigh-axis",
        type=thigh_axis,
        default="+x",
        metavar="AXIS",
        help="sensor axis that points along the thigh toward the knee: +x (default), -x, "
        "+y, -y, +z, -z (neg-y is the same as -y)",
    )


def settings_from_args(args: argparse.Namespace):  # noqa: ANN201  (Settings)
    from imu_host.core.orientation import OrientationSettings
    from imu_host.core.pipeline import Settings
    from imu_host.core.reps.detector import DetectorSettings

    return Settings(
        orientation=OrientationSettings(thigh_axis=args.thigh_axis),
        detector=DetectorSettings(
            fast_drop_dps=args.fast_drop_dps,
            fast_return_dps=args.fast_return_dps,
            swap_sides=args.swap_sides,
        ),
    )
