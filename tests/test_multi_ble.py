"""Multi-board live sessions over BLE end to end, through Bumble.

Two and three in-process simulated boards (the firmware's own Streamer) with unique ids
play the multi-body simulator's data in real time; each streams its protocol bytes as
NUS notifications from its own Bumble GATT server (advertising ``KneeRoll-<last 6 hex>``
as the firmware does) over one virtual link to the host's central, into the real BLE
transport via bleak's public API and the multi-board session. One board goes out of
range mid-session: the session is degraded to the others and carries on (and, with three
boards, the board comes back). Truth is the simulator's per-rep labels; the recording
must replay to exactly the live events.
"""

from __future__ import annotations

import io
import json
import queue

import numpy as np
import pytest

pytest.importorskip("bumble")

from bumble_backend import BumbleWorld, VirtualBoard  # noqa: E402
from test_multi_live import SPF, UidBoard, _in_sync  # noqa: E402

from imu_host.core.events import RepEvent  # noqa: E402
from imu_host.core.multi import KNEES_APART, SHOULDER_LIFT, BoardEvent  # noqa: E402
from imu_host.io.multi import read_multi_recording, replay_multi  # noqa: E402
from imu_host.live.multi import BoardSource, MultiLiveOptions, MultiLiveSession  # noqa: E402
from imu_host.sim.multibody import simulate_multi  # noqa: E402
from imu_host.transport.base import Backoff  # noqa: E402
from imu_host.transport.ble import BleTransport  # noqa: E402

UIDS = {"left-thigh": "246F28A1B2C3", "right-thigh": "246F28D4E5F6", "sternum": "7C9EBD0A1B2C"}
SCAN_S = 3.0  # each reconnect try scans this long while a board is out of range


class BlePort:
    """The SimulatedBoard's port interface on one virtual board's NUS service."""

    def __init__(self, world: BumbleWorld, board: VirtualBoard) -> None:
        self.world = world
        self.board = board
        self.rx: queue.Queue[bytes] = queue.Queue()
        board.on_rx = self.rx.put

    def write(self, data: bytes, timeout: float = 0.5) -> int:
        b = self.board
        if b.connection is None or not b.subscribed.is_set():
            return 0  # nobody listening: the board drops the samples
        self.world.run(b.send(data))
        return len(data)

    def read(self, timeout: float) -> bytes:
        try:
            data = self.rx.get(timeout=timeout) if timeout > 0 else self.rx.get_nowait()
        except queue.Empty:
            return b""
        while not self.rx.empty():
            data += self.rx.get_nowait()
        return data


def _name(role: str) -> str:
    return f"KneeRoll-{UIDS[role][-6:]}"  # what the firmware advertises (config.BLE_NAME_ID)


def _run(loop, tmp_path, scenario: str, roles: tuple[str, ...], away: str, back: bool,
         backoff: Backoff | None = None):  # fmt: skip
    sim = simulate_multi(scenario, 1, reps_per_side=1)
    world = BumbleWorld(loop, board_names=[_name(r) for r in roles], board_mtu=100)
    world.run(world.start())
    client, scanner = world.backends()
    boards, sources = {}, []
    for role, vb in zip(roles, world.boards, strict=True):
        acc, gyr = _in_sync(sim, role)
        hook = None
        if role == away:
            n = len(acc) // SPF
            gone, again = int(0.5 * n), int(0.75 * n)

            def hook(i: int, vb=vb, gone=gone, again=again) -> None:
                if i == gone:
                    world.run(vb.out_of_range())
                elif back and i == again:
                    world.run(vb.in_range())

        boards[role] = UidBoard(BlePort(world, vb), acc, gyr, uid=UIDS[role],
                                odr_hz=sim.sample_rate_hz[role], samples_per_frame=SPF,
                                speed=1.0, on_frame=hook)  # fmt: skip
        t = BleTransport(_name(role), client_backend=client, scanner_backend=scanner,
                         loop=world.loop, scan_timeout=SCAN_S)  # fmt: skip
        # the roles are found by unique id (as stored from an earlier session), and the
        # boards are given in another order than their roles
        sources.append(BoardSource("", f"ble:{_name(role)}", t))
    sources.reverse()
    stored = {f"uid:{UIDS[r]}": r for r in roles}
    folder = tmp_path / "session"
    opts = MultiLiveOptions(record_path=folder, duration_s=120.0,
                            backoff=backoff or Backoff(initial=0.05, maximum=0.2))  # fmt: skip
    out = io.StringIO()
    session = MultiLiveSession(sources, opts, out=out, err=io.StringIO(),
                               assign=lambda ids: [stored[i] for i in ids])  # fmt: skip
    for b in boards.values():
        b.start()
    try:
        summary = session.run(lambda: all(b.done.is_set() for b in boards.values()))
    finally:
        for b in boards.values():
            b.stop()
        for ln in session.links:
            ln.link.close()
    return sim, session, summary, folder, out.getvalue()


