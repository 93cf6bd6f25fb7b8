"""Multi-board live sessions end to end over real pseudo-terminals.

Two and three in-process simulated boards (the firmware's own Streamer, imu_host/sim/
board.py), each behind its own PtyDevicePort, play the multi-body simulator's sensor
data in real time; one board is unplugged mid-session from its on_frame hook. The host
side is the real path: pyserial -> FrameDecoder -> SampleAssembler -> MultiPipeline.
Truth comes from the simulator (its per-rep labels), never from the code under test;
the recording is replayed and must give exactly the live events.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from imu_host.core.events import FlagEvent, RepEvent
from imu_host.core.multi import KNEES_APART, SHOULDER_LIFT, BoardEvent
from imu_host.io.multi import read_multi_recording, replay_multi
from imu_host.live.multi import BoardSource, MultiLiveOptions, MultiLiveSession
from imu_host.sim.board import SimulatedBoard
from imu_host.sim.multibody import simulate_multi
from imu_host.transport.base import Backoff
from imu_host.transport.serial import PtyDevicePort, SerialTransport

SPF = 5  # samples per frame the simulated boards send


def _in_sync(sim, role: str) -> tuple[np.ndarray, np.ndarray]:
    """The role's samples padded at the start so that every board's sample 0 is the same
    moment (the boards are all started together; the simulator started them apart)."""
    s = sim.samples[role]
    pad = int(round(sim.truth["boards"][role]["start_s"] * sim.sample_rate_hz[role]))
    acc = np.vstack([np.repeat(s.accel_g[:1], pad, axis=0), s.accel_g])
    gyr = np.vstack([np.repeat(s.gyro_dps[:1], pad, axis=0), s.gyro_dps])
    return acc, gyr


def _run_live(tmp_path, scenario: str, seed: int, roles: tuple[str, ...], unplug: str):
    sim = simulate_multi(scenario, seed, reps_per_side=2)
    ports, boards, sources = {}, {}, []
    for role in roles:
        port = PtyDevicePort(str(tmp_path / f"tty-{role}"))
        ports[role] = port
        acc, gyr = _in_sync(sim, role)
        hook = None
        if role == unplug:
            at = int(0.55 * len(acc) / SPF)

            def hook(i: int, port=port, at=at) -> None:
                if i == at and port.plugged:
                    port.unplug()

        boards[role] = SimulatedBoard(
            port, acc, gyr, odr_hz=sim.sample_rate_hz[role], samples_per_frame=SPF,
            speed=1.0, on_frame=hook,
        )  # fmt: skip
        sources.append(BoardSource(role, f"serial:{port.path}", SerialTransport(port.path)))
    folder = tmp_path / "session"
    opts = MultiLiveOptions(record_path=folder, duration_s=120.0,
                            backoff=Backoff(initial=0.05, maximum=0.2))  # fmt: skip
    out = io.StringIO()
    session = MultiLiveSession(sources, opts, out=out, err=io.StringIO())
    for b in boards.values():
        b.start()
    try:
        summary = session.run(lambda: all(b.done.is_set() for b in boards.values()))
    finally:
        for b in boards.values():
            b.stop()
        for p in ports.values():
            p.close()
    return sim, session, summary, folder, out.getvalue()


def _check(sim, session, summary, folder, roles, unplug) -> None:
    truth = sim.truth
    reps = [e.rep for e in session.events if isinstance(e, RepEvent)]
    # counts per side, in order, as the simulator planned them
    assert [r.side for r in reps] == [r["side"] for r in truth["reps"]]
    # the unplugged board is marked dropped, the others carry on
    drops = [e for e in session.events if isinstance(e, BoardEvent) and e.state == "dropped"]
    assert [e.role for e in drops] == [unplug]
    assert unplug not in drops[0].remaining and set(drops[0].remaining) == set(roles) - {unplug}
    assert summary["multi"]["board_changes"][0]["role"] == unplug
    # flags on the reps whose boards were all there agree with the truth
    figs = summary["multi"]["reps"]
    checked = 0
    for f, t in zip(figs, truth["reps"], strict=True):
        if KNEES_APART in f["flags"] or f["separation_deg"] is not None:
            assert (KNEES_APART in f["flags"]) == t["knees_apart"], (f, t)
            checked += 1
        if f["trunk_roll_deg"] is not None:
            assert (SHOULDER_LIFT in f["flags"]) == t["shoulder_lift"], (f, t)
    assert checked >= 2
    # a rep flagged knees apart was cued during it or at its end
    cues = [e for e in session.events if isinstance(e, FlagEvent) and e.kind == KNEES_APART]
    assert len(cues) == sum(KNEES_APART in f["flags"] for f in figs)
    # the recording replays to exactly the events shown live
    rec = read_multi_recording(folder)
    # every board was pinged and answered; the exchanges are recorded for the replay
    assert all(summary["live"]["boards"][r]["pings_answered"] > 0 for r in roles)
    assert {p[1] for p in rec.pings} == set(roles)
    assert all(c["pings"] for c in summary["multi"]["clock"].values())
    assert set(rec.boards) == set(roles)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["boards"][roles[0]]["board_id"].startswith("serial:")
    mp = replay_multi(rec)
    assert [e.to_dict() for e in mp.events] == [e.to_dict() for e in session.events]


@pytest.mark.slow
@pytest.mark.realtime
def test_live_two_boards_primary_unplugged(tmp_path):
    roles = ("left-thigh", "right-thigh")
    # the primary (left) thigh goes: the right thigh carries on counting
    sim, session, summary, folder, text = _run_live(tmp_path, "two_thighs", 1, roles,
                                                    "left-thigh")  # fmt: skip
    _check(sim, session, summary, folder, roles, "left-thigh")
    assert "BOARD left-thigh dropped out" in text


@pytest.mark.slow
@pytest.mark.realtime
def test_live_three_boards_sternum_unplugged(tmp_path):
    roles = ("left-thigh", "right-thigh", "sternum")
    sim, session, summary, folder, text = _run_live(tmp_path, "mixed_faults", 1, roles,
                                                    "sternum")  # fmt: skip
    _check(sim, session, summary, folder, roles, "sternum")
    assert "BOARD sternum dropped out" in text


@pytest.mark.slow
@pytest.mark.realtime
def test_cli_live_two_boards_remembers_roles_and_records(tmp_path, capsys):
    from imu_host.cli.main import main
    from imu_host.live.multi import load_roles

    sim = simulate_multi("two_thighs", 2, reps_per_side=1)
    ports, boards = [], []
    for role in ("left-thigh", "right-thigh"):
        port = PtyDevicePort(str(tmp_path / f"tty-{role}"))
        acc, gyr = _in_sync(sim, role)
        ports.append(port)
        boards.append(SimulatedBoard(port, acc, gyr, odr_hz=sim.sample_rate_hz[role],
                                     samples_per_frame=SPF, speed=1.0).start())  # fmt: skip
    folder = tmp_path / "rec"
    try:
        # the right thigh is given first: --role follows the order of --serial
        rc = main(["live", "--serial", ports[1].path, "--serial", ports[0].path,
                   "--role", "right-thigh", "--role", "left-thigh", "--duration", "4",
                   "--json-events", "--record", str(folder), "--quiet"])  # fmt: skip
    finally:
        for b in boards:
            b.stop()
        for p in ports:
            p.close()
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["live"]["stop_reason"] == "duration reached"
    assert summary["live"]["boards"]["left-thigh"]["board_id"] == f"serial:{ports[0].path}"
    assert load_roles() == {f"serial:{ports[0].path}": "left-thigh",
                            f"serial:{ports[1].path}": "right-thigh"}  # fmt: skip
    rec = read_multi_recording(folder)
    assert set(rec.boards) == {"left-thigh", "right-thigh"}
    assert all(len(b.samples) > 200 for b in rec.boards.values())  # 4 s at 100 Hz each
    mp = replay_multi(rec)
    live_events = [x for x in lines if x["event"] not in ("summary", "link")]
    assert [e.to_dict() for e in mp.events] == live_events


# ------------------------------------------------------------------ plain words

GOLDEN = sorted(p for p in (Path(__file__).parent.parent / "recordings" / "multi").iterdir()
                if p.is_dir())  # fmt: skip
INTERNAL = ("knees_apart", "shoulder_lift", "fast_drop", "fast_return", "KNEES APART",
            "SHOULDER LIFT")  # fmt: skip


def _golden_truth(folder: Path) -> dict:
    return json.loads(Path(str(folder) + ".truth.json").read_text())


@pytest.mark.parametrize("folder", GOLDEN, ids=[p.name for p in GOLDEN])
def test_live_lines_say_the_faults_in_plain_words(folder):
    from imu_host.live.multi import format_multi_event

    truth = _golden_truth(folder)
    mp = replay_multi(read_multi_recording(folder))
    lines = [format_multi_event(e) for e in mp.events]
    for line in lines:
        assert not any(w in line for w in INTERNAL), line
    reps = [ln for ln in lines if "  REP  " in ln]
    assert len(reps) == len(truth["reps"])
    figs = [e.figures for e in mp.events if hasattr(e, "figures")]
    for line, t, f in zip(reps, truth["reps"], figs, strict=True):
        if f["separation_deg"] is not None:  # both thighs there: the truth decides
            assert ("knees came apart" in line) == t["knees_apart"], line
        if f["trunk_roll_deg"] is not None:
            assert ("shoulder lifted" in line) == t["shoulder_lift"], line
    cues = [ln for ln in lines if "  CUE  " in ln]
    assert all("keep the knees together (knees came apart" in c or
               "shoulders down (shoulder lifted" in c for c in cues), cues  # fmt: skip


def test_replay_summary_table_uses_plain_words(capsys):
    from imu_host.cli.main import main

    folder = next(f for f in GOLDEN if f.name.startswith("mixed_faults"))
    truth = _golden_truth(folder)
    assert main(["replay", str(folder), "--no-save"]) == 0
    out = capsys.readouterr().out
    assert not any(w in out for w in INTERNAL), out
    rows = [ln.split() for ln in out.splitlines() if ln[:3].strip().isdigit()]
    assert len(rows) == len(truth["reps"])
    for row, t in zip(rows, truth["reps"], strict=True):
        text = " ".join(row)
        assert ("knees came apart" in text) == t["knees_apart"], text
        assert ("shoulder lifted" in text) == t["shoulder_lift"], text
        assert text.endswith("clean") == (not t["knees_apart"] and not t["shoulder_lift"])


# ------------------------------------------------------------------ board ids

UIDS = {"left-thigh": "E66141040B5A2C31", "right-thigh": "E66141040B77D902"}


class UidBoard(SimulatedBoard):
    """The simulated board with a unique id (machine.unique_id() on a real board)."""

    def __init__(self, *args, uid: str, **kw) -> None:
        self._uid = bytes.fromhex(uid)
        super().__init__(*args, **kw)

    def _boot(self, autostart: bool):
        return self._streamer_mod.Streamer(self.imu, self.link, spf=self.spf,
                                           clock=self._clock, autostart=autostart,
                                           uid=self._uid)  # fmt: skip


class Firmware10(SerialTransport):
    """What the host sees from a board on firmware 1.0: no DEVICE frame, version 1.0.0."""

    def __init__(self, port: str) -> None:
        super().__init__(port)
        self._dec = None

    def open(self) -> None:
        from imu_host.protocol.frames import FrameDecoder

        super().open()
        self._dec = FrameDecoder()

    def read(self, timeout: float) -> bytes:
        from dataclasses import replace

        from imu_host.protocol import frames as p

        out = b""
        for fr in self._dec.feed(super().read(timeout)):
            if isinstance(fr, p.DeviceInfo):
                out += p.encode_info(replace(fr, firmware_version="1.0.0"))
            elif isinstance(fr, p.SampleFrame):
                out += p.encode_samples(fr.seq, fr.t_us, fr.dt_us, fr.counts, fr.backfill)
        return out


def _pty_boards(tmp_path, sim, where: dict[str, str], uids: dict[str, str]):
    """role -> (port, board); the role's board plays that thigh of ``sim``."""
    out = {}
    for role, name in where.items():
        port = PtyDevicePort(str(tmp_path / name))
        acc, gyr = _in_sync(sim, role)
        kw = dict(odr_hz=sim.sample_rate_hz[role], samples_per_frame=SPF, speed=0.0)
        board = (UidBoard(port, acc, gyr, uid=uids[role], **kw) if role in uids
                 else SimulatedBoard(port, acc, gyr, **kw))  # fmt: skip
        out[role] = (port, board.start())
    return out


