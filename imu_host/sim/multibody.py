"""Multi-body simulator: two thighs and the upper trunk, each with its own board.

Built on the single-thigh simulator's physics (:mod:`imu_host.sim.physics`) and movement
model (:mod:`imu_host.sim.motion`, :mod:`imu_host.sim.scenarios`), which it imports and
never changes:

- **Shared roll.** One knee-roll set (``run_set``) gives the shared roll ``theta(t)`` of
  the knees, smoothed and with breathing sway exactly as the single-thigh simulator does.
- **Two thighs.** ``theta_L = theta + sep_L(t)``, ``theta_R = theta + sep_R(t)``. On a rep
  to side s, the *upper* leg (the one away from s: going left, the right leg is on top) may
  stay behind: its excursion is reduced by ``sep_deg * |theta| / amplitude`` (a separation
  that grows with depth; every rep has a natural 0-3 deg of it), or it follows the shared
  roll ``lag_s`` late (``theta_upper(t) = theta(t - lag_s)`` over the rep). Each thigh is a
  rigid segment (``body_signals``) with its own mounting, geometry and sensor errors
  (``default_setup``).
- **Upper trunk.** ``trunk(t) = k_rep * theta(t)`` during each rep (``k_rep`` the
  scenario's coupling: 0.02-0.10 with the shoulders down (trunk <= 6 deg), 0.35-0.6 (>= 14 deg) when the opposite
  shoulder lifts), a segment lying on the back with the sternum board on the chest
  (``psi = 90``: board +X toward the feet, +Z up).
- **Clocks.** Each board starts streaming at its own host time ``start_s`` and counts time
  on its own crystal: device time = ``(t_true - start_s) * (1 + drift)``, ``drift`` +-100-400
  ppm. Frames of 5 samples reach the host ``latency_s`` (per board: 2-30 ms, USB to BLE)
  plus an exponential jitter after their last sample (``latency_s``: 1-4 ms over USB
  serial, 8-20 ms over BLE; one link type per session); the host reads each port at
  random intervals of 5-50 ms and gets every frame that has arrived.
- **Pings.** The host pings each streaming board every 0.15-0.45 s (random moments). The
  command reaches the board after its down-link floor (``latency_down_s``: the up-link's
  floor within +-``link_asymmetry_s``, 1 ms by default: NTP's assumption, up and down
  alike) plus its own exponential jitter (3 ms mean: the link and the firmware's command
  polling); the ACK's device time is stamped up to 1 ms before the command is read (the
  firmware's poll pass reads the clock first) and goes back like a frame, read at the
  port's next read (``MultiSimResult.pings``). The pings come from their own random
  stream: a (scenario, seed) has the same samples and reads with or without them.
- **Drop-out.** In ``board_dropout`` one board's stream ends mid-session.

Truth (``MultiSimResult.truth``) per rep: side, start/peak/end (host seconds, the truth
time base: the left-thigh board's stream start is ``boards[role]["start_s"]`` after 0),
``separation_deg`` (max |theta_L - theta_R| over the rep), ``lag_s`` (the upper leg's
delay, 0 if none), ``trunk_roll_deg`` (max trunk roll toward the knees' side),
``knees_apart`` / ``shoulder_lift`` (by design, no grey zone: apart reps separate by >= 14
deg or lag >= 0.35 s, together reps by <= 4 deg and 0 s; lifting reps roll the trunk by >=
14 deg, the others by <= 6 deg). Per board: role, start_s, drift_ppm, latency_s,
dropout_s (host time the stream ended, or None), sample_rate_hz, latency_down_s.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from imu_host.core.samples import Samples
from imu_host.sim.motion import LEFT, RIGHT, SIGN
from imu_host.sim.physics import (
    FINE_DT,
    FINE_HZ,
    Kinematics,
    body_signals,
    rot_axis,
    sample_sensor,
)
from imu_host.sim.scenarios import (
    SENSOR_POS_THIGH,
    Setup,
    alternating,
    default_setup,
    lying_hip,
    run_set,
)

ROLES = ("left-thigh", "right-thigh", "sternum")
THIGH_OF = {LEFT: "left-thigh", RIGHT: "right-thigh"}
SMOOTH_S = 0.012  # the same 12 ms smoothing as the single-thigh simulator
SPF = 5  # samples per frame, as the firmware sends them
READ_GAP_S = (0.005, 0.05)  # the host reads each port again after this long (random)
STERNUM_POS = np.array([0.0, 0.0, 0.04])  # board on the chest, 4 cm above the segment line
STERNUM_HIP = np.array([-0.45, 0.0, 0.12])  # the trunk point 45 cm toward the head, 12 cm up

# design ranges of the scenarios (truth flags have no grey zone between them)
NATURAL_SEP_DEG = (0.0, 3.0)
APART_SEP_DEG = (14.0, 25.0)
LAG_S = (0.35, 0.7)
TRUNK_DOWN_K = (0.02, 0.10)
TRUNK_LIFT_K = (0.35, 0.6)
TRUNK_LIFT_MIN_DEG = 14.0
TRUNK_DOWN_MAX_DEG = 6.0
DRIFT_PPM = (100.0, 400.0)
LATENCY_S = {"serial": (0.001, 0.004), "ble": (0.008, 0.020)}  # latency floor per link
JITTER_MEAN_S = 0.002
# pings (host -> board -> host), drawn from their own random stream so that the samples
# and reads of a (scenario, seed) are the same with or without them
PING_GAP_S = (0.15, 0.45)  # the host pings each board again after this long (random)
DOWN_JITTER_MEAN_S = 0.003  # the down-link's own exponential jitter (command polling too)
LINK_ASYMMETRY_S = 0.001  # down-link floor = up-link floor + uniform(-this, +this)
# the firmware stamps an ACK with the clock reading of its poll pass, taken before the
# samples are read and the command bytes are: up to this much before the command is read
ACK_STAMP_EARLY_S = 0.001


@dataclass
class MultiSimResult:
    """Per-role samples (device time), the host's read log, and the truth."""

    samples: dict[str, Samples]
    sample_rate_hz: dict[str, float]
    feeds: list[tuple[str, int, float]]  # (role, samples so far after this read, host_s)
    truth: dict
    # true mapping: host time of a device time t of board r = start_s + t / (1 + drift)
    clock: dict[str, tuple[float, float]] = field(default_factory=dict)  # role -> (start, drift)
    # ping exchanges in the order the host read their answers: (feeds before it, role,
    # host time sent, device time handled, host time the answer was read)
    pings: list[tuple[int, str, float, float, float]] = field(default_factory=list)

    def host_time(self, role: str, t_dev: np.ndarray) -> np.ndarray:
        start, drift = self.clock[role]
        return start + np.asarray(t_dev) / (1.0 + drift)


