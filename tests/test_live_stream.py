"""The pure stream stage (bytes -> samples) without a pty, a clock or a file.

Bytes come from the in-process board's own encoder on the motion script; truth comes
from the script (``motion.truth``) and from the bytes we chose to corrupt, drop or
repeat, never from the stage's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.core.events import FAST_DROP, GapEvent, RepEvent
from imu_host.core.pipeline import Pipeline
from imu_host.live.stream import SampleBlock, StreamNotice, StreamStage, StreamStarted
from imu_host.protocol import frames as p
from imu_host.sim import board as sim_board

SPF = 5
ODR = 100.0
DT_US = 10_000


@pytest.fixture(scope="module")
def truth():
    return sim_board.script_truth()


@pytest.fixture(scope="module")
def board():
    return sim_board.SimulatedBoard(None, *sim_board.script_samples(), samples_per_frame=SPF)


def frames(board, seq0: int = 0, t0_us: int = 1_000, start: int = 0, stop: int | None = None):
    c = board.counts
    stop = len(c) if stop is None else stop
    return [
        p.encode_samples(seq0 + i, t0_us + i * DT_US, DT_US, c[i : min(stop, i + SPF)])
        for i in range(start, stop, SPF)
    ]


def run(stage: StreamStage, chunks, wall=None):
    """Feed chunks (wall time: 1 s of stream per 100 samples unless given); collect."""
    items = []
    for k, data in enumerate(chunks):
        arrived = wall(k) if wall else k * SPF / ODR
        items += stage.feed(data, arrived)
    return items


def samples_of(items):
    return [it.samples for it in items if isinstance(it, SampleBlock)]


def test_nothing_before_device_info_then_fixed_stream(board):
    stage = StreamStage()
    assert samples_of(run(stage, frames(board, stop=50))) == []  # no info: held
    items = stage.feed(board.info_bytes(True), 0.0)
    assert isinstance(items[0], StreamStarted) and items[0].info.odr_hz == ODR
    assert sum(len(s) for s in samples_of(items)) == 50  # the held frames, after the info
    got = samples_of(run(stage, frames(board, start=50, stop=100)))
    assert sum(len(s) for s in got) == 50
    assert got[0].gyro_dps is not None  # 6 channels on the wire, 6 kept


def test_changed_info_is_reported_and_ignored(board):
    from dataclasses import replace

    from imu_host.protocol.frames import encode_info

    stage = StreamStage()
    stage.feed(board.info_bytes(True), 0.0)
    assert stage.info is not None
    changed = replace(stage.info, odr_hz=50.0, stream_start=False)  # the board's new rate
    items = stage.feed(encode_info(changed), 0.1)
    assert [i.state for i in items if isinstance(i, StreamNotice)] == ["info_changed"]
    assert stage.info.odr_hz == ODR


def test_whole_script_through_the_stage_gives_the_truth(board, truth):
    stage = StreamStage()
    items = run(stage, [board.info_bytes(True), *frames(board)])
    blocks = samples_of(items)
    assert sum(len(b) for b in blocks) == len(board.counts)
    pipe = Pipeline(ODR, True)
    events = [e for b in blocks for e in pipe.feed(b)] + pipe.finish()
    reps = [e.rep for e in events if isinstance(e, RepEvent)]
    assert [r.side for r in reps] == [r["side"] for r in truth["reps"]]
    assert [FAST_DROP in r.flags for r in reps] == [r["fast"] for r in truth["reps"]]
    q = stage.update_quality(len(frames(board)) * SPF / ODR)
    assert q.samples == len(board.counts) and q.samples_lost == 0 and q.crc_errors == 0
    assert q.rate_sps == pytest.approx(ODR, rel=0.05)  # 1 s of stream per second of wall


def test_duplicates_dropped_and_counted(board):
    fr = frames(board, stop=200)
    dup = {7, 8, 20}
    chunks = [board.info_bytes(True)] + [f + f if i in dup else f for i, f in enumerate(fr)]
    stage = StreamStage()
    blocks = samples_of(run(stage, chunks))
    t = np.concatenate([b.t_s for b in blocks])
    assert len(t) == 200 and np.all(np.diff(t) > 0)
    assert stage.quality.duplicates == len(dup)


def test_corrupt_frame_is_lost_samples_and_crc_error(board):
    fr = frames(board, stop=100)
    bad = bytearray(fr[10])
    bad[-3] ^= 0x10
    chunks = [board.info_bytes(True), *fr[:10], bytes(bad), *fr[11:]]
    stage = StreamStage()
    blocks = samples_of(run(stage, chunks))
    assert sum(len(b) for b in blocks) == 100 - SPF
    q = stage.update_quality(1.0)
    assert q.crc_errors == 1 and q.samples_lost == SPF


def test_board_reset_while_link_down_makes_the_gap_real(board):
    """After a reset the device clock restarts at ~0; the wall clock says 5 s passed:
    stream time is pushed on by the outage, the pipeline sees a gap of about 5 s."""
    stage = StreamStage()
    first = frames(board, stop=300)  # 3 s
    before = samples_of(run(stage, [board.info_bytes(True), *first]))
    stage.lost()
    stage.connected(reconnect=True)
    outage_s = 5.0
    # the board restarted: sequence and clock begin again at 0 for sample 300
    after = frames(board, seq0=-300, t0_us=1_000 - 300 * DT_US, start=300, stop=400)
    wall0 = 3.0 + outage_s
    items = run(stage, after, wall=lambda k: wall0 + k * SPF / ODR)
    assert [i.state for i in items if isinstance(i, StreamNotice)] == ["device_reset"]
    t = samples_of(items)[0].t_s
    assert t[0] == pytest.approx(3.0 + outage_s, abs=0.1)
    pipe = Pipeline(ODR, True)
    for b in before:
        pipe.feed(b)
    gaps = [e for b in samples_of(items) for e in pipe.feed(b) if isinstance(e, GapEvent)]
    assert len(gaps) == 1 and gaps[0].end_s - gaps[0].start_s > outage_s - 0.5
    assert stage.quality.device_resets == 1 and stage.quality.reconnects == 1


def test_partial_frame_of_old_connection_never_mixes_with_new(board):
    fr = frames(board, stop=100)
    stage = StreamStage()
    run(stage, [board.info_bytes(True), *fr[:5], fr[5][:7]])  # cable pulled mid-frame
    stage.connected(reconnect=True)
    blocks = samples_of(run(stage, fr[6:], wall=lambda k: 0.3 + k * 0.05))
    assert sum(len(b) for b in blocks) == 100 - 6 * SPF
    q = stage.update_quality(1.0)
    assert q.bytes_discarded == 7 and q.crc_errors == 0 and q.samples_lost == SPF


def test_three_channel_info_drops_gyro(board):
    acc = sim_board.script_samples()[0][:200]
    b3 = sim_board.SimulatedBoard(None, acc, None, samples_per_frame=SPF)
    stage = StreamStage()
    blocks = samples_of(run(stage, [b3.info_bytes(True), *frames(b3)]))
    assert all(b.gyro_dps is None for b in blocks) and sum(len(b) for b in blocks) == 200
    assert np.allclose(np.concatenate([b.accel_g for b in blocks]), acc, atol=4 / 32768 + 1e-4)