def _stop(boards) -> None:
    for port, board in boards.values():
        board.stop()
        port.close()


def _mean_accel(rec, role: str) -> np.ndarray:
    return rec.boards[role].samples.accel_g[:200].mean(axis=0)


def test_a_board_keeps_its_role_when_it_moves_to_another_port(tmp_path, capsys):
    from imu_host.cli.main import main
    from imu_host.live.multi import load_roles

    sim = simulate_multi("two_thighs", 3, reps_per_side=1)
    first = _pty_boards(tmp_path, sim, {"left-thigh": "ttyACM0", "right-thigh": "ttyACM1"}, UIDS)
    try:
        rc = main(["live", "--serial", first["left-thigh"][0].path, "--serial",
                   first["right-thigh"][0].path, "--role", "left-thigh", "--role",
                   "right-thigh", "--duration", "1", "--json-events", "--record",
                   str(tmp_path / "one"), "--quiet", "--no-save"])  # fmt: skip
    finally:
        _stop(first)
    assert rc == 0
    capsys.readouterr()
    stored = load_roles()
    assert stored == {f"uid:{UIDS['left-thigh']}": "left-thigh",
                      f"uid:{UIDS['right-thigh']}": "right-thigh"}  # fmt: skip
    # next session: the left board is now on the port the right one had (and the right
    # one on a new port); no --role: each board is known by its unique id
    second = _pty_boards(tmp_path, sim, {"left-thigh": "ttyACM1b", "right-thigh": "ttyACM2"},
                         UIDS)  # fmt: skip
    try:
        rc = main(["live", "--serial", second["right-thigh"][0].path, "--serial",
                   second["left-thigh"][0].path, "--duration", "1", "--json-events",
                   "--record", str(tmp_path / "two"), "--quiet", "--no-save"])  # fmt: skip
    finally:
        _stop(second)
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    boards = lines[-1]["live"]["boards"]
    for role in ("left-thigh", "right-thigh"):
        assert boards[role]["board_id"] == f"uid:{UIDS[role]}"
        assert boards[role]["unique_id"] == UIDS[role]
        assert second[role][0].path in boards[role]["source"]
    assert load_roles() == stored
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["boards"]["left-thigh"]["unique_id"] == UIDS["left-thigh"]
    rec = read_multi_recording(tmp_path / "two")
    assert rec.boards["right-thigh"].unique_id == UIDS["right-thigh"]
    # and the data under each role is that board's: the left thigh's mounting, not the right's
    want = {r: sim.samples[r].accel_g[:200].mean(axis=0) for r in UIDS}
    for role, other in (("left-thigh", "right-thigh"), ("right-thigh", "left-thigh")):
        got = _mean_accel(rec, role)
        assert np.linalg.norm(got - want[role]) < np.linalg.norm(got - want[other])