@dataclass
class _Plan:
    apart_sides: set[str] = field(default_factory=set)  # reps to these sides: upper leg apart
    apart_frac: float = 1.0  # fraction of those reps that separate
    lag_frac: float = 0.0  # fraction of reps where the upper leg lags
    lift_deep: bool = False  # trunk lifts on the deeper half of the reps
    dropout: str | None = None  # role whose stream ends mid-session
    roles: tuple[str, ...] = ROLES
    n_per_side: tuple[int, int] = (4, 6)


def _scenarios() -> dict[str, tuple[str, _Plan]]:
    return {
        "knees_together": ("knees move as one, shoulders down", _Plan()),
        "knees_apart_one_side": (
            "on one side the upper knee stays 14-25 deg behind at end range",
            _Plan(apart_sides={"pick"}, apart_frac=0.75),
        ),
        "leg_lagging": (
            "on about half the reps the upper leg follows 0.35-0.7 s late",
            _Plan(lag_frac=0.5),
        ),  # fmt: skip
        "shoulder_lift_deep": (
            "the opposite shoulder lifts (trunk rolls 14+ deg) on the deeper reps",
            _Plan(lift_deep=True),
        ),
        "board_dropout": (
            "one board's stream ends mid-session; knees apart and a shoulder lift mixed in",
            _Plan(apart_sides={"pick"}, apart_frac=0.5, lift_deep=True, dropout="pick"),
        ),
        "mixed_faults": (
            "knees apart on one side and the shoulder lifting on the deeper reps",
            _Plan(apart_sides={"pick"}, apart_frac=0.75, lift_deep=True),
        ),
        "two_thighs": (
            "two thigh boards only (no sternum); knees apart on one side",
            _Plan(apart_sides={"pick"}, apart_frac=0.75, roles=ROLES[:2]),
        ),
    }


