"""Physical simulator of lying knee rolls seen by a thigh-worn IMU, with exact ground truth.

Not curve drawing: the thigh is a rigid segment that rolls about the body's long axis by the
roll angle theta(t); the sensor strapped on it reads gravity plus the linear acceleration of
its own point, and its angular velocity, in its own (arbitrarily mounted) frame.

Conventions (exact)
-------------------
- World frame: **x** toward the feet (head-to-foot, horizontal), **z** up, **y = z x x**, which
  is the person's **left** for a supine person (head at -x, face at +z).
- Roll: the thigh rotates about the world x axis through the roll-axis point (origin).
  ``theta > 0`` is a right-handed rotation by theta about **-x** (the head-pointing axis), which
  moves the knees toward +y: **theta > 0 = knees to the person's LEFT**, theta < 0 = right.
  Rotation matrix ``A(theta) = Rx(-theta)``; world angular velocity ``theta_dot * (-x)``.
- Thigh frame: X = hip -> knee, Z = out of the front of the thigh, Y = Z x X (person's left).
  Hip flexion psi rotates it about -y: psi = 0 standing (X = -z, Z = +x facing +x), 90 = thigh
  horizontal, ``psi = 90 + beta`` lying at centre, where beta (40-50 deg) is the thigh's
  elevation above horizontal toward the knee: X = (cos b, 0, sin b), Z = (-sin b, 0, cos b).
- Sensor orientation (sensor -> world): ``R = A(theta) B(psi) STAND Rx(slip) M``; ``M`` is the
  mounting (sensor -> thigh). **Nominal mounting** (product convention) is ``M = I``: sensor +X
  along the thigh toward the knee, +Z out of the thigh's surface, +Y = person's left.  With it,
  at centre the roll axis in the sensor frame is (-cos b, 0, sin b) and a left roll makes the
  accelerometer's Y reading go negative (f_y = -sin(theta)).  ``truth["mounting_follows_
  convention"]`` is true when M is within 8 deg of I (a strap slip about X keeps it true);
  otherwise M is a uniformly random rotation (the sensor strapped any way round).  The side
  in the truth is always the person's anatomical side.
- Out-of-plane (cone) wobble: psi = 90 + beta - w * (theta / typical_amp)^2, |w| <= 10 deg.
- Accelerometer: specific force ``f = a_lin - g_vec`` with ``g_vec = (0, 0, -1 g)``, i.e. +1 g
  "up" at rest, in g, sensor frame.  a_lin is the second derivative of the sensor point
  ``p = A(theta)(hip + B(psi) STAND s)`` (s = 0.30 m along the thigh, 0.07 m out of it; the hip
  placed so that the sensor is ``radius_m`` = 0.35-0.45 m from the roll axis at centre), so it
  contains the tangential (alpha x r) and centripetal (omega x (omega x r)) terms exactly.
- Gyroscope: angular velocity of the sensor in the sensor frame, deg/s.
- Sensor errors: white noise, gyro bias + random-walk drift, accel scale (+-3 %) and offset
  (+-0.03 g), single-sample knocks (high-noise), int16 quantisation at the chosen full scale
  (+-2/4/8 g, +-250/500/2000 dps) converted back to physical units, 50-200 Hz with a +-1-3 %
  clock-rate error, timestamp jitter, isolated dropped samples and packet gaps (t_s jumps).
- Time: ``t_s`` and every time in the truth are seconds from the first sample (the true
  sample instants; the recorded t_s adds jitter).

Movement model (theta, deg; built on a 500 Hz grid, smoothed with a 12 ms Gaussian)
- controlled descents/returns: minimum-jerk, 1.5-4 s, peak speed 1.875*amp/T <= 55 deg/s;
- momentum (fast) drops: 0.25-0.8 s, sin^2 speed build-up to >= 140 deg/s and an abrupt
  cos^2 stop in 80-150 ms (plus 10-16 Hz soft-tissue ringing), then a 2-6 deg rebound;
  hard drops (``hard_drops_*``): 200-300 deg/s, 0.2-0.8 s, stopped in 60-80 ms, then a
  damped 5-10 deg rebound (two decaying dips);
- yanked returns: minimum-jerk with peak >= 140 deg/s; holds 0-8 s (sinking 0-2 deg further);
  rests at centre 0-5 s, each within +-1.5 deg of 0;
- bounce: 2-3 pulses of 4-10 deg (<= 30 % of the range) back toward centre and out again at
  end range (one rep);
- fidgets: < 8 deg out-and-back from centre (not reps); breathing sway 0.2-0.5 deg always;
- continuous swinging: half-sine excursions 1.6-4 s each with no pause (peak <= 55 deg/s);
- partial excursions at the edges follow the hand-counting rule of the real recordings: one
  that starts before the recording counts only if at most about half of its outward travel
  was missed (the simulator uses < 25 % -> counted, all of it -> excluded); one cut off at the
  end counts only if it came back at least halfway (>= 70 % -> counted, none -> excluded).
- walk/sit/lie prelude (theta = 0): thigh vertical, swinging +-20-25 deg about the
  mediolateral axis at ~0.9 Hz stride (1.7-1.95 steps/s) with heel-strike impacts; sits down
  (thigh pitches from vertical through horizontal to knees-up, ~130-150 deg, in 2-4 s), lies
  back (2-4 s).

Scenarios: :func:`list_scenarios` / :func:`describe_scenarios`; :func:`suite` is the golden
suite (every family with 2-3 seeds).

Truth (``SimResult.truth``, written as ``FILE.truth.json`` by ``imu-host simulate``)
``{"scenario", "seed", "sample_rate_hz", "has_gyro", "mounting_follows_convention", "reps":
[{"side", "start_s", "peak_s", "end_s", "amplitude_deg", "peak_descent_dps", "peak_return_dps",
"fast_drop", "bounce", "fast_return", "descent_s", "hold_s", "return_s", "truncated_start",
"truncated_end"}], "reps_left", "reps_right", "no_rep_segments", "ambiguous", "notes", ...}``.
Only counted reps are listed.  Speeds and amplitudes are measured on the model's theta (not by
any detector); ``fast_drop`` reps peak at >= 120 deg/s and every other descent at <= 60 deg/s
(likewise ``fast_return``), so there is no grey zone.  ``amplitude_deg`` is the deepest |theta|
(relative to the anatomical centre, theta = 0).  ``no_rep_segments`` are the walk/sit/lie
prelude and the lying-still stretches.  Extra keys: "gaps" ([t_before, t_after] of each packet
gap), "strap_slip_s", "fidgets" ([t0, t1]), "excluded_reps", "duration_s", "radius_m",
"thigh_elevation_deg", "cone_wobble_deg", "accel_range_g", "gyro_range_dps",
"mounting_sensor_to_thigh" (3x3, sensor -> thigh).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from imu_host.core.samples import Samples
from imu_host.sim.motion import G_MS2, LEFT, RIGHT, SIGN, impulse
from imu_host.sim.physics import (
    FINE_DT,
    FINE_HZ,
    Kinematics,
    body_signals,
    sample_sensor,
)
from imu_host.sim.scenarios import FAMILIES, SENSOR_POS_THIGH, Setup, default_setup, lying_hip

SMOOTH_S = 0.012


@dataclass(frozen=True)
class SimResult:
    """A simulated recording and its ground truth."""

    samples: Samples
    sample_rate_hz: float
    truth: dict
    theta_deg: np.ndarray  # true roll angle at every sample (left positive)
    roll_axis_sensor: np.ndarray  # (N,3) unit roll axis (-x, world) in the sensor frame
    t_true: np.ndarray  # true sample instants (t_s without jitter)


def list_scenarios() -> list[str]:
    """Names of all scenario families."""
    return list(FAMILIES)


def describe_scenarios() -> dict[str, str]:
    """Scenario name -> one-line description."""
    return {name: desc for name, (_, desc) in FAMILIES.items()}


# extra seeds for the families the detector's acceptance numbers lean on most
_EXTRA_SEEDS = {
    "fast_drops_mixed": 3,
    "continuous_swing": 3,
    "walk_sit_lie": 3,
    "non_alternating": 3,
    "bounces": 3,
    "fast_drops_most": 3,
    "sloppy_mixed": 3,
    "no_exercise": 3,
}


def suite() -> list[tuple[str, int]]:
    """The standard golden suite: (scenario, seed) pairs, >= 2 seeds of every family."""
    out: list[tuple[str, int]] = []
    for name in FAMILIES:
        n = _EXTRA_SEEDS.get(name, 2)
        out.extend((name, seed) for seed in range(1, n + 1))
    return out


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


def simulate(name: str, seed: int = 0) -> SimResult:
    """Generate scenario ``name`` with ``seed`` (same inputs -> identical output)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown scenario {name!r}; valid: {', '.join(FAMILIES)}")
    rng = _rng(name, seed)
    sc = default_setup(rng)
    FAMILIES[name][0](sc)
    return _assemble(name, seed, sc)


