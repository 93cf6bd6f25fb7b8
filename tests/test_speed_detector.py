"""The rep detector's fast path (quiet stretches at centre stepped at once, per-block
numbers computed with numpy once per feed) gives exactly what its plain block-by-block
step loop gives (``RepDetector(reference=True)``): every event and rep field by field and
the angle trace, on the golden recordings and on simulator scenarios, for any chunking;
and the simulator's true counts. Also the exact-arithmetic helpers it rests on."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from feeding import feed_in_cuts

from imu_host.core.pipeline import Pipeline, Settings
from imu_host.core.reps.detector import DetectorSettings
from imu_host.core.reps.rules import exact_mean, exact_means, median
from imu_host.io.recording import read_recording
from imu_host.sim.generate import simulate

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
GOLDEN = sorted(RECORDINGS.glob("*.csv"))


def _run(samples, rate, has_gyro, cuts, reference, settings=None):  # noqa: ANN001, ANN202
    p = Pipeline(rate, has_gyro, settings=settings, keep_trace=True)
    p._det.reference = reference  # the detector's plain step loop (the estimator as usual)
    events = feed_in_cuts(p, samples, cuts)
    return events, p.angle_trace(), p.reps, p.centre_deg


def _random_cuts(n: int, seed: int, mean_chunk: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.sort(
        rng.choice(np.arange(1, n), size=max(1, n // mean_chunk), replace=False)
    ).tolist()


def _assert_same(samples, rate, has_gyro, seed, settings=None):  # noqa: ANN001, ANN202
    ref_events, (t_ref, a_ref), ref_reps, ref_centre = _run(
        samples, rate, has_gyro, [], True, settings
    )
    n = len(samples)
    for cuts in ([], _random_cuts(n, seed, 2000), _random_cuts(n, seed + 1, 37)):
        events, (t, a), reps, centre = _run(samples, rate, has_gyro, cuts, False, settings)
        assert events == ref_events  # dataclasses: every field, in order
        assert reps == ref_reps
        assert centre == ref_centre
        np.testing.assert_array_equal(t, t_ref)
        np.testing.assert_array_equal(a, a_ref)
    return ref_reps


@pytest.mark.slow
@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_fast_detector_equals_reference_on_golden_recordings(path: Path) -> None:
    rec = read_recording(path)
    truth = json.loads(Path(f"{path}.truth.json").read_text())
    reps = _assert_same(rec.samples, rec.sample_rate_hz, rec.samples.has_gyro, 11)
    if truth["reps"]:
        assert reps  # the comparison covered reps, not just silence


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    ["gaps_in_reps", "packet_gaps", "walk_sit_lie", "walk_stand_sit_lie", "accel_only",
     "accel_only_lever", "rate_50hz", "fast_drops_most", "hard_drops_8g", "bounces",
     "start_partway_counted", "start_partway_excluded", "end_partway_counted",
     "mid_walk_start", "strap_slip", "continuous_swing", "long_holds", "fidgets",
     "mex_like", "still_before_after"],
)  # fmt: skip
def test_fast_detector_equals_reference_on_scenarios(scenario: str) -> None:
    for seed in (5, 6):
        sim = simulate(scenario, seed=seed)
        s = sim.samples
        _assert_same(s, sim.sample_rate_hz, s.has_gyro, seed)


def test_fast_detector_equals_reference_with_other_settings() -> None:
    """Short rests (fewer than 8 values per rest mean) and a longer block."""
    sim = simulate("controlled_medium", seed=7)
    s = sim.samples
    for det in (DetectorSettings(rest_s=0.4), DetectorSettings(block_s=0.12, rest_s=1.5)):
        reps = _assert_same(s, sim.sample_rate_hz, True, 3, Settings(detector=det))
        assert len(reps) >= len(sim.truth["reps"]) // 2


@pytest.mark.parametrize("scenario", ["controlled_medium", "gaps_in_reps", "accel_only"])
def test_fast_detector_counts_the_simulated_reps(scenario: str) -> None:
    sim = simulate(scenario, seed=2)
    s = sim.samples
    _, _, reps, _ = _run(s, sim.sample_rate_hz, s.has_gyro, [], False)
    sides = [r.side for r in reps]
    assert sides.count("left") == sim.truth["reps_left"]
    assert sides.count("right") == sim.truth["reps_right"]


def test_exact_mean_is_numpys_mean_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for n in [*range(1, 41), 64, 127, 128, 129, 200]:
        rows = rng.standard_normal((300, n)) * 10.0 ** rng.integers(-6, 7, (300, n))
        rows[:5] += 1e8  # large offsets: the order of the sums matters
        want = [float(np.mean(deque(r.tolist(), maxlen=n))) for r in rows]
        got = [exact_mean(deque(r.tolist(), maxlen=n)) for r in rows]
        assert got == want, n
        means = exact_means([rows[:, i] for i in range(n)])
        if n > 128:
            assert means is None
        else:
            assert means is not None
            assert means.tolist() == want, n
    # and the order does matter (a plain left-to-right sum differs somewhere)
    r = rng.standard_normal((2000, 10)) * 10.0 ** rng.integers(-6, 7, (2000, 10))
    assert any(sum(x.tolist()) / 10 != float(np.mean(x)) for x in r)


@pytest.mark.parametrize("k", [2, 4, 8, 12, 16])
def test_block_sums_along_rows_equal_sums_of_each_block(k: int) -> None:
    """The fast path sums all blocks at once (``sum(axis=1)``); the reference sums each."""
    rng = np.random.default_rng(k)
    a = rng.standard_normal((5000, k)) * 10.0 ** rng.integers(-6, 7, (5000, k))
    assert a.sum(axis=1).tolist() == [float(r.sum()) for r in a]


def test_median_is_numpys_median_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    for n in range(1, 12):
        for _ in range(300):
            v = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n) + 40.0).tolist()
            if n > 2:
                v[1] = v[0]  # ties
            assert median(deque(v, maxlen=n)) == float(np.median(v))
    assert np.isnan(median([1.0, float("nan"), 2.0]))