def list_multi_scenarios() -> list[str]:
    return list(_scenarios())


def describe_multi_scenarios() -> dict[str, str]:
    return {k: v[0] for k, v in _scenarios().items()}


def multi_suite(seeds: int = 7, first_seed: int = 1) -> list[tuple[str, int]]:
    """The seeded multi-sensor suite: every scenario with ``seeds`` seeds, counted from
    ``first_seed`` (the default set is 1..7; a fresh set, e.g. ``first_seed=101``, checks
    that the tuning did not fit the default seeds)."""
    return [(name, s) for name in _scenarios() for s in range(first_seed, first_seed + seeds)]


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(("multi:" + name).encode())])


def _shift(theta: np.ndarray, lag_n: int, i0: int, i1: int) -> np.ndarray:
    """theta delayed by lag_n fine samples over [i0, i1 + lag_n) (the upper leg's lag)."""
    out = theta.copy()
    j1 = min(len(theta), i1 + lag_n)
    src = np.arange(i0, j1) - lag_n
    out[i0:j1] = theta[np.clip(src, 0, len(theta) - 1)]
    return out


def simulate_multi(
    name: str,
    seed: int = 1,
    reps_per_side: int | None = None,
    link_asymmetry_s: float = LINK_ASYMMETRY_S,
) -> MultiSimResult:
    """Generate multi-sensor scenario ``name`` (same inputs -> identical output);
    ``reps_per_side`` overrides the scenario's 4-5 (short sessions for real-time tests);
    ``link_asymmetry_s``: each board's down-link latency floor differs from its up-link's
    by up to this much (uniform, +-), the error the pings' midpoint cannot see."""
    sc_all = _scenarios()
    if name not in sc_all:
        raise KeyError(f"unknown multi scenario {name!r}; valid: {', '.join(sc_all)}")
    plan = sc_all[name][1]
    rng = _rng(name, seed)
    prng = _rng("ping:" + name, seed)  # the pings' own stream: samples unchanged by them
    base = default_setup(rng)  # the shared movement, and the left thigh's board
    n_side = int(rng.integers(*plan.n_per_side))
    sides = alternating(rng, reps_per_side or n_side)
    run_set(base, sides, "medium", rest=(1.2, 2.5))
    mb = base.mb
    theta0 = mb.theta_array()
    n = len(theta0)
    t = np.arange(n) * FINE_DT
    sway = rng.uniform(0.2, 0.5) * np.sin(
        2 * np.pi * rng.uniform(0.2, 0.33) * t + rng.uniform(0, 6)
    )
    theta = gaussian_filter1d(theta0 + sway, SMOOTH_S * FINE_HZ, mode="nearest")

    apart_sides = set(plan.apart_sides)
    if "pick" in apart_sides:
        apart_sides = {LEFT if rng.random() < 0.5 else RIGHT}
    amps = [float(np.max(SIGN[r.side] * theta[r.i_start : r.i_end + 1])) for r in mb.reps]
    deep_cut = float(np.median(amps))
    thetas = {LEFT: theta.copy(), RIGHT: theta.copy()}
    trunk = np.zeros(n)
    rep_truth: list[dict[str, Any]] = []
    for k, rp in enumerate(mb.reps):
        s = SIGN[rp.side]
        upper = RIGHT if rp.side == LEFT else LEFT
        i0, i1 = rp.i_start, rp.i_end
        amp = amps[k]
        env = np.clip(s * theta[i0 : i1 + 1] / amp, 0.0, 1.0)
        apart = rp.side in apart_sides and rng.random() < plan.apart_frac
        lag = 0.0
        if not apart and plan.lag_frac and k > 0 and rng.random() < plan.lag_frac:
            lag = float(rng.uniform(*LAG_S))
        sep = rng.uniform(*(APART_SEP_DEG if apart else NATURAL_SEP_DEG))
        if lag:
            thetas[upper] = _shift(thetas[upper], int(round(lag * FINE_HZ)), i0, i1)
        thetas[upper][i0 : i1 + 1] -= s * sep * env
        lift = plan.lift_deep and amp >= deep_cut
        kk = rng.uniform(*(TRUNK_LIFT_K if lift else TRUNK_DOWN_K))
        # no grey zone: a lifting shoulder turns the trunk by >= 14 deg, else <= 6 deg
        kk = max(kk, TRUNK_LIFT_MIN_DEG / amp) if lift else min(kk, TRUNK_DOWN_MAX_DEG / amp)
        trunk[i0 : i1 + 1] += kk * theta[i0 : i1 + 1]
        rep_truth.append({"side": rp.side, "i": (i0, i1), "amp": amp, "apart": apart,
                          "lag_s": lag, "lift": bool(lift), "sep_design": sep})  # fmt: skip
    for side in (LEFT, RIGHT):
        thetas[side] = gaussian_filter1d(thetas[side], SMOOTH_S * FINE_HZ, mode="nearest")
    trunk = gaussian_filter1d(trunk, 0.05 * FINE_HZ, mode="nearest")

    roles = plan.roles
    dropout_role = None
    if plan.dropout == "pick":
        dropout_role = str(rng.choice(list(roles)))
    duration = (n - 1) * FINE_DT
    samples: dict[str, Samples] = {}
    rates: dict[str, float] = {}
    clocks: dict[str, tuple[float, float]] = {}
    boards: dict[str, dict] = {}
    feeds: list[tuple[str, int, float]] = []
    pings: list[tuple[str, float, float, float]] = []
    link = "serial" if rng.random() < 0.5 else "ble"
    drop_t = None
    if dropout_role is not None:
        k = len(mb.reps) // 2
        drop_t = float(mb.reps[k].i_start * FINE_DT + rng.uniform(-0.5, 0.5))
    for ri, role in enumerate(roles):
        sc: Setup = base if ri == 0 else default_setup(rng)
        if role == "sternum":
            # lying on the back: the board flat on the chest within a few degrees
            sc.mount = rot_axis(rng.normal(size=3), np.deg2rad(rng.uniform(0.0, 10.0)))
            th = trunk
            psi = np.full(n, 90.0)
            hip = np.tile(STERNUM_HIP, (n, 1))
            pos = STERNUM_POS
        else:
            if ri == 0 or rng.random() < 0.5:
                # strapped as the README says (+X along the thigh to the knee), within 8 deg
                sc.mount = rot_axis(rng.normal(size=3), np.deg2rad(rng.uniform(0.0, 8.0)))
                sc.follows_convention = True
            th = thetas[LEFT if role == "left-thigh" else RIGHT]
            rel = np.clip(th / max(base.typical_amp, 10.0), -1.5, 1.5)
            psi = 90.0 + sc.beta_deg - sc.wobble_deg * rel * rel
            hip = np.tile(lying_hip(sc), (n, 1))
            pos = SENSOR_POS_THIGH
        kin = Kinematics(th, psi, hip, np.zeros(n), np.zeros((n, 3)))
        body = body_signals(kin, sc.mount, pos)
        spec = sc.spec
        drift = float(rng.uniform(*DRIFT_PPM) * rng.choice([-1.0, 1.0]) * 1e-6)
        spec.rate_error = drift  # the board's crystal: its "100 Hz" is 100 * (1 + drift)
        spec.drop_prob = 0.0
        spec.accel_range_g, spec.gyro_range_dps = 4.0, 500.0  # what the firmware streams
        start = float(rng.uniform(0.0, 1.5))
        sampled = sample_sensor(body, spec, duration, rng)
        keep = sampled.t_true >= start
        stop_t = drop_t if role == dropout_role else None
        if stop_t is not None:
            keep &= sampled.t_true < stop_t
        tt = sampled.t_true[keep]
        s0 = sampled.samples
        t_dev = (s0.t_s[keep] - tt[0]) * (1.0 + drift)  # jittered stamps, device seconds
        t_dev = np.maximum.accumulate(np.maximum(t_dev, 0.0))
        gyro = s0.gyro_dps[keep] if s0.gyro_dps is not None else None
        samples[role] = Samples(t_dev, s0.accel_g[keep], gyro)
        rates[role] = float(spec.rate_hz)
        clocks[role] = (float(tt[0]), drift)
        lat = float(rng.uniform(*LATENCY_S[link]))
        boards[role] = {"role": role, "start_s": round(float(tt[0]), 6),
                        "drift_ppm": round(drift * 1e6, 1), "latency_s": round(lat, 4),
                        "link": link, "dropout_s": None if stop_t is None else round(stop_t, 3),
                        "sample_rate_hz": float(spec.rate_hz),
                        "mounting_follows_convention": bool(sc.follows_convention)}  # fmt: skip
        m = len(tt)
        ends = np.arange(SPF, m + SPF, SPF).clip(max=m)
        arr = tt[ends - 1] + lat + rng.exponential(JITTER_MEAN_S, size=len(ends))
        arr = np.maximum.accumulate(arr)  # a serial link keeps frame order
        # the host reads this port at random moments: a read returns what has arrived
        gaps = rng.uniform(*READ_GAP_S, size=int(duration / READ_GAP_S[0]) + 10)
        reads = np.cumsum(gaps)
        at = reads[np.searchsorted(reads, arr)]
        last_of_read = np.flatnonzero(np.diff(at, append=np.inf) > 0)
        feeds.extend((role, int(ends[i]), float(at[i])) for i in last_of_read)
        # pings at random moments while the board streams: down-link floor (the up-link's
        # within +-link_asymmetry_s) plus its own jitter, handled at device time d, the
        # answer back over the up-link like a frame, read at this port's next read
        lat_down = max(0.0, lat + float(prng.uniform(-link_asymmetry_s, link_asymmetry_s)))
        boards[role]["latency_down_s"] = round(lat_down, 4)
        n_p = int((tt[-1] - tt[0]) / PING_GAP_S[0]) + 2
        sent = tt[0] + np.cumsum(prng.uniform(*PING_GAP_S, size=n_p))
        handled = sent + lat_down + prng.exponential(DOWN_JITTER_MEAN_S, size=n_p)
        back = handled + lat + prng.exponential(JITTER_MEAN_S, size=n_p)
        ok = (handled < tt[-1]) & (back < reads[-1])
        read_at = reads[np.searchsorted(reads, back[ok])]
        early = prng.uniform(0.0, ACK_STAMP_EARLY_S, size=n_p)[ok]
        d_dev = (handled[ok] - early - tt[0]) * (1.0 + drift)
        pings.extend((role, float(a), float(d), float(r))
                     for a, d, r in zip(sent[ok], d_dev, read_at, strict=True))  # fmt: skip
    feeds.sort(key=lambda f: (f[2], ROLES.index(f[0])))
    # an answer is taken after the samples of the same read (and every earlier read)
    pings.sort(key=lambda p: (p[3], ROLES.index(p[0])))
    feed_host = np.array([f[2] for f in feeds])
    placed = [(int(np.searchsorted(feed_host, p[3], side="right")), *p) for p in pings]

    thL, thR = thetas[LEFT], thetas[RIGHT]
    reps = []
    for rt in rep_truth:
        i0, i1 = rt["i"]
        s = SIGN[rt["side"]]
        w = slice(i0, min(n, i1 + 1 + int(round(rt["lag_s"] * FINE_HZ))))
        ipk = i0 + int(np.argmax(s * theta[i0 : i1 + 1]))
        sep = float(np.max(np.abs(thL[w] - thR[w])))
        troll = float(np.max(s * trunk[w]))
        reps.append({
            "side": rt["side"],
            "start_s": round(i0 * FINE_DT, 3),
            "peak_s": round(ipk * FINE_DT, 3),
            "end_s": round(i1 * FINE_DT, 3),
            "amplitude_deg": round(rt["amp"], 2),
            "separation_deg": round(sep, 2),
            "lag_s": round(rt["lag_s"], 3),
            "lagging": THIGH_OF[RIGHT if rt["side"] == LEFT else LEFT] if rt["lag_s"] else None,
            "trunk_roll_deg": round(troll, 2),
            "knees_apart": bool(rt["apart"] or rt["lag_s"] > 0),
            "shoulder_lift": bool(rt["lift"]),
        })  # fmt: skip
    truth = {
        "scenario": name,
        "seed": int(seed),
        "roles": list(roles),
        "boards": boards,
        "reps": reps,
        "reps_left": sum(r["side"] == LEFT for r in reps),
        "reps_right": sum(r["side"] == RIGHT for r in reps),
        "apart_sides": sorted(apart_sides),
        "dropout": None if dropout_role is None else {"role": dropout_role, "t_s": drop_t},
        "duration_s": round(duration, 3),
        "notes": sc_all[name][0],
        "time_base": "host seconds; device time of board r = (t - start_s) * (1 + drift)",
    }
    return MultiSimResult(samples, rates, feeds, truth, clocks, placed)