def _assemble(name: str, seed: int, sc: Setup) -> SimResult:
    rng, mb = sc.rng, sc.mb
    theta = mb.theta_array()
    n = len(theta)
    t = np.arange(n) * FINE_DT
    n_pre = 0 if sc.prelude is None else len(sc.prelude.psi_deg)

    # breathing sway while lying (theta exactly 0 during a walk/sit prelude)
    sway = rng.uniform(0.2, 0.5) * np.sin(
        2 * np.pi * rng.uniform(0.2, 0.33) * t + rng.uniform(0, 6.3)
    )
    # fade the lying-only perturbations in over 1.5 s after a walk/sit prelude (no steps)
    fade = np.clip((t - n_pre * FINE_DT) / 1.5, 0.0, 1.0) if n_pre else np.ones(n)
    fade = fade * fade * (3.0 - 2.0 * fade)
    sway *= fade
    theta = gaussian_filter1d(theta + sway, SMOOTH_S * FINE_HZ, mode="nearest")
    if n_pre:
        theta[:n_pre] = 0.0

    psi0 = 90.0 + sc.beta_deg
    rel = np.clip(theta / max(sc.typical_amp, 10.0), -1.5, 1.5)
    psi = psi0 - sc.wobble_deg * rel * rel
    # movement irregularity / soft tissue: small band-limited (0.5-4 Hz) out-of-plane wobble of
    # the thigh (hip flexion), larger while moving; it leaves theta (and the truth) untouched
    rng_w = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), 2])
    wob = rng_w.normal(size=n)
    spec_f = np.fft.rfft(wob)
    f = np.fft.rfftfreq(n, FINE_DT)
    spec_f[(f < 0.5) | (f > 4.0)] = 0.0
    wob = np.fft.irfft(spec_f, n)
    wob *= rng_w.uniform(0.2, 0.8) / max(float(np.std(wob)), 1e-12)
    moving = np.clip(np.abs(np.gradient(theta, FINE_DT)) / 30.0, 0.0, 1.0)
    psi = psi + wob * (0.3 + 0.7 * moving) * fade
    hip = np.tile(lying_hip(sc), (n, 1))
    impact = np.zeros((n, 3))
    if sc.prelude is not None:
        psi[:n_pre] = sc.prelude.psi_deg
        hip[:n_pre] = sc.prelude.hip_m
        impact[:n_pre] = sc.prelude.impact_ms2
    # soft tissue: the strapped sensor rings briefly (10-16 Hz) when a fast drop is stopped
    rng_t = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), 1])
    for rp in mb.reps:
        if rp.fast_drop:
            th_a = np.deg2rad(theta[rp.i_arrive])
            tangent = np.array([0.0, np.cos(th_a), -np.sin(th_a)])  # d p / d theta direction
            ring = impulse(
                n,
                np.array([rp.i_arrive - int(0.04 * FINE_HZ)]),
                np.array([rng_t.uniform(0.2, 0.6) * G_MS2]),
                rng_t.uniform(10.0, 16.0),
                0.04,
            )
            impact -= SIGN[rp.side] * ring[:, None] * tangent[None, :]
    slip = np.zeros(n)
    if sc.slip is not None:
        ts, ang, dur = sc.slip
        u = np.clip((t - ts) / dur, 0.0, 1.0)
        slip = ang * u * u * u * (10 - 15 * u + 6 * u * u)

    # start part-way: drop the beginning of the fine-grid motion
    crop = 0
    excluded = []
    reps = list(mb.reps)
    if sc.crop is not None:
        kind, frac = sc.crop
        first = reps[0]
        s = SIGN[first.side]
        if kind == "counted":
            seg = s * theta[first.i_start : first.i_arrive]
            amp = seg.max()
            crop = first.i_start + int(np.argmax(seg >= frac * amp))
        else:
            crop = (
                first.i_arrive + int(frac * (first.i_leave - first.i_arrive)) + int(0.3 * FINE_HZ)
            )
            crop = min(crop, first.i_leave)
            excluded.append(
                {
                    "side": first.side,
                    "end_s": round((first.i_end - crop) * FINE_DT, 3),
                    "reason": "recording starts at the side, after all of the outward travel",
                }
            )
            reps = reps[1:]
    stop = n
    if sc.crop_end is not None:
        kind, frac = sc.crop_end
        last = reps[-1]
        s = SIGN[last.side]
        if kind == "counted":
            seg = s * theta[last.i_leave : last.i_end]
            stop = last.i_leave + int(np.argmax(seg <= (1.0 - frac) * seg.max())) + 1
        else:
            stop = last.i_arrive + int(frac * (last.i_leave - last.i_arrive)) + 1
            excluded.append(
                {
                    "side": last.side,
                    "start_s": round((last.i_start - crop) * FINE_DT, 3),
                    "reason": "recording ends at the side, before any of the return",
                }
            )
            reps = reps[:-1]
    sl = slice(crop, stop)
    theta, psi, hip, impact, slip = theta[sl], psi[sl], hip[sl], impact[sl], slip[sl]
    n = len(theta)
    duration = (n - 1) * FINE_DT
    kin = Kinematics(theta, psi, hip, slip, impact)
    body = body_signals(kin, sc.mount, SENSOR_POS_THIGH)

    spec = sc.spec
    fmax = float(np.abs(body.f_g).max()) + 0.1
    wmax = float(np.abs(body.w_dps).max()) + 10.0
    spec.accel_range_g = float(rng.choice([r for r in sc.accel_ranges if r > fmax] or [8.0]))
    if sc.accel_range_forced is not None:
        spec.accel_range_g = sc.accel_range_forced
    spec.gyro_range_dps = float(rng.choice([r for r in sc.gyro_ranges if r > wmax] or [2000.0]))

    # packet gaps in the longest centre rests
    rests = [(a - crop, b - crop) for a, b in mb.rests if a - crop > 0 and b <= stop]
    if sc.n_gaps:
        ok = [r for r in rests if (r[1] - r[0]) * FINE_DT >= 2.2 and r[0] > 0]
        ok = ok[1:-1] if len(ok) > 3 else ok
        chosen = rng.choice(len(ok), size=min(sc.n_gaps, len(ok)), replace=False)
        for k in sorted(int(c) for c in chosen):
            a, b = ok[k]
            count = int(rng.integers(10, 101))
            dur = count / spec.rate_hz
            mid = 0.5 * (a + b) * FINE_DT
            spec.gaps.append((mid - dur / 2, count))

    for start_s, dur_s in sorted(sc.timed_gaps):
        spec.gaps.append((start_s - crop * FINE_DT, max(1, int(round(dur_s * spec.rate_hz)))))

    sampled = sample_sensor(body, spec, duration, rng)
    pos = sampled.idx_fine
    grid = np.arange(n, dtype=float)
    theta_s = np.interp(pos, grid, theta)
    axis_s = np.column_stack([np.interp(pos, grid, body.roll_axis_sensor[:, k]) for k in range(3)])

    theta_dot = np.gradient(theta, FINE_DT)
    margin = int(3 * SMOOTH_S * FINE_HZ)
    rep_truth = []
    for rp in reps:
        s = SIGN[rp.side]
        i0, ia, il, i1 = (max(0, i - crop) for i in (rp.i_start, rp.i_arrive, rp.i_leave, rp.i_end))
        i1 = min(i1, n - 1)
        win = s * theta[i0 : i1 + 1]
        ipk = i0 + int(np.argmax(win))
        d_hi = ia + margin if rp.kind == "rep" else ia
        r_lo = il - margin if rp.kind == "rep" and rp.bounce is False else il
        peak_desc = float(np.abs(theta_dot[i0 : max(d_hi, i0 + 1)]).max())
        peak_ret = float(np.abs(theta_dot[max(r_lo, i0) : i1 + 1]).max())
        rep_truth.append(
            {
                "side": rp.side,
                "start_s": round(i0 * FINE_DT, 3),
                "peak_s": round(ipk * FINE_DT, 3),
                "end_s": round(i1 * FINE_DT, 3),
                "amplitude_deg": round(float(win.max()), 2),
                "peak_descent_dps": round(peak_desc, 1),
                "peak_return_dps": round(peak_ret, 1),
                "fast_drop": rp.fast_drop,
                "bounce": rp.bounce,
                "fast_return": rp.fast_return,
                "descent_s": round((ia - i0) * FINE_DT, 3),
                "hold_s": round((il - ia) * FINE_DT, 3),
                "return_s": round((i1 - il) * FINE_DT, 3),
                "truncated_start": bool(rp.i_start < crop),
                "truncated_end": bool(rp.i_end >= stop),
            }
        )

    no_rep = []
    if sc.prelude is not None:
        no_rep.append([0.0, round(sc.prelude.sit_end_s, 3)])
    t_end = float(sampled.t_true[-1])
    no_rep.extend([round(a, 3), round(min(b, t_end), 3)] for a, b in sc.still)

    truth = {
        "scenario": name,
        "seed": int(seed),
        "sample_rate_hz": float(spec.rate_hz),
        "has_gyro": bool(spec.has_gyro),
        "mounting_follows_convention": bool(sc.follows_convention),
        "reps": rep_truth,
        "reps_left": sum(r["side"] == LEFT for r in rep_truth),
        "reps_right": sum(r["side"] == RIGHT for r in rep_truth),
        "no_rep_segments": no_rep,
        "ambiguous": False,
        "notes": "; ".join(sc.notes),
        "duration_s": round(float(sampled.t_true[-1]), 3),
        "gaps": [[round(a, 3), round(b, 3)] for a, b in sampled.gaps],
        "strap_slip_s": None if sc.slip is None else round(sc.slip[0] - crop * FINE_DT, 3),
        "fidgets": [
            [round((a - crop) * FINE_DT, 3), round((b - crop) * FINE_DT, 3)] for a, b in mb.fidgets
        ],
        "excluded_reps": excluded,
        "radius_m": round(sc.radius_m, 3),
        "thigh_elevation_deg": round(sc.beta_deg, 2),
        "cone_wobble_deg": round(sc.wobble_deg, 2),
        "accel_range_g": spec.accel_range_g,
        "gyro_range_dps": spec.gyro_range_dps if spec.has_gyro else None,
        "mounting_sensor_to_thigh": np.round(sc.mount, 4).tolist(),
    }
    return SimResult(sampled.samples, float(spec.rate_hz), truth, theta_s, axis_s, sampled.t_true)
