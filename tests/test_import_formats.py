"""Other people's data, written the way those tools write it: phyphox, Sensor Logger,
Arduino serial dumps, raw byte captures; plausibility warnings for wrong units.

Ground truth: the golden simulated recording's truth sidecar (rep counts per side). Each
test writes the same samples in a foreign format (units converted by physics: 1 g =
9.80665 m/s^2, 1 rad = 180/pi deg) and checks the count comes back.

Formats (from the tools' sources/docs):
- phyphox (DataExport.java / ExperimentExportSet.swift): quoted header names with units,
  values as Java ``0.000000000E0`` (10 significant digits), separator , ; or tab, decimal
  point or comma; the zip holds one "<set>.csv" per export set plus meta/device.csv and
  meta/time.csv.
- Sensor Logger (awesome-sensor-logger UNITS.md / README): columns ``time`` (ns since
  epoch), ``seconds_elapsed``, ``z, y, x``; m/s^2 and rad/s; TotalAcceleration.csv
  includes gravity (Android), iOS logs Accelerometer.csv without gravity + Gravity.csv.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from imu_host.cli.main import main
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.recording import G0, RecordingWriter, read_recording, write_recording

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "recordings" / "controlled_medium_s1.csv"
TRUTH = json.loads(Path(str(GOLDEN) + ".truth.json").read_text())
REC = read_recording(GOLDEN)
S = REC.samples
RAD = math.pi / 180.0


def _java_e(x: float, decimal: str = ".") -> str:
    """Java DecimalFormat("0.000000000E0"): 9.806650000E0, -1.234567890E-2."""
    m, e = f"{x:.9E}".split("E")
    return f"{m}E{int(e)}".replace(".", decimal)


def _replay(argv: list[str], capsys) -> tuple[int, dict, str]:
    rc = main(["replay", *argv, "--json", "--no-save"])
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out) if cap.out.strip() else {}), cap.err


def _counts(s: dict) -> tuple[int, int]:
    return s["reps_left"], s["reps_right"]


TRUE = (TRUTH["reps_left"], TRUTH["reps_right"])


# ----------------------------------------------------------------------------- phyphox


def _phyphox_csv(cols: list[tuple[str, np.ndarray]], sep: str, decimal: str) -> str:
    head = sep.join(f'"{n}"' for n, _ in cols)
    rows = [
        sep.join(_java_e(float(v[i]), decimal) for _, v in cols) for i in range(len(cols[0][1]))
    ]
    return head + "\n" + "\n".join(rows) + "\n"


def _accel_cols(t: np.ndarray, acc_g: np.ndarray) -> list[tuple[str, np.ndarray]]:
    a = acc_g * G0
    return [
        ("Time (s)", t),
        ("Acceleration x (m/s^2)", a[:, 0]),
        ("Acceleration y (m/s^2)", a[:, 1]),
        ("Acceleration z (m/s^2)", a[:, 2]),
        ("Absolute acceleration (m/s^2)", np.linalg.norm(a, axis=1)),
    ]


def _gyro_cols(t: np.ndarray, g_dps: np.ndarray) -> list[tuple[str, np.ndarray]]:
    w = g_dps * RAD
    return [
        ("Time (s)", t),
        ("Gyroscope x (rad/s)", w[:, 0]),
        ("Gyroscope y (rad/s)", w[:, 1]),
        ("Gyroscope z (rad/s)", w[:, 2]),
        ("Absolute (rad/s)", np.linalg.norm(w, axis=1)),
    ]


@pytest.mark.parametrize("sep,decimal", [(",", "."), (";", ","), ("\t", "."), ("\t", ",")])
def test_phyphox_acceleration_with_g_single_csv(tmp_path, capsys, sep, decimal):
    p = tmp_path / "Raw Data.csv"
    p.write_text(_phyphox_csv(_accel_cols(S.t_s + 0.0123, S.accel_g), sep, decimal))
    rc, s, err = _replay([str(p), "--format", "phyphox"], capsys)
    assert rc == 0, err
    assert s["source"]["has_gyro"] is False
    assert _counts(s) == TRUE
    assert "warning" not in err


def _phyphox_zip(tmp_path: Path, sep: str = ",", decimal: str = ".") -> Path:
    # the gyroscope runs on its own clock: 3 ms later, slightly fewer samples
    tg = S.t_s[5:-5] + 0.003
    z = tmp_path / "phyphox 2026-01-01 10-00-00.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Accelerometer.csv", _phyphox_csv(_accel_cols(S.t_s, S.accel_g), sep, decimal))
        zf.writestr(
            "Gyroscope.csv",
            _phyphox_csv(
                _gyro_cols(tg, S.gyro_dps[5:-5] if S.gyro_dps is not None else S.accel_g),
                sep,
                decimal,
            ),
        )
        zf.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel"\n')
        zf.writestr("meta/time.csv", '"event","experiment time","system time","system time text"\n')
    return z


def test_phyphox_zip_with_accelerometer_and_gyroscope_merged(tmp_path, capsys):
    assert S.gyro_dps is not None
    rc, s, err = _replay([str(_phyphox_zip(tmp_path, ";", ",")), "--format", "phyphox"], capsys)
    assert rc == 0, err
    assert s["source"]["has_gyro"] is True
    assert _counts(s) == TRUE


def test_phyphox_folder_export(tmp_path, capsys):
    z = _phyphox_zip(tmp_path)
    d = tmp_path / "export"
    with zipfile.ZipFile(z) as zf:
        zf.extractall(d)
    from imu_host.io.importers import import_phyphox

    rec = import_phyphox(str(d))
    # gyro interpolated onto the accelerometer's time base, within the gyro's span
    assert rec.samples.gyro_dps is not None
    assert len(rec.samples) == len(S) - 11
    i = len(rec.samples) // 2
    np.testing.assert_allclose(rec.samples.accel_g[i], S.accel_g[i + 6], rtol=1e-8, atol=1e-8)
    rc, s, err = _replay([str(d), "--format", "phyphox"], capsys)
    assert rc == 0, err
    assert _counts(s) == TRUE


def test_phyphox_linear_acceleration_is_refused(tmp_path, capsys):
    p = tmp_path / "Raw Data.csv"
    cols = [("Time (s)", S.t_s[:50])] + [
        (f"Linear Acceleration {c} (m/s^2)", S.accel_g[:50, k]) for k, c in enumerate("xyz")
    ]
    p.write_text(_phyphox_csv(cols, ",", "."))
    rc, _, err = _replay([str(p), "--format", "phyphox"], capsys)
    assert rc == 2 and "gravity removed" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- Sensor Logger


def _sensorlogger_csv(
    t: np.ndarray, xyz: np.ndarray, start_ns: int = 1_698_501_144_401_773_000
) -> str:
    lines = ["time,seconds_elapsed,z,y,x"]
    for ti, (x, y, z) in zip(t, xyz, strict=True):
        lines.append(
            f"{start_ns + round(ti * 1e9)},{float(ti)!r},{float(z)!r},{float(y)!r},{float(x)!r}"
        )
    return "\n".join(lines) + "\n"


def test_sensorlogger_zip_android_total_acceleration(tmp_path, capsys):
    assert S.gyro_dps is not None
    z = tmp_path / "2026-01-01_10-00-00.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("TotalAcceleration.csv", _sensorlogger_csv(S.t_s + 0.21, S.accel_g * G0))
        zf.writestr(
            "Accelerometer.csv",
            _sensorlogger_csv(S.t_s + 0.21, (S.accel_g - S.accel_g.mean(0)) * G0),
        )
        zf.writestr("Gyroscope.csv", _sensorlogger_csv(S.t_s + 0.214, S.gyro_dps * RAD))
        zf.writestr(
            "Metadata.csv", "version,device name,recording time,platform\n3,Pixel,x,android\n"
        )
    rc, s, err = _replay([str(z), "--format", "sensorlogger"], capsys)
    assert rc == 0, err
    assert s["source"]["has_gyro"] is True
    assert _counts(s) == TRUE


def test_sensorlogger_folder_ios_accelerometer_plus_gravity(tmp_path, capsys):
    d = tmp_path / "ios"
    d.mkdir()
    grav = np.tile(S.accel_g.mean(0), (len(S), 1))
    (d / "Accelerometer.csv").write_text(_sensorlogger_csv(S.t_s, (S.accel_g - grav) * G0))
    (d / "Gravity.csv").write_text(_sensorlogger_csv(S.t_s, grav * G0))
    rc, s, err = _replay([str(d), "--format", "sensorlogger"], capsys)
    assert rc == 0, err
    assert _counts(s) == TRUE


def test_sensorlogger_accelerometer_alone_is_refused_not_miscounted(tmp_path, capsys):
    d = tmp_path / "ios"
    d.mkdir()
    (d / "Accelerometer.csv").write_text(
        _sensorlogger_csv(S.t_s, (S.accel_g - S.accel_g.mean(0)) * G0)
    )
    (d / "Gyroscope.csv").write_text(_sensorlogger_csv(S.t_s, S.accel_g))
    rc, _, err = _replay([str(d), "--format", "sensorlogger"], capsys)
    assert rc == 2 and "gravity" in err and len(err.strip().splitlines()) == 1


def test_sensorlogger_ns_time_column_via_generic_options(tmp_path, capsys):
    p = tmp_path / "TotalAcceleration.csv"
    p.write_text(_sensorlogger_csv(S.t_s, S.accel_g * G0))
    rc, s, err = _replay(
        [str(p), "--header", "--columns", "t=time,az=z,ay=y,ax=x", "--time", "ns",
         "--accel-units", "m/s^2"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert _counts(s) == TRUE


# ----------------------------------------------------------------------------- Arduino


def _arduino_dump(delim: str, time_unit: float = 1e3) -> str:
    assert S.gyro_dps is not None
    acc = np.clip(np.round(S.accel_g * 16384), -32768, 32767).astype(int)
    gyr = np.clip(np.round(S.gyro_dps * 65.5), -32768, 32767).astype(int)
    lines = [
        "Initializing I2C devices...",
        "Testing device connections...",
        "MPU6050 connection successful",
        "# millis ax ay az gx gy gz",
    ]
    for t, a, g in zip(S.t_s, acc, gyr, strict=True):
        lines.append(delim.join(str(v) for v in (round(t * time_unit), *a, *g)))
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("delim_arg,delim", [("tab", "\t"), ("\\t", "\t"), (";", ";")])
def test_arduino_dump_with_banner_raw_counts_and_tabs(tmp_path, capsys, delim_arg, delim):
    p = tmp_path / "serial.txt"
    p.write_text(_arduino_dump(delim), newline="")
    rc, s, err = _replay(
        [str(p), "--columns", "t,ax,ay,az,gx,gy,gz", "--time", "ms", "--delimiter", delim_arg,
         "--accel-units", "counts", "--accel-lsb-per-g", "16384",
         "--gyro-units", "counts", "--gyro-lsb-per-dps", "65.5"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert _counts(s) == TRUE
    assert "skipped 3 line(s)" in err  # the banner is skipped, and said so


def test_time_in_microseconds(tmp_path, capsys):
    p = tmp_path / "us.csv"
    p.write_text(
        "".join(
            f"{round(t * 1e6)},{float(a[0])!r},{float(a[1])!r},{float(a[2])!r}\n"
            for t, a in zip(S.t_s, S.accel_g, strict=True)
        )
    )
    rc, s, err = _replay([str(p), "--columns", "t,ax,ay,az", "--time", "us"], capsys)
    assert rc == 0, err
    assert s["source"]["sample_rate_hz"] == pytest.approx(REC.sample_rate_hz, rel=0.02)


def test_header_names_matched_without_quotes_and_case(tmp_path, capsys):
    p = tmp_path / "q.csv"
    p.write_text('"Time (s)","AccX","AccY","AccZ"\n' + "".join(
        f"{float(t)!r},{float(a[0])!r},{float(a[1])!r},{float(a[2])!r}\n" for t, a in zip(S.t_s, S.accel_g, strict=True)
    ))  # fmt: skip
    rc, s, err = _replay(
        [str(p), "--header", "--columns", "t=Time (s),ax=accx,ay=accy,az=accz"], capsys
    )
    assert rc == 0, err
    assert _counts(s) == TRUE


# ----------------------------------------------------------------------------- plausibility


def _write_csv(p: Path, t: np.ndarray, a: np.ndarray, g: np.ndarray | None = None) -> None:
    rows = [t[:, None], a] + ([g] if g is not None else [])
    np.savetxt(p, np.hstack(rows), delimiter=",", fmt="%.6f")


@pytest.mark.parametrize(
    "case,args,expect",
    [
        ("mps2_as_g", [], "m/s^2 read as g"),
        ("counts_as_g", [], "--accel-units counts"),
        ("rad_as_dps", ["--columns", "t,ax,ay,az,gx,gy,gz"], "rad/s read as deg/s"),
        ("declared_10hz", ["--rate", "10"], "declared sample rate is 10 Hz"),
        ("slow_rate", [], "too slow"),
    ],
)
def test_wrong_units_warn_with_one_line_each(tmp_path, capsys, case, args, expect):
    assert S.gyro_dps is not None
    p = tmp_path / f"{case}.csv"
    t, a, g = S.t_s, S.accel_g, None
    if case == "mps2_as_g":
        a = a * G0
    elif case == "counts_as_g":
        a = np.round(a * 16384)
    elif case == "rad_as_dps":
        g = S.gyro_dps * RAD
    elif case == "slow_rate":
        t, a = t[::10], a[::10]
    _write_csv(p, t, a, g)
    if not any(x == "--columns" for x in args):
        args = [*args, "--columns", "t,ax,ay,az"]
    rc, _, err = _replay([str(p), *args], capsys)
    if case == "counts_as_g":  # 16384 "g" is beyond any sensor: refused, naming the fix
        assert rc == 2 and expect in err and len(err.strip().splitlines()) == 1
        return
    assert rc == 0
    warns = [ln for ln in err.splitlines() if "warning" in ln and expect in ln]
    assert len(warns) == 1, err


def test_clean_file_gives_no_warning(tmp_path, capsys):
    rc, _, err = _replay([str(GOLDEN)], capsys)
    assert rc == 0 and err == ""


def test_ms_read_as_seconds_is_refused_with_a_hint(tmp_path, capsys):
    p = tmp_path / "ms.csv"
    _write_csv(p, S.t_s * 1000, S.accel_g)
    rc, _, err = _replay([str(p), "--columns", "t,ax,ay,az"], capsys)
    # 10 s between samples is below any plausible rate: refused, naming the likely unit
    assert rc == 2 and "--time ms" in err and len(err.strip().splitlines()) == 1


def test_gap_of_20_s_gives_a_warning(tmp_path, capsys):
    p = tmp_path / "gap.csv"
    t = S.t_s.copy()
    t[len(t) // 2 :] += 25.0
    write_recording(p, Samples(t, S.accel_g, S.gyro_dps), REC.sample_rate_hz)
    main(["replay", str(p), "--json", "--no-save"])
    err = capsys.readouterr().err
    assert "25 s apart" in err
    assert len([ln for ln in err.splitlines() if "gap" in ln]) == 1


# ----------------------------------------------------------------------------- raw captures


def _capture(samples: Samples, spf: int = 8) -> bytes:
    from imu_host.protocol.frames import DeviceInfo, encode_info, encode_samples

    assert samples.gyro_dps is not None
    ag, gd = 1 / 16384, 1 / 65.5
    info = DeviceInfo(1, "1.0.0", 1, "MPU-6050", 0x68, 6, spf, 100.0, 2, 500, ag, gd,
                      (1, 2, 3), 30, "serial", True, 0, 1000)  # fmt: skip
    counts = np.hstack([samples.accel_g / ag, samples.gyro_dps / gd])
    counts = np.clip(np.round(counts), -32768, 32767).astype(np.int16)
    out = bytearray(b"garbage before the stream\x00")
    out += encode_info(info)
    for i in range(0, len(counts), spf):
        out += encode_samples(i, 1000 + i * 10_000, 10_000, counts[i : i + spf])
        if i and i % 400 == 0:
            out += encode_info(info.__class__(**{**info.__dict__, "stream_start": False}))
    return bytes(out)


def test_raw_capture_replays_like_the_recording_live_would_write(tmp_path, capsys):
    from imu_host.protocol.frames import FrameDecoder, SampleAssembler

    assert abs(REC.sample_rate_hz - 100.0) < 1e-9
    data = _capture(S)
    cap = tmp_path / "session.bin"
    cap.write_bytes(data)
    # what the live path records: decoder -> assembler -> RecordingWriter (file rounding)
    rec_path = tmp_path / "session.csv"
    asm = SampleAssembler()
    with RecordingWriter(rec_path, 100.0, True) as w:
        for block in asm.feed(FrameDecoder().feed(data)):
            w.write(block)
    rc1, from_raw, err1 = _replay([str(cap)], capsys)
    rc2, from_csv, err2 = _replay([str(rec_path)], capsys)
    assert rc1 == 0 and rc2 == 0, (err1, err2)
    assert from_raw["reps"] == from_csv["reps"]
    assert _counts(from_raw) == TRUE


def test_firmware_capture_vector_replays(capsys):
    meta = json.loads((REPO / "tests" / "fw_vectors" / "mpu6050_meta.json").read_text())
    rc, s, err = _replay([str(REPO / "tests" / "fw_vectors" / "mpu6050_stream.bin")], capsys)
    assert rc == 0, err
    # samples the firmware sent (its sequence counter; it skips the MPU's first samples
    # after wake, so fewer than the sensor produced), less any it lost or dropped
    assert s["source"]["samples"] == meta["seq"] - meta["lost"] - meta["dropped"]
    assert s["source"]["sample_rate_hz"] == pytest.approx(1e6 / meta["period_us"])


def test_capture_without_info_frame_is_one_line(tmp_path, capsys):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\xa5\x5a\x00\x00" * 100)
    rc, _, err = _replay([str(p), "--format", "raw"], capsys)
    assert rc == 2 and "device-info" in err and len(err.strip().splitlines()) == 1


def test_import_errors_are_input_errors(tmp_path):
    from imu_host.io.importers import ImportOptions, import_csv

    p = tmp_path / "x.csv"
    p.write_text("1,2\n")
    with pytest.raises(InputError):
        import_csv(p, ImportOptions(accel_units="counts"))


def test_v1_header_rate_contradicted_by_timestamps_warns(tmp_path, capsys):
    p = tmp_path / "declared.csv"
    write_recording(p, S, 10.0)  # the samples are 100 Hz
    rc, _, err = _replay([str(p)], capsys)
    assert rc == 0
    assert len([ln for ln in err.splitlines() if "declared sample rate is 10 Hz" in ln]) == 1


def test_gaps_everywhere_warn(tmp_path, capsys):
    keep = np.ones(len(S), dtype=bool)
    keep[1::3] = False  # every third sample lost, all through the file
    p = tmp_path / "gappy.csv"
    g = None if S.gyro_dps is None else S.gyro_dps[keep]
    write_recording(p, Samples(S.t_s[keep], S.accel_g[keep], g), REC.sample_rate_hz)
    rc, _, err = _replay([str(p)], capsys)
    assert len([ln for ln in err.splitlines() if "intervals are gaps" in ln]) == 1


def test_sensorlogger_single_accelerometer_csv_is_refused(tmp_path, capsys):
    p = tmp_path / "Accelerometer.csv"  # iOS: gravity removed
    p.write_text(_sensorlogger_csv(S.t_s, (S.accel_g - S.accel_g.mean(0)) * G0))
    rc, _, err = _replay([str(p), "--format", "sensorlogger"], capsys)
    assert rc == 2 and "gravity removed" in err and len(err.strip().splitlines()) == 1