__all__ = [
    "ROLES",
    "MultiSimResult",
    "describe_multi_scenarios",
    "list_multi_scenarios",
    "multi_suite",
    "simulate_multi",
]


# ----------------------------------------------------------------------------- scoring


def run_multi(sim: MultiSimResult, settings: object = None, pings: bool = True) -> object:
    """Feed a simulated session to a MultiPipeline in the host's read order (with the
    ping exchanges where they were read, unless ``pings=False``: arrival times only)."""
    from imu_host.core.multi import MultiPipeline

    mp = MultiPipeline(tuple(sim.samples), settings)  # type: ignore[arg-type]
    pos = dict.fromkeys(sim.samples, 0)
    exchanges = sim.pings if pings else []
    k = 0
    for i, (role, end, host) in enumerate(sim.feeds):
        while k < len(exchanges) and exchanges[k][0] <= i:
            mp.ping(*exchanges[k][1:])
            k += 1
        if role not in mp.boards:
            s = sim.samples[role]
            mp.add_board(role, sim.sample_rate_hz[role], s.gyro_dps is not None)
        mp.feed(role, sim.samples[role].slice(pos[role], end), host)
        pos[role] = end
    for p in exchanges[k:]:
        mp.ping(*p[1:])
    mp.finish()
    return mp


