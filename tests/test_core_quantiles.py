"""core.quantiles equals numpy's median and percentile bit for bit (numpy is the
specification), on random, tied, tiny and extreme inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imu_host.core.quantiles import median, percentile


def _cases():  # noqa: ANN202
    rng = np.random.default_rng(7)
    out = [np.array([1.0]), np.array([2.0, 1.0]), np.array([3.0, 1.0, 2.0])]
    for n in (4, 5, 17, 100, 1001, 20000):
        out.append(rng.normal(0, 50, n))
        out.append(rng.integers(0, 5, n).astype(float))  # ties
        out.append(np.exp(rng.normal(0, 8, n)))  # wide range
    return out


@pytest.mark.parametrize("x", _cases(), ids=lambda x: f"n{len(x)}")
def test_median_is_numpys(x):
    assert median(x) == float(np.median(x))


@pytest.mark.parametrize("q", [0, 1, 5, 25, 50, 90, 95, 99, 99.9, 100])
@pytest.mark.parametrize("x", _cases(), ids=lambda x: f"n{len(x)}")
def test_percentile_is_numpys(x, q):
    assert percentile(x, q) == float(np.percentile(x, q))


def test_nan_and_empty():
    assert math.isnan(median(np.array([])))
    assert math.isnan(median(np.array([1.0, np.nan, 2.0])))
    assert math.isnan(percentile(np.array([1.0, np.nan]), 50))


def test_no_numpy_ma_import():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from imu_host.core.quantiles import median, percentile;"
        "x = np.arange(10.0); median(x); percentile(x, 99); print('numpy.ma' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