def _check(sim, session, summary, folder, roles, away) -> None:
    truth = sim.truth
    reps = [e.rep for e in session.events if isinstance(e, RepEvent)]
    assert [r.side for r in reps] == [r["side"] for r in truth["reps"]]
    for role in roles:
        assert summary["live"]["boards"][role]["board_id"] == f"uid:{UIDS[role]}"
        assert summary["live"]["boards"][role]["samples"] > 500
    # the board out of range is marked dropped; the others carry on
    drops = [e for e in session.events if isinstance(e, BoardEvent) and e.state == "dropped"]
    assert [e.role for e in drops] == [away]
    assert set(drops[0].remaining) == set(roles) - {away}
    # the flags on the reps with the boards they need agree with the truth
    figs = summary["multi"]["reps"]
    for f, t in zip(figs, truth["reps"], strict=True):
        if f["separation_deg"] is not None:
            assert (KNEES_APART in f["flags"]) == t["knees_apart"], (f, t)
        if f["trunk_roll_deg"] is not None:
            assert (SHOULDER_LIFT in f["flags"]) == t["shoulder_lift"], (f, t)
    assert any(f["separation_deg"] is not None for f in figs)
    # reconnecting (scanning SCAN_S per try) never held up the other boards' data
    rows = [ln.split(",") for ln in (folder / "feeds.csv").read_text().splitlines()[1:]]
    for role in set(roles) - {away}:
        host = np.array([float(h) for r, _, h in rows if r == role])
        assert np.diff(host).max() < 0.5 * SCAN_S, role
    # the recording keeps the unique ids and replays to exactly the live events
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {r: b["unique_id"] for r, b in manifest["boards"].items()} == {r: UIDS[r] for r in roles}
    rec = read_multi_recording(folder)
    # every board was pinged and answered; the exchanges are recorded for the replay
    assert all(summary["live"]["boards"][r]["pings_answered"] > 0 for r in roles)
    assert {p[1] for p in rec.pings} == set(roles)
    assert all(c["pings"] for c in summary["multi"]["clock"].values())
    mp = replay_multi(rec)
    assert [e.to_dict() for e in mp.events] == [e.to_dict() for e in session.events]


@pytest.mark.slow
@pytest.mark.realtime
def test_ble_two_boards_one_out_of_range(loop, tmp_path):
    roles = ("left-thigh", "right-thigh")
    sim, session, summary, folder, text = _run(loop, tmp_path, "two_thighs", roles,
                                               "right-thigh", back=False)  # fmt: skip
    _check(sim, session, summary, folder, roles, "right-thigh")
    assert "BOARD right-thigh dropped out" in text
    assert f"-- left-thigh: uid:{UIDS['left-thigh']}" in text


@pytest.mark.slow
@pytest.mark.realtime
def test_ble_three_boards_sternum_drops_and_comes_back(loop, tmp_path):
    roles = ("left-thigh", "right-thigh", "sternum")
    # the default backoff (up to 5 s between tries): a background reconnection is still
    # picked up within BACKGROUND_POLL_S of being made
    sim, session, summary, folder, text = _run(loop, tmp_path, "mixed_faults", roles,
                                               "sternum", back=True, backoff=Backoff())  # fmt: skip
    _check(sim, session, summary, folder, roles, "sternum")
    n = len(_in_sync(sim, "sternum")[0]) // SPF
    away_s = (int(0.75 * n) - int(0.5 * n)) * SPF / sim.sample_rate_hz["sternum"]
    rows = [ln.split(",") for ln in (folder / "feeds.csv").read_text().splitlines()[1:]]
    host = np.array([float(h) for r, _, h in rows if r == "sternum"])
    assert away_s < np.diff(host).max() < away_s + 1.5  # back within 1.5 s of in range
    backs = [e for e in session.events if isinstance(e, BoardEvent) and e.state == "back"]
    assert [e.role for e in backs] == ["sternum"]
    assert summary["live"]["boards"]["sternum"]["reconnects"] == 1
    assert "sternum reconnected" in text


def _cli_session(loop, monkeypatch, capsys, order: list[str], argv: list[str]) -> dict:
    """``imu-host live --ble NAME ...`` (in ``order``) against fresh virtual boards with the
    same unique ids; returns the JSON summary line."""
    from imu_host.cli.main import main
    from imu_host.transport import base

    sim = simulate_multi("two_thighs", 2, reps_per_side=1)
    roles = ("left-thigh", "right-thigh")
    world = BumbleWorld(loop, board_names=[_name(r) for r in roles])
    world.run(world.start())
    client, scanner = world.backends()

    def open_transport(*, ble=None, **_kw):
        return BleTransport(ble, client_backend=client, scanner_backend=scanner,
                            loop=world.loop, scan_timeout=SCAN_S)  # fmt: skip

    monkeypatch.setattr(base, "open_transport", open_transport)
    boards = []
    for role, vb in zip(roles, world.boards, strict=True):
        acc, gyr = _in_sync(sim, role)
        boards.append(UidBoard(BlePort(world, vb), acc, gyr, uid=UIDS[role],
                               odr_hz=sim.sample_rate_hz[role], samples_per_frame=SPF,
                               speed=1.0).start())  # fmt: skip
    try:
        ble = [a for r in order for a in ("--ble", _name(r))]
        rc = main(["live", *ble, *argv, "--duration", "1.5", "--json-events", "--quiet",
                   "--no-save", "--no-record"])  # fmt: skip
    finally:
        for b in boards:
            b.stop()
    assert rc == 0
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")][-1]


@pytest.mark.slow
@pytest.mark.realtime
def test_cli_live_ble_roles_follow_the_unique_ids(loop, monkeypatch, capsys):
    from imu_host.live.multi import load_roles

    first = _cli_session(loop, monkeypatch, capsys, ["right-thigh", "left-thigh"],
                         ["--role", "right-thigh", "--role", "left-thigh"])  # fmt: skip
    assert first["live"]["stop_reason"] == "duration reached"
    want = {f"uid:{UIDS[r]}": r for r in ("left-thigh", "right-thigh")}
    assert load_roles() == want
    # the next session names the boards the other way round and gives no --role
    second = _cli_session(loop, monkeypatch, capsys, ["left-thigh", "right-thigh"], [])
    for role in ("left-thigh", "right-thigh"):
        b = second["live"]["boards"][role]
        assert b["board_id"] == f"uid:{UIDS[role]}" and _name(role) in b["source"]
        assert b["samples"] > 50
