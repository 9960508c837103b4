"""Smoothing: matches scipy's gaussian_filter1d, and one-sample smoothing is bit-identical to the array path."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter1d

from workbench.motion.smoothing import gaussian_kernel, reflect_pad, smooth, smooth_one


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.5, max_value=4.0))
@settings(max_examples=40, deadline=None)
def test_matches_scipy_reflect_mode(n: int, sigma: float) -> None:
    x = np.random.default_rng(n).normal(size=(n, 3))
    np.testing.assert_allclose(smooth(x, sigma), gaussian_filter1d(x, sigma, axis=0, mode="reflect"), atol=1e-12)


def test_one_sample_is_bit_identical_to_the_array_path() -> None:
    x = np.random.default_rng(3).normal(size=200)
    kernel = gaussian_kernel(2.0)
    r = (len(kernel) - 1) // 2
    padded = reflect_pad(x, r)
    whole = smooth(x, 2.0)
    one_by_one = np.array([smooth_one(list(padded[i : i + 2 * r + 1]), kernel) for i in range(200)])
    assert np.array_equal(whole, one_by_one)  # exact, not approximately equal