def test_cli_live_needs_a_role_per_unknown_board(tmp_path, capsys):
    """Two boards never seen before (no stored role) and no --role: one line, nothing
    recorded."""
    from imu_host.cli.main import main

    sim = simulate_multi("two_thighs", 5, reps_per_side=1)
    uids = {"left-thigh": "0123456789ABCDEF", "right-thigh": "FEDCBA9876543210"}
    boards = _pty_boards(tmp_path, sim, {"left-thigh": "ttyN0", "right-thigh": "ttyN1"}, uids)
    try:
        rc = main(["live", "--serial", boards["left-thigh"][0].path, "--serial",
                   boards["right-thigh"][0].path, "--duration", "1", "--record",
                   str(tmp_path / "rec"), "--quiet", "--no-save"])  # fmt: skip
    finally:
        _stop(boards)
    assert rc == 2
    err = capsys.readouterr().err
    assert "has no role" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "rec").exists()


def test_firmware_1_0_boards_fall_back_to_the_port_id(tmp_path):
    sim = simulate_multi("two_thighs", 4, reps_per_side=1)
    boards = _pty_boards(tmp_path, sim, {"left-thigh": "ttyUSB0", "right-thigh": "ttyUSB1"},
                         {"right-thigh": UIDS["right-thigh"]})  # fmt: skip
    lp, rp = boards["left-thigh"][0].path, boards["right-thigh"][0].path
    sources = [BoardSource("", f"serial:{lp}", Firmware10(lp)),
               BoardSource("", f"serial:{rp}", SerialTransport(rp))]  # fmt: skip
    stored = {
        f"serial:{lp}": "left-thigh",
        f"uid:{UIDS['right-thigh']}": "right-thigh",
        f"serial:{rp}": "sternum",
    }  # fmt: skip  (a stale port entry: not used)
    seen: list[list[str]] = []

    def assign(ids: list[str]) -> list[str]:
        seen.append(ids)
        return [stored[i] for i in ids]

    out = io.StringIO()
    opts = MultiLiveOptions(record_path=tmp_path / "rec", duration_s=1.0)
    session = MultiLiveSession(sources, opts, out=out, err=io.StringIO(), assign=assign)
    try:
        summary = session.run()
    finally:
        _stop(boards)
    assert seen == [[f"serial:{lp}", f"uid:{UIDS['right-thigh']}"]]
    assert summary["live"]["boards"]["left-thigh"]["unique_id"] is None
    assert summary["live"]["boards"]["left-thigh"]["samples"] > 100
    assert summary["live"]["boards"]["right-thigh"]["board_id"] == f"uid:{UIDS['right-thigh']}"
    assert f"-- left-thigh: serial:{lp}" in out.getvalue()
    m = json.loads((tmp_path / "rec" / "manifest.json").read_text())["boards"]
    assert m["left-thigh"]["unique_id"] is None and m["left-thigh"]["board_id"] == f"serial:{lp}"
    assert m["right-thigh"]["unique_id"] == UIDS["right-thigh"]


