"""Rigid-body physics and sensor model behind :mod:`imu_host.sim.generate` (conventions: see there).

Everything here works on a fine uniform time grid (:data:`FINE_HZ`), vectorised with numpy:

- :func:`body_signals` turns the segment kinematics (roll ``theta``, hip flexion ``psi``, hip
  position ``h``, strap slip ``slip``) into the ideal sensor-frame specific force (g) and
  angular rate (deg/s).
- :func:`sample_sensor` resamples those onto the device's (jittered, lossy) sample clock and
  applies the sensor errors (noise, bias/drift, scale/offset, spikes, int16 quantisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu_host.core.samples import Samples

FINE_HZ = 500.0
FINE_DT = 1.0 / FINE_HZ
G = 9.80665  # m/s^2 per g

EX = np.array([1.0, 0.0, 0.0])
EY = np.array([0.0, 1.0, 0.0])
EZ = np.array([0.0, 0.0, 1.0])
ROLL_AXIS = -EX  # theta > 0 is a right-handed rotation about -x: knees to the person's left (+y)

# Thigh frame (X hip->knee, Y = Z x X = person's left, Z out of the front of the thigh)
# expressed in the world frame for a person STANDING and facing +x (thigh vertical, psi = 0).
STAND = np.column_stack([-EZ, EY, EX])


def rot_x(ang_rad: np.ndarray | float) -> np.ndarray:
    """Right-handed rotation(s) about +x; shape (..., 3, 3)."""
    a = np.asarray(ang_rad, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack(
        [np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2
    )


def rot_y(ang_rad: np.ndarray | float) -> np.ndarray:
    """Right-handed rotation(s) about +y; shape (..., 3, 3)."""
    a = np.asarray(ang_rad, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack(
        [np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2
    )


def rot_axis(axis: np.ndarray, ang_rad: float) -> np.ndarray:
    """Right-handed rotation about a unit ``axis`` by ``ang_rad`` (Rodrigues)."""
    k = np.asarray(axis, dtype=float)
    k = k / np.linalg.norm(k)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(ang_rad) * kx + (1.0 - np.cos(ang_rad)) * (kx @ kx)


def roll_matrix(theta_rad: np.ndarray | float) -> np.ndarray:
    """A(theta): rotation by theta about the roll axis -x (theta > 0 moves +z toward +y)."""
    return rot_x(-np.asarray(theta_rad, dtype=float))


def flexion_matrix(psi_rad: np.ndarray | float) -> np.ndarray:
    """B(psi): hip flexion, rotation by psi about -y (moves the knee from -z toward +x)."""
    return rot_y(-np.asarray(psi_rad, dtype=float))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation drawn uniformly from SO(3)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _mv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", m, v)


def _mtv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("nji,nj->ni", m, v)


@dataclass
class Kinematics:
    """Segment kinematics on the fine grid (all arrays length N, sampled at FINE_HZ)."""

    theta_deg: np.ndarray  # roll about -x (left positive)
    psi_deg: np.ndarray  # hip flexion: 0 standing, 90 thigh horizontal, 90+beta lying knees-up
    hip_m: np.ndarray  # (N,3) hip position relative to a point on the roll axis, world frame
    slip_deg: np.ndarray  # strap rotation about the thigh X axis (relative to the initial mounting)
    impact_ms2: np.ndarray  # (N,3) extra world-frame accelerations (heel strikes, thuds)

    def __len__(self) -> int:
        return len(self.theta_deg)


@dataclass
class BodySignals:
    f_g: np.ndarray  # (N,3) specific force in the sensor frame, g
    w_dps: np.ndarray  # (N,3) angular rate in the sensor frame, deg/s
    lin_acc_ms2: np.ndarray  # (N,3) world-frame linear acceleration of the sensor point
    rot: np.ndarray  # (N,3,3) sensor -> world
    roll_axis_sensor: np.ndarray  # (N,3) the roll axis (-x) in the sensor frame


def body_signals(kin: Kinematics, mount: np.ndarray, sensor_pos_thigh: np.ndarray) -> BodySignals:
    """Ideal sensor readings for the kinematics.

    Orientation (sensor -> world): ``R = A(theta) @ B(psi) @ STAND @ Rx(slip) @ mount`` where
    ``mount`` maps sensor-frame vectors to the thigh frame.  The sensor point sits at
    ``sensor_pos_thigh`` (thigh frame, metres from the hip); its world position is
    ``p = A(theta) @ (hip + B(psi) @ STAND @ sensor_pos_thigh)``, so the roll part of its
    acceleration is exactly alpha x p + omega x (omega x p) (tangential + centripetal).
    """
    th = np.deg2rad(kin.theta_deg)
    ps = np.deg2rad(kin.psi_deg)
    sl = np.deg2rad(kin.slip_deg)
    th_d = np.gradient(th, FINE_DT)
    ps_d = np.gradient(ps, FINE_DT)
    sl_d = np.gradient(sl, FINE_DT)

    a_m = roll_matrix(th)
    b_m = flexion_matrix(ps)
    rb = a_m @ b_m  # thigh (standing-world coordinates) -> world
    thigh_to_world = rb @ STAND
    rot = thigh_to_world @ rot_x(sl) @ mount

    n = len(th)
    # world angular velocity: theta_dot * a + A (psi_dot * (-y)) + (thigh->world)(slip_dot * X)
    w_world = th_d[:, None] * ROLL_AXIS[None, :]
    w_world = w_world + _mv(a_m, -ps_d[:, None] * np.broadcast_to(EY, (n, 3)))
    w_world = w_world + _mv(thigh_to_world, sl_d[:, None] * np.broadcast_to(EX, (n, 3)))

    # position of the sensor point and its second derivative (includes tangential, centripetal,
    # Coriolis and the hip's own acceleration); numerical on the fine grid of smooth signals
    local = kin.hip_m + _mv(b_m @ STAND, np.broadcast_to(sensor_pos_thigh, (n, 3)))
    p = _mv(a_m, local)
    acc = np.gradient(np.gradient(p, FINE_DT, axis=0), FINE_DT, axis=0) + kin.impact_ms2

    f_world = acc / G + EZ[None, :]  # specific force: a - g_vec, g_vec = (0, 0, -1 g)
    f_s = _mtv(rot, f_world)
    w_s = np.rad2deg(_mtv(rot, w_world))
    axis_s = _mtv(rot, np.broadcast_to(ROLL_AXIS, (n, 3)))
    return BodySignals(f_s, w_s, acc, rot, axis_s)


@dataclass
class SensorSpec:
    """Device clock and error model."""

    rate_hz: float = 100.0
    has_gyro: bool = True
    rate_error: float = 0.0  # true rate = rate_hz * (1 + rate_error)
    jitter_s: float = 0.0002  # std of timestamp jitter
    ts_round_s: float = 1e-6  # timestamps rounded to this
    accel_noise_g: float = 0.01
    gyro_noise_dps: float = 0.3
    gyro_bias_dps: np.ndarray = field(default_factory=lambda: np.zeros(3))
    gyro_drift_dps: float = 0.0  # typical drift of the bias over the recording
    accel_scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    accel_offset_g: np.ndarray = field(default_factory=lambda: np.zeros(3))
    gyro_scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    accel_range_g: float = 8.0
    accel_lsb_g: float | None = None  # coarser converter than int16 at the range (e.g. 1/64 g)
    gyro_range_dps: float = 2000.0
    drop_prob: float = 0.0  # probability that an individual sample is lost
    spikes: int = 0  # single-sample knocks of 1-4 g
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start, n_samples) to drop


@dataclass
class Sampled:
    samples: Samples
    t_true: np.ndarray  # true sample instants (s, recording time base)
    idx_fine: np.ndarray  # fractional fine-grid positions of the kept samples
    gaps: list[tuple[float, float]]  # (last time before, first time after) per packet gap


def _quantise(x: np.ndarray, full_scale: float) -> np.ndarray:
    lsb = full_scale / 32768.0
    counts = np.clip(np.round(x / lsb), -32768, 32767)
    return counts * lsb


def sample_sensor(
    body: BodySignals, spec: SensorSpec, duration_s: float, rng: np.random.Generator
) -> Sampled:
    """Resample onto the device clock, drop samples and apply the sensor errors."""
    true_rate = spec.rate_hz * (1.0 + spec.rate_error)
    n = int(np.floor(duration_s * true_rate)) + 1
    t_true = np.arange(n) / true_rate
    t_true = t_true[t_true <= (len(body.f_g) - 1) * FINE_DT]
    n = len(t_true)

    keep = np.ones(n, dtype=bool)
    if spec.drop_prob > 0:
        keep &= rng.random(n) >= spec.drop_prob
        keep[0] = keep[-1] = True
    gap_idx: list[tuple[int, int]] = []
    for start_s, count in spec.gaps:
        i0 = int(np.searchsorted(t_true, start_s))
        i1 = min(n - 1, i0 + int(count))
        keep[i0:i1] = False
        gap_idx.append((i0, i1))
    kept = np.flatnonzero(keep)
    gap_spans = []
    for i0, _i1 in gap_idx:  # (last sample before, first sample after) actually recorded
        j = int(np.searchsorted(kept, i0))
        gap_spans.append((float(t_true[kept[j - 1]]), float(t_true[kept[j]])))
    t_true = t_true[keep]
    n = len(t_true)

    pos = t_true * FINE_HZ
    grid = np.arange(len(body.f_g), dtype=float)
    f = np.column_stack([np.interp(pos, grid, body.f_g[:, k]) for k in range(3)])
    w = np.column_stack([np.interp(pos, grid, body.w_dps[:, k]) for k in range(3)])

    # accelerometer: scale, offset, noise, knocks, quantisation
    acc = f * spec.accel_scale[None, :] + spec.accel_offset_g[None, :]
    acc = acc + rng.normal(0.0, spec.accel_noise_g, size=(n, 3))
    if spec.spikes:
        where = rng.choice(np.arange(5, n - 5), size=spec.spikes, replace=False)
        axes = rng.integers(0, 3, size=spec.spikes)
        mag = rng.uniform(1.0, 4.0, size=spec.spikes) * rng.choice([-1.0, 1.0], size=spec.spikes)
        acc[where, axes] += mag
    acc = _quantise(acc, spec.accel_range_g)
    if spec.accel_lsb_g:
        acc = np.round(acc / spec.accel_lsb_g) * spec.accel_lsb_g

    gyro = None
    if spec.has_gyro:
        # bias: constant + slow random walk (interpolated from 2 s knots), scaled to gyro_drift_dps
        knots = max(2, int(np.ceil(t_true[-1] / 2.0)) + 2)
        walk = np.cumsum(rng.normal(size=(knots, 3)), axis=0)
        walk -= walk[0]
        walk *= spec.gyro_drift_dps / max(1.0, np.sqrt(knots))
        kt = np.linspace(0.0, t_true[-1], knots)
        drift = np.column_stack([np.interp(t_true, kt, walk[:, k]) for k in range(3)])
        gyro = w * spec.gyro_scale[None, :] + spec.gyro_bias_dps[None, :] + drift
        gyro = gyro + rng.normal(0.0, spec.gyro_noise_dps, size=(n, 3))
        gyro = _quantise(gyro, spec.gyro_range_dps)

    jitter = np.clip(rng.normal(0.0, spec.jitter_s, size=n), -0.3 / true_rate, 0.3 / true_rate)
    t_s = t_true + jitter
    t_s = np.round(t_s / spec.ts_round_s) * spec.ts_round_s
    t_s = np.maximum.accumulate(np.maximum(t_s, 0.0))
    return Sampled(Samples(t_s, acc, gyro), t_true, pos, gap_spans)
