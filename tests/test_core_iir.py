"""The numpy IIR filters against scipy.signal (the reference, used here only) and the
start-up promise: the core imports no scipy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import butter, lfilter, lfilter_zi

from imu_host.core.iir import IIRFilter, butter2_lowpass

CUTOFFS = [0.005, 0.03, 0.08, 0.16, 0.32, 0.6, 0.9, 0.99]


@pytest.mark.parametrize("wn", CUTOFFS)
def test_butterworth_coefficients_equal_scipy(wn):
    b, a = butter(2, wn)
    b2, a2 = butter2_lowpass(wn)
    np.testing.assert_allclose(b2, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a2, a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("wn", CUTOFFS)
def test_second_order_output_equals_lfilter_from_steady_state(wn):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 3)) * 200.0 + 30.0
    b, a = butter(2, wn)
    want, _ = lfilter(b, a, x, axis=0, zi=lfilter_zi(b, a)[:, None] * x[0][None, :])
    got = IIRFilter(*butter2_lowpass(wn))(x)
    assert np.abs(got - want).max() <= 1e-12 * np.abs(x).max()


def test_first_order_from_rest_and_from_a_given_output():
    rng = np.random.default_rng(4)
    x = rng.normal(size=3000)
    lam = float(np.exp(-0.01))
    want, _ = lfilter([1 - lam], [1, -lam], x, zi=np.zeros(1))
    got = IIRFilter([1 - lam], [1, -lam], init="zero")(x)
    assert np.abs(got - want).max() <= 1e-12
    al = 0.99
    want, _ = lfilter([1.0], [1, -al], x, zi=np.array([al * 3.0]))
    f = IIRFilter([1.0], [1, -al])
    f.reset(3.0)
    assert np.abs(f(x) - want).max() <= 1e-12


@pytest.mark.parametrize("wn", [0.03, 0.3])
def test_any_split_of_the_stream_is_bit_identical(wn):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2500, 3))
    whole = IIRFilter(*butter2_lowpass(wn))(x)
    for hi in (2, 9, 700):
        f = IIRFilter(*butter2_lowpass(wn))
        parts, i = [], 0
        while i < len(x):
            k = int(rng.integers(1, hi))
            parts.append(f(x[i : i + k]))
            i += k
        np.testing.assert_array_equal(np.vstack(parts), whole)


def test_restart_starts_again_from_the_next_sample():
    b, a = butter2_lowpass(0.05)
    f = IIRFilter(b, a)
    f(np.zeros(100))
    f.restart()
    np.testing.assert_allclose(f(np.full(50, 2.0)), 2.0, rtol=1e-12)  # steady at once


def test_unsupported_filters_are_refused():
    with pytest.raises(ValueError):
        IIRFilter([1, 2, 3, 4], [1, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError):
        butter2_lowpass(1.0)
    with pytest.raises(ValueError):
        IIRFilter([1.0], [1.0, -1.5])  # unstable


def test_core_imports_no_scipy():
    code = (
        "import sys, imu_host.core.pipeline, imu_host.analysis;"
        "print('scipy' in sys.modules); sys.exit(1 if 'scipy' in sys.modules else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_first_order_any_split_is_bit_identical():
    rng = np.random.default_rng(6)
    x = rng.normal(size=3000)
    lam = float(np.exp(-0.01))
    whole = IIRFilter([1 - lam], [1, -lam], init="zero")(x)
    for hi in (2, 9, 1200):
        f = IIRFilter([1 - lam], [1, -lam], init="zero")
        parts, i = [], 0
        while i < len(x):
            k = int(rng.integers(1, hi))
            parts.append(f(x[i : i + k]))
            i += k
        np.testing.assert_array_equal(np.concatenate(parts), whole)
