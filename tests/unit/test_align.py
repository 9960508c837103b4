"""Eq. 5 resampling and the cycle quality score."""

import numpy as np
import pytest

from workbench.motion.align import cycle_quality, resample_cycle


def test_resampling_a_ramp_is_exact() -> None:
    x = np.arange(31, dtype=float)[:, None] * np.array([[1.0, -2.0]])
    out = resample_cycle(x, 11)
    np.testing.assert_allclose(out[:, 0], np.linspace(0, 30, 11))
    np.testing.assert_allclose(out[:, 1], -2 * np.linspace(0, 30, 11))


def test_self_alignment_scores_one() -> None:
    u = np.linspace(0, 1, 100)
    ref = np.vstack([np.sin(np.pi * u), 0.5 * np.sin(np.pi * u) ** 2])
    q = cycle_quality(ref, ref)
    assert q is not None and q.score == pytest.approx(1.0)


def test_half_amplitude_costs_only_the_amplitude_term() -> None:
    u = np.linspace(0, 1, 100)
    ref = np.vstack([np.sin(np.pi * u)])
    q = cycle_quality(0.5 * ref, ref)
    assert q is not None
    assert q.amplitude == pytest.approx(0.5)
    assert q.pearson == pytest.approx(1.0) and q.cosine == pytest.approx(1.0) and q.velocity == pytest.approx(1.0)
    assert q.score == pytest.approx(0.4 + 0.3 + 0.2 + 0.1 * 0.5)


def test_reversed_motion_scores_low() -> None:
    u = np.linspace(0, 1, 100)
    ref = np.vstack([np.sin(2 * np.pi * u)])
    q = cycle_quality(-ref, ref)
    assert q is not None and q.score == pytest.approx(0.1)  # only the range of motion agrees


def test_no_moving_reference_dof_gives_no_score() -> None:
    assert cycle_quality(np.ones((2, 10)), np.zeros((2, 10))) is None
