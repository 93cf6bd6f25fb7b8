"""Host-side protocol twin: decoding firmware-made vectors, resync, assembling samples.

The vectors in tests/fw_vectors/ were produced by the firmware under the MicroPython
Unix port (tests/fw_vectors/make_vectors.py; test_firmware_micropython.py checks they
are still what the firmware produces). Ground truth is the known motion fed to the fake
sensor, quantised here with the MPU-6050 datasheet sensitivities.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from imu_host.protocol.frames import (
    AckFrame,
    CommandFrame,
    DeviceInfo,
    FrameDecoder,
    SampleAssembler,
    SampleFrame,
    StatusFrame,
    axis_matrix,
    crc16,
    decode_all,
    encode_command,
    encode_info,
    encode_samples,
)

VEC = Path(__file__).parent / "fw_vectors"
MPU_LSB_PER_G_4G = 8192.0  # MPU-6050 datasheet, AFS_SEL=1
MPU_LSB_PER_DPS_500 = 65.5  # MPU-6050 datasheet, FS_SEL=1


def motion() -> np.ndarray:
    return np.fromfile(VEC / "motion.f32", dtype="<f4").reshape(-1, 6).astype(np.float64)


def expected_mpu_counts() -> np.ndarray:
    m = motion()
    acc = np.floor(m[:, :3] * MPU_LSB_PER_G_4G + 0.5)
    gyr = np.floor(m[:, 3:] * MPU_LSB_PER_DPS_500 + 0.5)
    return np.clip(np.hstack([acc, gyr]), -32768, 32767).astype(np.int64)


def stream() -> bytes:
    return (VEC / "mpu6050_stream.bin").read_bytes()


def meta() -> dict:
    return json.loads((VEC / "mpu6050_meta.json").read_text())


def samples_by_seq(frames) -> dict[int, np.ndarray]:
    out = {}
    for f in frames:
        if isinstance(f, SampleFrame):
            for i in range(f.n):
                out[f.seq + i] = f.counts[i]
    return out


def test_crc16_matches_the_ccitt_false_check_value():
    # catalogue check value of CRC-16/CCITT-FALSE over b"123456789"
    assert crc16(b"123456789") == 0x29B1


def test_firmware_vector_decodes_bit_exactly_into_the_fake_sensor_samples():
    dec = FrameDecoder()
    frames = dec.feed(stream())
    assert dec.crc_errors == 0 and dec.bytes_discarded == 0 and dec.malformed == 0
    got = samples_by_seq(frames)
    exp = expected_mpu_counts()
    k0 = meta()["first_index"]
    assert len(got) == meta()["produced"] - k0 > 250
    assert sorted(got) == list(range(len(got)))  # no sequence gaps: the FIFO lost nothing
    for seq, counts in got.items():
        assert counts.tolist() == exp[k0 + seq].tolist(), f"sample {seq}"


def test_firmware_vector_info_status_and_acks():
    frames = decode_all(stream())
    infos = [f for f in frames if isinstance(f, DeviceInfo)]
    assert infos[0] is frames[0] and infos[0].stream_start
    i = infos[0]
    assert (i.sensor_model, i.who_am_i, i.channels, i.odr_hz) == ("MPU-6050", 0x68, 6, 100.0)
    assert (i.accel_range_g, i.gyro_range_dps) == (4, 500)
    assert i.accel_g_per_lsb == pytest.approx(1 / 8192, rel=1e-7)
    assert i.gyro_dps_per_lsb == pytest.approx(1 / 65.5, rel=1e-7)
    acks = [f for f in frames if isinstance(f, AckFrame)]
    assert [(a.command_name, a.token, a.ok) for a in acks] == [
        ("ping", 0x1234, True),
        ("info", 7, True),
        ("identify", 8, True),
    ]
    status = [f for f in frames if isinstance(f, StatusFrame)]
    assert len(status) >= 2 and all(s.dropped_samples == 0 for s in status)
    assert status[-1].identifying  # identify for 3 s was sent at 1.0 s, status at 2.0 s


def test_assembler_gives_physical_units_and_true_sample_times():
    frames = decode_all(stream())
    asm = SampleAssembler()
    s = asm.feed(frames)
    from imu_host.core.samples import Samples

    s = Samples.concat(s)
    m = motion()
    k0 = meta()["first_index"]
    n = len(s)
    # physical values within half an LSB (+ float32 slack) of the known motion
    assert np.max(np.abs(s.accel_g - m[k0 : k0 + n, :3])) <= 0.5 / 8192 + 1e-6
    assert np.max(np.abs(s.gyro_dps - m[k0 : k0 + n, 3:])) <= 0.5 / 65.5 + 1e-4
    # the fake sensor produced sample k at t_start + (k + 1) * 10 ms; the loop polled
    # every 1 ms and stalled 35 ms every 50 polls: timestamps stay within ~1.5 ms
    true_t = (np.arange(n) + k0) * 0.010
    assert np.max(np.abs((s.t_s - s.t_s[0]) - (true_t - true_t[0]))) < 1.5e-3
    assert np.all(np.diff(s.t_s) > 0)
    assert asm.samples_lost == 0 and asm.device_resets == 0


@pytest.mark.parametrize("seed", range(5))
def test_decoder_is_chunk_tolerant(seed):
    data = stream()
    whole = decode_all(data)
    rng = random.Random(seed)
    dec = FrameDecoder()
    got = []
    i = 0
    while i < len(data):
        k = rng.choice([1, 1, 2, 3, 7, 20, 64, 300])
        got += dec.feed(data[i : i + k])
        i += k
    assert len(got) == len(whole)
    assert all(_same(a, b) for a, b in zip(got, whole, strict=True))


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, SampleFrame):
        return (a.seq, a.t_us, a.dt_us) == (b.seq, b.t_us, b.dt_us) and np.array_equal(
            a.counts, b.counts
        )
    return a == b


def _frame_spans(data: bytes) -> list[tuple[int, int]]:
    spans = []
    i = 0
    while i < len(data):
        assert data[i : i + 2] == b"\xa5\x5a"
        n = data[i + 3] + 6
        spans.append((i, i + n))
        i += n
    return spans


def test_resync_after_garbage_truncation_and_bit_flips_loses_only_damaged_frames():
    data = stream()
    spans = _frame_spans(data)
    good = decode_all(data)
    assert len(spans) == len(good)
    rng = random.Random(42)
    damaged = set()
    flips_after_header = 0
    out = bytearray(rng.randbytes(37))  # joining mid-stream: garbage first
    out += data[spans[0][0] + 5 : spans[0][1]]  # ... and the tail of a frame
    damaged.add(0)
    for idx, (a, b) in enumerate(spans[1:], start=1):
        frame = bytearray(data[a:b])
        r = idx % 10
        if r == 3:  # bit flip somewhere in the frame (header, payload or CRC)
            pos = rng.randrange(len(frame))
            frame[pos] ^= 1 << rng.randrange(8)
            damaged.add(idx)
            flips_after_header += pos >= 4  # these can only be caught by the CRC
        elif r == 6:  # truncated: the rest of the frame was lost
            frame = frame[: rng.randrange(1, len(frame))]
            damaged.add(idx)
        elif r == 8:  # garbage between frames, including fake sync bytes
            out += bytes([0xA5, 0x5A, 0x01, 0x30]) + rng.randbytes(11)
        out += frame
    dec = FrameDecoder()
    got = []
    for i in range(0, len(out), 17):
        got += dec.feed(bytes(out[i : i + 17]))
    want = [f for i, f in enumerate(good) if i not in damaged]
    assert len(got) == len(want)
    assert all(_same(a, b) for a, b in zip(got, want, strict=True))
    assert dec.frames_ok == len(want)
    # every payload/CRC flip is a CRC error; truncations add more; header flips are
    # rejected before the CRC (unknown type / bad length) and show in bytes_discarded
    assert flips_after_header >= 5 and dec.crc_errors >= flips_after_header
    kept = sum(len(data[a:b]) for i, (a, b) in enumerate(spans) if i not in damaged)
    assert dec.bytes_discarded == len(out) - kept


def _info(**kw) -> DeviceInfo:
    base = dict(
        protocol_version=1,
        firmware_version="1.0.0",
        sensor_id=1,
        sensor_model="MPU-6050",
        who_am_i=0x68,
        channels=6,
        samples_per_frame=4,
        odr_hz=100.0,
        accel_range_g=4,
        gyro_range_dps=500,
        accel_g_per_lsb=1 / 8192,
        gyro_dps_per_lsb=1 / 65.5,
        axis_map=(1, 2, 3),
        clock_bits=30,
        transport="serial",
        stream_start=True,
        seq_next=0,
        t_us=0,
    )
    base.update(kw)
    return DeviceInfo(**base)


def _frames(seq0: int, t0: int, nframes: int, n: int = 4, dt: int = 10_000) -> list[bytes]:
    out = []
    for j in range(nframes):
        counts = np.full((n, 6), j, dtype=np.int16)
        out.append(encode_samples(seq0 + j * n, t0 + j * n * dt, dt, counts))
    return out


def _assemble(parts: list[bytes], info: DeviceInfo | None = None):
    from imu_host.core.samples import Samples

    asm = SampleAssembler()
    data = (encode_info(info or _info()) if info is not False else b"") + b"".join(parts)
    return asm, Samples.concat(asm.feed(decode_all(data)))


def test_assembler_unwraps_the_device_clock():
    wrap = 1 << 30
    parts = _frames(seq0=100, t0=wrap - 25_000, nframes=5)  # clock wraps in frame 1
    asm, s = _assemble(parts)
    assert np.allclose(s.t_s, np.arange(20) * 0.01)
    assert asm.samples_lost == 0 and asm.device_resets == 0


def test_assembler_counts_sequence_gaps_and_keeps_later_times_right():
    parts = _frames(0, 5_000_000, 10)
    del parts[3:5]  # 8 samples lost (80 ms)
    asm, s = _assemble(parts)
    assert asm.samples_lost == 8
    assert len(s) == 32
    want = np.r_[np.arange(12), np.arange(20, 40)] * 0.01
    assert np.allclose(s.t_s, want)


def test_assembler_survives_a_device_reset_without_time_going_backwards():
    before = _frames(5000, 400_000_000, 3)
    after = _frames(0, 1_000, 3)  # sequence and clock restart
    asm, s = _assemble(before + [encode_info(_info())] + after)
    assert asm.device_resets == 1
    assert np.all(np.diff(s.t_s) > 0)
    assert s.t_s[12] == pytest.approx(s.t_s[11] + 0.01)
    assert asm.samples_lost == 0


def test_assembler_detects_a_reset_even_when_sequence_moves_forward():
    before = _frames(10, 400_000_000, 3)
    after = _frames(30, 2_000, 2)  # seq forward by 8 but the clock jumped back
    asm, s = _assemble(before + after)
    assert asm.device_resets == 1 and asm.samples_lost == 0
    assert np.all(np.diff(s.t_s) > 0)


def test_stream_start_info_is_a_time_jump_not_loss():
    a = _frames(0, 1_000_000, 3)
    b = _frames(500, 7_000_000, 2)  # stopped for a while, then started again
    asm, s = _assemble(a + [encode_info(_info(stream_start=True, seq_next=500))] + b)
    assert asm.samples_lost == 0 and asm.device_resets == 0
    assert s.t_s[12] == pytest.approx(6.0)


def test_frames_before_info_are_held_until_it_arrives():
    from imu_host.core.samples import Samples

    asm = SampleAssembler()
    frames = decode_all(b"".join(_frames(0, 0, 3)))
    assert asm.feed(frames) == []
    s = Samples.concat(asm.feed(decode_all(encode_info(_info()))))
    assert len(s) == 12 and s.accel_g[4, 0] == pytest.approx(1 / 8192)


def test_axis_map_rotates_sensor_axes_into_the_body_frame():
    m = axis_matrix((-2, 1, 3))  # body x = -sensor y, body y = sensor x
    assert m @ np.array([1.0, 2.0, 3.0]) == pytest.approx([-2.0, 1.0, 3.0])
    counts = np.array([[8192, 0, 0, 0, 655, 0]], dtype=np.int16)
    asm, s = _assemble([encode_samples(0, 0, 10_000, counts)], _info(axis_map=(-2, 1, 3)))
    assert s.accel_g[0] == pytest.approx([0.0, 1.0, 0.0])
    assert s.gyro_dps[0] == pytest.approx([-10.0, 0.0, 0.0])


def test_accel_only_frames():
    counts = np.array([[0, 0, 8192]] * 3, dtype=np.int16)
    asm, s = _assemble([encode_samples(0, 0, 10_000, counts)], _info(channels=3))
    assert s.gyro_dps is None and s.accel_g[:, 2] == pytest.approx([1.0] * 3)


def test_encode_command_round_trip_and_validation():
    for name, code in [("start", 1), ("stop", 2), ("set_rate", 3), ("identify", 4)]:
        (f,) = decode_all(encode_command(name, 200, 9))
        assert f == CommandFrame(code, 9, 200)
    (f,) = decode_all(encode_command("info"))
    assert f == CommandFrame(5, 0, 0)
    (f,) = decode_all(encode_command("ping", token=65535))
    assert f == CommandFrame(6, 65535, 0)
    assert len(encode_command("ping")) == 14
    with pytest.raises(ValueError):
        encode_command("explode")
    with pytest.raises(ValueError):
        encode_command("set_rate", -1)
    with pytest.raises(ValueError):
        encode_command("ping", token=70000)


def test_decoder_reset_clears_buffer_and_counters():
    dec = FrameDecoder()
    dec.feed(b"\x00\x01" + stream()[:10])
    assert dec.bytes_discarded == 2 and dec.buffered == 10
    dec.reset()
    assert (dec.bytes_discarded, dec.buffered, dec.frames_ok, dec.crc_errors) == (0, 0, 0, 0)


def test_joining_mid_stream_at_any_byte_loses_only_the_partial_frame():
    data = stream()
    spans = _frame_spans(data)
    good = decode_all(data)
    for off in range(spans[3][1]):
        got = decode_all(data[off:])
        first_whole = next(i for i, (a, _) in enumerate(spans) if a >= off)
        want = good[first_whole:]
        assert len(got) == len(want), off
        assert all(_same(a, b) for a, b in zip(got, want, strict=True))


# ------------------------------------------------------------------ issue 11 additions


def _info11(**kw) -> DeviceInfo:
    """An info frame from firmware 1.1 over BLE (the board of the issue-11 additions)."""
    return _info(**{"firmware_version": "1.1.0", "transport": "ble", **kw})


def test_old_info_frames_still_decode_and_the_selftest_flags_are_read():
    # firmware 1.0 info frame (flags bit0 only): self-test unknown
    old = decode_all(encode_info(_info11()))[0]
    assert isinstance(old, DeviceInfo) and old.selftest is None
    raw = bytearray(encode_info(_info11()))
    # flags byte (payload offset 29): bit1 self-test ran, bit2 passed (PROTOCOL.md)
    for flags, want in ((0x03, False), (0x07, True)):
        raw[4 + 29] = flags
        body = bytes(raw[2:-2])
        frame = bytes(raw[:-2]) + crc16(body).to_bytes(2, "little")
        assert decode_all(frame)[0].selftest is want


def test_device_frame_round_trip_and_selftest_text():
    from imu_host.protocol.frames import DeviceHealth, encode_device

    h = DeviceHealth("246F28A1B2C3", 0x80 | 1 | 2 | 4 | 8, 1003, 3900, 2, 1, 7, 150, 0, "esp32")
    got = decode_all(encode_device(h))
    assert got == [h] and h.selftest_passed and h.selftest_text == "passed"
    bad = DeviceHealth("01", 1 | 2 | 8, 1180, None, 0, 0, 0, 0, 0, "rp2")
    assert decode_all(encode_device(bad))[0].selftest_text == "FAILED: gravity"
    assert DeviceHealth("", 0, None, None, 0, 0, 0, 0, 0, "").selftest_passed is None


def test_status_frame_carries_bus_errors_and_old_ones_read_zero():
    from imu_host.protocol.frames import encode_status

    st = StatusFrame(10, 20, 0, 0, 0, None, True, True, False, bus_errors=300)
    assert decode_all(encode_status(st))[0].bus_errors == 255  # saturating u8
    old = StatusFrame(10, 20, 0, 0, 0, None, True, True, False)
    assert decode_all(encode_status(old))[0].bus_errors == 0


def _bf(seq: int, n: int, t0: int = 0, backfill: bool = False) -> SampleFrame:
    counts = np.array([[q, 0, 8192, 0, 0, 0] for q in range(seq, seq + n)], dtype=np.int16)
    f = decode_all(encode_samples(seq, t0 + seq * 10_000, 10_000, counts))[0]
    return SampleFrame(f.seq, f.t_us, f.dt_us, f.counts, backfill)


def test_assembler_merges_backfill_by_sequence_number_without_duplicates():
    asm = SampleAssembler(_info11(), backfill=True)
    out = asm.feed([_bf(0, 4), _bf(4, 4), _bf(20, 4), _bf(24, 4)])  # 8..19 missing
    assert asm.samples_lost == 12
    # backfill arrives late, overlapping what was delivered live, and twice
    out += asm.feed([_bf(6, 4, backfill=True), _bf(10, 8, backfill=True)])
    out += asm.feed([_bf(16, 8, backfill=True), _bf(12, 4, backfill=True)])
    from imu_host.core.samples import Samples

    s = Samples.concat(out)
    seqs = np.round(s.accel_g[:, 0] * 8192).astype(int)  # ax carries the seq here
    assert sorted(seqs.tolist()) == list(range(28))  # every sample once
    assert asm.samples_lost == 0 and asm.samples_backfilled == 12
    assert asm.backfill_duplicates == 2 + 6 + 4  # 6,7 / 16,17,20..23 / 12..15
    # each sample at its true time: seq q at q * 10 ms
    assert np.allclose(s.t_s, seqs * 0.01)


def test_assembler_ignores_backfill_unless_asked():
    asm = SampleAssembler(_info11())
    out = asm.feed([_bf(0, 4), _bf(8, 4), _bf(4, 4, backfill=True)])
    assert asm.samples_lost == 4 and sum(len(b) for b in out) == 8
