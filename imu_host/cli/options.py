"""Command-line options shared by the commands that read recordings or run the pipeline."""

from __future__ import annotations

import argparse
from dataclasses import replace

from imu_host.core.orientation import OrientationSettings
from imu_host.core.pipeline import Settings
from imu_host.core.reps.detector import DetectorSettings
from imu_host.io.recording import MEX_OPTIONS, ImportOptions


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("foreign CSV import (files that are not imu-host v1 recordings)")
    g.add_argument(
        "--format",
        choices=("v1", "mex", "csv"),
        default=None,
        help="v1 = imu-host recording (default); mex = MEx dataset (no header, ISO time, "
        "x,y,z in g); csv = use the options below",
    )
    g.add_argument(
        "--columns",
        metavar="SPEC",
        help="column roles in file order, e.g. 't,ax,ay,az,gx,gy,gz' ('-' skips one), or "
        "with --header 't=time,ax=accX,...'",
    )
    g.add_argument("--header", action="store_true", help="the first line names the columns")
    g.add_argument("--time", choices=("s", "ms", "iso"), default="s", help="time column unit")
    g.add_argument("--accel-units", choices=("g", "m/s^2"), default="g")
    g.add_argument("--gyro-units", choices=("dps", "rad/s"), default="dps")
    g.add_argument("--delimiter", default=",", help="field separator (default ',')")
    g.add_argument("--rate", type=float, metavar="HZ", help="sample rate (default: from the file)")


def import_options(args: argparse.Namespace) -> ImportOptions | None:
    """ImportOptions from the parsed arguments; None for a v1 recording."""
    fmt = args.format or ("csv" if args.columns else "v1")
    if fmt == "v1":
        return None
    if fmt == "mex":
        return replace(MEX_OPTIONS, sample_rate_hz=args.rate)
    return ImportOptions(
        columns=args.columns or "t,ax,ay,az",
        header=args.header,
        time=args.time,
        accel_units=args.accel_units,
        gyro_units=args.gyro_units,
        delimiter=args.delimiter,
        sample_rate_hz=args.rate,
    )


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    d = DetectorSettings()
    g = parser.add_argument_group("detection")
    g.add_argument(
        "--fast-drop-dps",
        type=float,
        default=d.fast_drop_dps,
        metavar="DPS",
        help=f"peak descent speed that flags a fast drop (default {d.fast_drop_dps:g})",
    )
    g.add_argument(
        "--fast-return-dps",
        type=float,
        default=d.fast_return_dps,
        metavar="DPS",
        help=f"peak return speed that flags a yanked return (default {d.fast_return_dps:g})",
    )
    g.add_argument(
        "--swap-sides", action="store_true", help="swap left and right (sensor worn reversed)"
    )
    g.add_argument(
        "--thigh-axis",
        choices=("+x", "-x", "+y", "-y", "+z", "-z"),
        default="+x",
        help="sensor axis that points along the thigh toward the knee (default +x)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        orientation=OrientationSettings(thigh_axis=args.thigh_axis),
        detector=DetectorSettings(
            fast_drop_dps=args.fast_drop_dps,
            fast_return_dps=args.fast_return_dps,
            swap_sides=args.swap_sides,
        ),
    )