def score_multi(sim: MultiSimResult, mp: object) -> dict:
    """Compare a MultiPipeline's reps, flags, figures and clocks with the truth.

    Detected reps are matched to truth reps by peak time (the truth in host seconds, the
    detection in the reference board's device time, mapped by the *true* clock)."""
    from imu_host.core.multi import KNEES_APART, SHOULDER_LIFT

    truth = sim.truth
    ref = mp.reference  # type: ignore[attr-defined]
    reps = list(mp.reps)  # type: ignore[attr-defined]
    figs = list(mp.figures)  # type: ignore[attr-defined]
    true_reps = truth["reps"]
    used: set[int] = set()
    pairs = []
    for r, f in zip(reps, figs, strict=True):
        pk = float(sim.host_time(ref, np.array([r.peak_s]))[0])
        st = float(sim.host_time(ref, np.array([r.start_s]))[0])
        en = float(sim.host_time(ref, np.array([r.end_s]))[0])
        best = None
        for j, tr in enumerate(true_reps):
            if j in used:
                continue
            if st - 0.5 <= tr["peak_s"] <= en + 0.5 or abs(tr["peak_s"] - pk) < 1.0:
                best = j
                break
        if best is not None:
            used.add(best)
            pairs.append((r, f, true_reps[best]))
    out: dict = {
        "reps": len(reps),
        "truth_reps": len(true_reps),
        "matched": len(pairs),
        "sides_ok": all(r.side == t["side"] for r, _, t in pairs),
        "counts_ok": len(reps) == len(true_reps) == len(pairs)
        and all(r.side == t["side"] for r, _, t in pairs),
    }
    drop = truth.get("dropout") or {}

    def judged(kind: str, t: dict) -> bool:
        """False for a rep after the board its rule needs had dropped out."""
        role = drop.get("role")
        if role is None or t["start_s"] < drop["t_s"]:
            return True
        needs_thighs = kind == KNEES_APART and role != "sternum"
        return not (needs_thighs or (kind == SHOULDER_LIFT and role == "sternum"))

    for kind in (KNEES_APART, SHOULDER_LIFT):
        kept = [(r, f, t) for r, f, t in pairs if judged(kind, t)]
        tp = sum(1 for _, f, t in kept if kind in f["flags"] and t[kind])
        fp = sum(1 for _, f, t in kept if kind in f["flags"] and not t[kind])
        fn = sum(1 for _, f, t in kept if kind not in f["flags"] and t[kind])
        fn += sum(
            1 for j, t in enumerate(true_reps) if j not in used and t[kind] and judged(kind, t)
        )
        fp += sum(1 for r, f in zip(reps, figs, strict=True) if kind in f["flags"]
                  and not any(r is p[0] for p in pairs))  # fmt: skip
        out[kind] = {"tp": tp, "fp": fp, "fn": fn}
    out["separation_err_deg"] = [abs(f["separation_deg"] - t["separation_deg"])
                                 for _, f, t in pairs if f["separation_deg"] is not None]  # fmt: skip
    out["trunk_err_deg"] = [abs(f["trunk_roll_deg"] - t["trunk_roll_deg"])
                            for _, f, t in pairs if f["trunk_roll_deg"] is not None]  # fmt: skip
    out["lag_err_s"] = [abs(f["lag_s"] - t["lag_s"]) for _, f, t in pairs if f["lag_s"] is not None]
    # clock alignment: each board's device time mapped to session time, against the truth
    align: dict[str, float] = {}
    spread: dict[str, dict[str, float]] = {}
    ref_start, ref_drift = sim.clock[ref]
    ref_clock = mp.boards[ref].clock  # type: ignore[attr-defined]
    for role, b in mp.boards.items():  # type: ignore[attr-defined]
        if role == ref:
            continue
        td = sim.samples[role].t_s[:: max(1, int(sim.sample_rate_hz[role]))]
        est = b.to_session(td, ref_clock)
        true = (sim.host_time(role, td) - ref_start) * (1.0 + ref_drift)
        err = np.abs(est - true)
        align[role] = float(np.median(err))
        spread[role] = {"median": align[role], "p90": float(np.percentile(err, 90)),
                        "max": float(err.max())}  # fmt: skip
    out["align_err_s"] = align  # per board: median |error| over the session (1 s steps)
    out["align_spread_s"] = spread  # per board: median, 90th percentile and max |error|
    return out


def write_session(sim: MultiSimResult, folder: str) -> None:
    """Write a simulated session as a multi-board recording folder (``io/multi.py``),
    with the host reads as its feeds, and ``FOLDER.truth.json`` beside it."""
    import json
    from pathlib import Path

    from imu_host.io.multi import write_multi_recording

    meta = {"source": f"imu-host multibody simulator: {sim.truth['scenario']} "
                      f"seed {sim.truth['seed']}"}  # fmt: skip
    write_multi_recording(folder, sim.samples, sim.sample_rate_hz, sim.feeds, meta, pings=sim.pings)
    side = Path(str(folder) + ".truth.json")
    with open(side, "x", encoding="utf-8") as fh:
        json.dump(sim.truth, fh, indent=1)
        fh.write("\n")
