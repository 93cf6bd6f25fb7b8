"""Ping exchanges: the device clock of an ACK on the samples' time axis, the simulator's
down-link, the recording (``pings.csv``) and its exact replay, older folders without it.

Ground truth: the protocol's clock arithmetic (docs/PROTOCOL.md), the simulator's true
clocks and link floors, and the recording's own content (replay must equal the run).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu_host.core.multi import MultiPipeline, MultiSettings
from imu_host.errors import InputError
from imu_host.io.multi import PINGS, PINGS_HEADER, read_multi_recording, replay_multi
from imu_host.protocol.frames import (
    MASK,
    WRAP,
    DeviceInfo,
    SampleAssembler,
    decode_all,
    encode_info,
    encode_samples,
)
from imu_host.sim.multibody import (
    ACK_STAMP_EARLY_S,
    run_multi,
    score_multi,
    simulate_multi,
    write_session,
)


def _info(**kw: object) -> DeviceInfo:
    base: dict = dict(protocol_version=1, firmware_version="1.1.0", sensor_id=1,
                      sensor_model="MPU-6050", who_am_i=0x68, channels=6,
                      samples_per_frame=5, odr_hz=100.0, accel_range_g=4, gyro_range_dps=500,
                      accel_g_per_lsb=1 / 8192, gyro_dps_per_lsb=1 / 65.5, axis_map=(1, 2, 3),
                      clock_bits=30, transport="serial", stream_start=True, seq_next=0,
                      t_us=0)  # fmt: skip
    base.update(kw)
    return DeviceInfo(**base)


def test_ack_clock_lands_on_the_samples_time_axis_across_the_clock_wrap():
    """Protocol arithmetic: the stream starts 30 ms before the 2**30 us wrap; a ping
    handled 75 ms after the first sample (device clock wrapped to 45_000 us) is at
    t_s = 0.075 on the samples' axis; one handled 5 ms before the newest sample too."""
    asm = SampleAssembler()
    t0 = WRAP - 30_000
    assert asm.device_time_s(123) is None  # no samples yet
    data = encode_info(_info())
    for j in range(2):  # two frames of 5 samples, 10 ms apart: 0..90 ms
        data += encode_samples(j * 5, (t0 + j * 50_000) & MASK, 10_000,
                               np.zeros((5, 6), dtype=np.int16))  # fmt: skip
    blocks = asm.feed(decode_all(data))
    assert [round(float(b.t_s[0]), 6) for b in blocks] == [0.0, 0.05]
    assert asm.device_time_s((t0 + 75_000) & MASK) == pytest.approx(0.075, abs=1e-9)
    assert asm.device_time_s((t0 + 85_000) & MASK) == pytest.approx(0.085, abs=1e-9)
    asm.set_info(_info(stream_start=True))  # a restarted stream: the axis may jump
    assert asm.device_time_s((t0 + 95_000) & MASK) is None


def test_simulated_pings_bracket_the_true_clock():
    """The simulator's exchanges obey their own physics: the ping is handled at least
    the down-link floor after it was sent (its stamp up to ``ACK_STAMP_EARLY_S`` before
    that: the firmware's poll pass) and answered at least the up-link floor after the
    stamp; the floors are within the stated asymmetry of each other."""
    sim = simulate_multi("knees_together", 2, reps_per_side=1, link_asymmetry_s=0.002)
    assert sim.pings
    for _, role, sent, d, got in sim.pings:
        b = sim.truth["boards"][role]
        handled = float(sim.host_time(role, np.array([d]))[0])
        assert handled - sent >= b["latency_down_s"] - ACK_STAMP_EARLY_S - 1e-4
        assert got - handled >= b["latency_s"] - 1e-4
    for b in sim.truth["boards"].values():
        assert abs(b["latency_down_s"] - b["latency_s"]) <= 0.002 + 1e-4
    # the samples and reads of a session are the same whatever the pings
    other = simulate_multi("knees_together", 2, reps_per_side=1, link_asymmetry_s=0.0)
    assert other.feeds == sim.feeds
    assert all(np.array_equal(other.samples[r].t_s, sim.samples[r].t_s) for r in sim.samples)


def test_a_ping_of_a_board_not_declared_yet_is_ignored():
    mp = MultiPipeline(("left-thigh", "sternum"))
    mp.ping("sternum", 1.0, 0.5, 1.02)  # no samples yet: not declared
    mp.add_board("sternum", 100.0, True)
    assert mp.boards["sternum"].clock.pings == []


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    sim = simulate_multi("shoulder_lift_deep", 3, reps_per_side=2)
    folder = tmp_path_factory.mktemp("ping") / "s"
    write_session(sim, str(folder))
    return sim, folder