@pytest.mark.parametrize("folder", GOLDEN[:1], ids=[p.name for p in GOLDEN[:1]])
def test_manifests_without_unique_ids_still_read_and_a_bad_one_is_one_line(folder, tmp_path):
    import shutil

    from imu_host.errors import InputError

    rec = read_multi_recording(folder)  # written before board unique ids
    assert all(b.unique_id is None for b in rec.boards.values())
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    doc = json.loads((copy / "manifest.json").read_text())
    role = next(iter(doc["boards"]))
    doc["boards"][role]["unique_id"] = "not hex!"
    (copy / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        read_multi_recording(copy)
    assert f"boards.{role}.unique_id" in str(err.value) and "manifest.json" in str(err.value)


def test_two_ports_reaching_the_same_board_is_one_line(tmp_path):
    from imu_host.errors import InputError

    sim = simulate_multi("two_thighs", 5, reps_per_side=1)
    same = {"left-thigh": UIDS["left-thigh"], "right-thigh": UIDS["left-thigh"]}
    boards = _pty_boards(tmp_path, sim, {"left-thigh": "ttyA", "right-thigh": "ttyB"}, same)
    sources = [BoardSource(r, f"serial:{boards[r][0].path}", SerialTransport(boards[r][0].path))
               for r in ("left-thigh", "right-thigh")]  # fmt: skip
    session = MultiLiveSession(sources, MultiLiveOptions(record_path=tmp_path / "rec"),
                               out=io.StringIO(), err=io.StringIO())  # fmt: skip
    try:
        with pytest.raises(InputError) as err:
            session.run()
    finally:
        _stop(boards)
    assert str(err.value).count("\n") == 0 and f"uid:{UIDS['left-thigh']}" in str(err.value)
    assert not (tmp_path / "rec").exists()  # nothing recorded
