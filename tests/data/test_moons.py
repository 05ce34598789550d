"""two_moons: points on the two half circles, balanced, seeded, and bad arguments named."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import two_moons


def test_without_noise_every_point_is_on_its_half_circle() -> None:
    x, labels = two_moons(101, noise=0.0, seed=3)
    upper, lower = x[labels == 0], x[labels == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-15)
    assert (upper[:, 1] >= 0).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-15)
    assert (lower[:, 1] <= 0.5).all()


def test_classes_are_balanced_and_shuffled() -> None:
    x, labels = two_moons(101, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float64
    assert labels.shape == (101,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [51, 50]
    assert 0 < np.flatnonzero(labels == 1)[0] < 50, "class 1 should not come as one block"


def test_noise_has_the_standard_deviation_asked_for() -> None:
    """The distance of a point from its circle is the noise along the radius: standard
    deviation ``noise`` (here within 3% on 20,000 points, a 4-sigma margin)."""
    noise = 0.1
    x, labels = two_moons(20000, noise=noise, seed=1)
    centre = np.where(labels[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    radial = np.hypot(*(x - centre).T) - 1.0
    assert abs(radial.std() / noise - 1) < 0.03


def test_same_seed_same_points_other_seed_other_points() -> None:
    a, la = two_moons(50, seed=7)
    b, lb = two_moons(50, seed=7)
    c, _ = two_moons(50, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"n": 0}, r"^two_moons: n must be an integer >= 1, got 0$"),
    ({"n": 2.5}, r"n must be an integer >= 1, got 2\.5$"),
    ({"n": True}, r"n must be an integer >= 1, got True$"),
    ({"n": 10, "noise": -0.1}, r"^two_moons: noise must be a finite number >= 0, got -0\.1$"),
    ({"n": 10, "noise": float("nan")}, r"noise must be a finite number >= 0, got nan$"),
], ids=["n=0", "n=2.5", "n=True", "noise=-0.1", "noise=nan"])
def test_bad_arguments_are_named(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        two_moons(**kwargs)
