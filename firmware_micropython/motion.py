# Motion scripts for the simulated IMU: lying knee rolls as data, plus their truth.
#
# Angle convention: theta_deg = knee roll angle, > 0 = knees to the person's LEFT,
# < 0 = to the RIGHT, 0 = knees up (centre). A script is a list of segments:
#   ("still", duration_s)                 keep the current angle
#   ("move", duration_s, target_deg)      smooth (raised-cosine velocity) move to target
# Physics (sensor +X along the thigh toward the knee, +Y to the person's left, +Z up
# out of the front of the thigh when lying at centre; pitch_deg = how far the thigh
# points up from the horizontal head-to-foot roll axis, default 0):
#   accel_g  = (sin(p) cos(th), -sin(th), cos(p) cos(th))      gravity "up", 1 g at rest
#   gyro_dps = (-cos(p) thdot, 0, sin(p) thdot)                roll about the head-to-foot axis
# Works under MicroPython and CPython (the host tests import it for the truth).
import math

LEFT = "left"
RIGHT = "right"

DEFAULT_SCRIPT = [
    ("still", 2.0),
    # controlled reps: slow descent, 1.5 s hold, 2 s return, 1 s centre rest
    ("move", 2.2, 35.0),
    ("still", 1.5),
    ("move", 2.0, 0.0),
    ("still", 1.0),
    ("move", 2.4, -33.0),
    ("still", 1.5),
    ("move", 2.0, 0.0),
    ("still", 1.0),
    ("move", 2.6, 36.0),
    ("still", 1.5),
    ("move", 2.0, 0.0),
    ("still", 1.0),
    ("move", 2.2, -34.0),
    ("still", 1.5),
    ("move", 2.0, 0.0),
    ("still", 1.0),
    # fast momentum-driven drop to the left: 45 deg in 0.4 s, peak ~177 deg/s
    ("move", 0.4, 45.0),
    ("still", 0.8),
    ("move", 2.0, 0.0),
    ("still", 2.0),
]

FAST_DPS = 150.0  # a descent faster than this (peak) counts as a fast drop in the truth


def duration(script):
    return sum(seg[1] for seg in script)


def _segments(script):
    """(t0, t1, theta0, theta1) per segment."""
    out = []
    t = 0.0
    th = 0.0
    for seg in script:
        d = float(seg[1])
        target = float(seg[2]) if seg[0] == "move" else th
        out.append((t, t + d, th, target))
        t += d
        th = target
    return out


def angle_rate(script_segments, t):
    """theta_deg, theta_dot_dps at time t (seconds); after the end holds the last angle."""
    for t0, t1, a, b in script_segments:
        if t < t1:
            d = t1 - t0
            if a == b or d <= 0:
                return a, 0.0
            u = (t - t0) / d
            th = a + (b - a) * 0.5 * (1.0 - math.cos(math.pi * u))
            rate = (b - a) * 0.5 * math.pi / d * math.sin(math.pi * u)
            return th, rate
    return (script_segments[-1][3] if script_segments else 0.0), 0.0


def physics(theta_deg, rate_dps, pitch_deg=0.0):
    """Ideal (accel_g xyz, gyro_dps xyz) in the sensor frame."""
    th = math.radians(theta_deg)
    p = math.radians(pitch_deg)
    ct = math.cos(th)
    accel = (math.sin(p) * ct, -math.sin(th), math.cos(p) * ct)
    gyro = (-math.cos(p) * rate_dps, 0.0, math.sin(p) * rate_dps)
    return accel, gyro


def truth(script):
    """What a perfect rep counter should report for `script`.

    Returns {"reps": [{"side", "start_s", "peak_s", "end_s", "rom_deg",
    "peak_descent_dps", "fast"}...], "reps_per_side": {"left": n, "right": n},
    "fast_reps": [1-based indices], "duration_s": total}.
    """
    reps = []
    cur = None
    for t0, t1, a, b in _segments(script):
        if a == b:
            continue
        speed = abs(b - a) * 0.5 * math.pi / (t1 - t0)
        if a == 0.0 and b != 0.0:
            cur = {
                "side": LEFT if b > 0 else RIGHT,
                "start_s": t0,
                "peak_s": t1,
                "rom_deg": abs(b),
                "peak_descent_dps": speed,
                "fast": speed > FAST_DPS,
            }
        elif cur is not None and b == 0.0:
            cur["end_s"] = t1
            reps.append(cur)
            cur = None
    per = {LEFT: 0, RIGHT: 0}
    for r in reps:
        per[r["side"]] += 1
    return {
        "reps": reps,
        "reps_per_side": per,
        "fast_reps": [i + 1 for i, r in enumerate(reps) if r["fast"]],
        "duration_s": duration(script),
    }
