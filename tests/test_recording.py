"""Recording format v1 and foreign-CSV import: round trips and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from realdata import MEX_DIR, requires_mex

from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.recording import (
    G0,
    MEX_OPTIONS,
    ImportOptions,
    RecordingWriter,
    import_csv,
    read_recording,
    write_recording,
)


def _samples(n: int = 50, gyro: bool = True) -> Samples:
    rng = np.random.default_rng(1)
    t = np.arange(n) / 100.0
    acc = rng.normal(0, 0.3, (n, 3)) + [0, 0, 1]
    g = rng.normal(0, 20, (n, 3)) if gyro else None
    return Samples(t, acc, g)


@pytest.mark.parametrize("gyro", [True, False])
def test_round_trip_keeps_values_to_file_precision(tmp_path, gyro):
    s = _samples(gyro=gyro)
    p = tmp_path / "r.csv"
    write_recording(p, s, 100.0, {"subject": "x"})
    r = read_recording(p)
    assert r.sample_rate_hz == 100.0
    assert r.meta["subject"] == "x"
    np.testing.assert_allclose(r.samples.t_s, s.t_s, atol=5e-7)
    np.testing.assert_allclose(r.samples.accel_g, s.accel_g, atol=5e-7)
    if gyro:
        np.testing.assert_allclose(r.samples.gyro_dps, s.gyro_dps, atol=5e-5)
    else:
        assert r.samples.gyro_dps is None


def test_writer_returns_exactly_what_reads_back(tmp_path):
    s = _samples()
    p = tmp_path / "r.csv"
    with RecordingWriter(p, 100.0, True) as w:
        back1 = w.write(s.slice(0, 20))
        back2 = w.write(s.slice(20, 50))
    r = read_recording(p)
    np.testing.assert_array_equal(np.concatenate([back1.accel_g, back2.accel_g]), r.samples.accel_g)
    np.testing.assert_array_equal(
        np.concatenate([back1.gyro_dps, back2.gyro_dps]), r.samples.gyro_dps
    )


def test_writer_never_overwrites(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("precious\n")
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_recording(p, _samples(), 100.0)
    assert p.read_text() == "precious\n"


def test_unknown_extra_columns_are_kept_and_ignored(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(
        "# imu-host recording v1\n# sample_rate_hz: 50\n"
        "t_s,ax_g,ay_g,az_g,note\n0.0,0,0,1,a\n0.02,0,0.1,1,b\n"
    )
    r = read_recording(p)
    assert r.samples.gyro_dps is None
    assert list(r.extra["note"]) == ["a", "b"]
    assert r.sample_rate_hz == 50.0


BAD = {
    "missing_column": ("t_s,ax_g,ay_g\n0,0,0\n", 3, "no 'az_g' column"),
    "not_a_number": ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,zz,1\n", 5, "'zz' is not a number"),
    "nan": ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,nan,1\n", 5, "not a finite number"),
    "backwards": (
        "t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.02,0,0,1\n0.01,0,0,1\n",
        6,
        "time goes backwards",
    ),
    "short_row": ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,0\n", 5, "row has 3 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_v1_input_names_file_line_and_problem(tmp_path, case):
    body, line, msg = BAD[case]
    p = tmp_path / "bad.csv"
    p.write_text("# imu-host recording v1\n# sample_rate_hz: 100\n" + body)
    with pytest.raises(InputError) as ei:
        read_recording(p)
    text = str(ei.value)
    assert f"bad.csv:{line}" in text
    assert msg in text
    assert "\n" not in text


def test_empty_and_binary_files(tmp_path):
    e = tmp_path / "empty.csv"
    e.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_recording(e)
    b = tmp_path / "junk.csv"
    b.write_bytes(b"# imu-host recording v1\n\x00\x01\x02\xff")
    with pytest.raises(InputError, match=r"junk.csv:2.*binary"):
        read_recording(b)


@pytest.mark.parametrize(
    "content,problem",
    [
        ("", "empty"),
        ("# imu-host recording v1\nt_s,ax_g,ay_g,az_g\n0,0,x,1\n", "is not a number"),
        ("hello,world\n", "not an imu-host v1 recording"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, content, problem):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    r = subprocess.run(
        [sys.executable, "-m", "imu_host.cli.main", "replay", str(p), "--no-save"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "bad.csv" in lines[0] and problem in lines[0]
    assert "Traceback" not in r.stderr


def test_foreign_csv_with_header_mapping_and_units(tmp_path):
    p = tmp_path / "phone.csv"
    # 2 samples 10 ms apart, accel in m/s^2, gyro in rad/s, an ignored column first
    p.write_text(
        "junk;time_ms;gX;gY;gZ;aX;aY;aZ\n"
        f"x;1000;0;0;{np.pi};0;0;{G0}\n"
        f"y;1010;0;{np.pi / 2};0;{G0 / 2};0;0\n"
    )
    opts = ImportOptions(
        columns="t=time_ms,ax=aX,ay=aY,az=aZ,gx=gX,gy=gY,gz=gZ",
        header=True,
        time="ms",
        accel_units="m/s^2",
        gyro_units="rad/s",
        delimiter=";",
    )
    r = import_csv(p, opts)
    np.testing.assert_allclose(r.samples.t_s, [0.0, 0.01])
    np.testing.assert_allclose(r.samples.accel_g, [[0, 0, 1], [0.5, 0, 0]])
    np.testing.assert_allclose(r.samples.gyro_dps, [[0, 0, 180], [0, 90, 0]])
    assert r.sample_rate_hz == pytest.approx(100.0)


def test_foreign_csv_bad_iso_time_names_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("2018-11-08 11:34:51.474000,0,0,1\nnot-a-date,0,0,1\n")
    with pytest.raises(InputError, match=r"x.csv:2.*ISO 8601"):
        import_csv(p, MEX_OPTIONS)


@requires_mex
def test_mex_files_load_with_iso_time_and_about_100_hz():
    for f in sorted(MEX_DIR.glob("subject_*.csv")):
        r = import_csv(f, MEX_OPTIONS)
        with open(f) as fh:
            lines = sum(1 for _ in fh)
        assert len(r.samples) == lines
        assert r.samples.gyro_dps is None
        # README: timestamps step 9-10 ms (~103 Hz); |a| at rest 0.92-1.00 g
        assert 95 < r.sample_rate_hz < 110
        mag = np.median(np.linalg.norm(r.samples.accel_g, axis=1))
        assert 0.85 < mag < 1.1


def test_header_write_failure_closes_the_file_and_is_one_line(tmp_path, monkeypatch):
    """A full disk while the header is written: one InputError line, the handle closed
    (no ResourceWarning under -W error) and no half-written file left behind."""
    import errno

    from imu_host.errors import InputError
    from imu_host.io import recording as rec_mod

    path = tmp_path / "full.csv"
    opened = []

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh
            self.closed = False

        def write(self, _text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def close(self):
            self.closed = True
            self.fh.close()

    real = rec_mod.create_exclusive

    def full(p, what, text=False):
        f = FullDisk(real(p, what, text=text))
        opened.append(f)
        return f

    monkeypatch.setattr(rec_mod, "create_exclusive", full)
    with pytest.raises(InputError) as err:
        rec_mod.RecordingWriter(path, 100.0, True)
    assert "No space left" in str(err.value) and "\n" not in str(err.value)
    assert opened and opened[0].closed
    assert not path.exists()


def test_loading_a_v1_recording_imports_no_foreign_format_reader() -> None:
    """A v1 file is told by its magic line before the importers (and the wire protocol
    they use for raw captures) are imported: start-up of ``replay`` stays light."""
    from pathlib import Path

    rec = Path(__file__).resolve().parents[1] / "recordings" / "controlled_medium_s1.csv"
    code = (
        "import sys; from imu_host.io.recording import load; r = load(sys.argv[1]); "
        "print(len(r.samples), 'imu_host.io.importers' in sys.modules, "
        "'imu_host.protocol.frames' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(rec)], capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    assert int(out[0]) > 1000
    assert out[1:] == ["False", "False"]