def _events(mp: object) -> list[dict]:
    return [e.to_dict() for e in mp.events]  # type: ignore[attr-defined]


def test_recording_keeps_the_pings_and_replays_exactly_the_run(session):
    sim, folder = session
    rec = read_multi_recording(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["pings"] == PINGS
    assert len(rec.pings) > 0.9 * len(sim.pings)  # all but those before a board's samples
    assert set(rec.pings) <= set(sim.pings)
    ran, replayed = run_multi(sim), replay_multi(rec)
    assert _events(replayed) == _events(ran)
    # the clocks come from the same exchanges (the samples are rounded as the file holds
    # them, which moves only the shared-motion residual, by a fraction of a ms)
    for role, c in ran.clock_estimates().items():
        r = replayed.clock_estimates()[role]
        assert (r["offset_s"], r["drift_ppm"], r["pings"]) == (c["offset_s"], c["drift_ppm"], True)
    again = replay_multi(read_multi_recording(folder))
    assert _events(again) == _events(replayed)
    assert again.clock_estimates() == replayed.clock_estimates()


def test_folder_without_pings_replays_on_arrival_times_as_before(session, tmp_path):
    """A folder written before the pings (no pings.csv, no manifest key) reads and
    replays exactly as the session fed without pings."""
    import shutil

    sim, folder = session
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / PINGS).unlink()
    doc = json.loads((old / "manifest.json").read_text())
    del doc["pings"]
    (old / "manifest.json").write_text(json.dumps(doc))
    rec = read_multi_recording(old)
    assert rec.pings == []
    mp = replay_multi(rec)
    # the same samples as the file holds them (rounded), fed with no pings
    same = read_multi_recording(folder)
    assert same.pings
    same.pings = []
    assert _events(mp) == _events(replay_multi(same))
    assert not any(c["pings"] for c in mp.clock_estimates().values())
    # and, up to that rounding, the session run without pings: the same reps and flags
    ran = _events(run_multi(sim, pings=False))
    key = [(e["event"], e.get("side"), tuple(e.get("flags", ()))) for e in ran]
    assert [(e["event"], e.get("side"), tuple(e.get("flags", ()))) for e in _events(mp)] == key


@pytest.mark.parametrize(
    "text, match",
    [
        ("role,host_s\n", r"pings.csv:1: first line"),
        (PINGS_HEADER + "\n0,elbow,1.0,0.5,1.1\n", r"pings.csv:2, field 'role'"),
        (PINGS_HEADER + "\nx,left-thigh,1.0,0.5,1.1\n", r"pings.csv:2, field 'feeds_before'"),
        (
            PINGS_HEADER + "\n5,left-thigh,1.0,0.5,1.1\n3,left-thigh,1.0,0.5,1.1\n",
            r"pings.csv:3, field 'feeds_before'",
        ),  # fmt: skip
        (
            PINGS_HEADER + "\n99999999,left-thigh,1.0,0.5,1.1\n",
            r"pings.csv:2, field 'feeds_before'",
        ),  # fmt: skip
        (PINGS_HEADER + "\n0,left-thigh,1.0,soon,1.1\n", r"pings.csv:2, field 'device_s'"),
        (PINGS_HEADER + "\n0,left-thigh,1.0,0.5,nan\n", r"pings.csv:2, field 'host_received_s'"),
        (PINGS_HEADER + "\n0,left-thigh,1.0,0.5\n", r"pings.csv:2: expected 5 fields"),
    ],
)
def test_bad_pings_file_gives_one_line(session, tmp_path, text, match):
    import shutil

    _, folder = session
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / PINGS).write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_multi_recording(bad)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_shared_motion_only_measured_on_ping_clocks_unless_asked():
    """With pings on both boards the thigh's shared-motion shift is kept as a residual
    (the correction stays 0); ``refine_with_pings`` applies it as before. Either way the
    other thigh is within 10 ms of the simulator's true clock."""
    sim = simulate_multi("knees_together", 5)
    plain = run_multi(sim)
    o = plain.boards["right-thigh"]
    assert o.correction_s == 0.0 and o.motion_residual_s is not None
    asked = run_multi(sim, MultiSettings(refine_with_pings=True))
    a = asked.boards["right-thigh"]
    # the same shared motion, measured against the same ping clocks (the reps taken may
    # differ a little once the correction moves the other thigh's times)
    assert a.correction_s != 0.0 and a.motion_residual_s is None
    assert a.correction_s == pytest.approx(o.motion_residual_s, abs=5e-4)
    for mp in (plain, asked):
        assert score_multi(sim, mp)["align_err_s"]["right-thigh"] <= 0.010
