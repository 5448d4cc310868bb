"""Property tests for the temporal filters: bounded by their inputs, time-driven, resettable."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.filters.low_pass import LowPassFilter
from edge.filters.one_euro import OneEuroFilter, OneEuroParams

values = st.lists(st.floats(-10.0, 10.0, allow_nan=False), min_size=2, max_size=60)
steps = st.lists(st.floats(1e-3, 0.5), min_size=60, max_size=60)
params = st.builds(
    OneEuroParams,
    min_cutoff=st.floats(0.01, 10.0),
    beta=st.floats(0.0, 500.0),
    derivative_cutoff=st.floats(0.1, 10.0),
)


@settings(max_examples=200, deadline=None)
@given(values, steps, params)
def test_one_euro_output_stays_within_hull_of_inputs(
    xs: list[float], dts: list[float], p: OneEuroParams
) -> None:
    f = OneEuroFilter(p)
    t = 0.0
    for i, x in enumerate(xs):
        t += dts[i]
        y = float(f.apply(np.array([x]), t)[0])
        seen = xs[: i + 1]
        assert min(seen) - 1e-9 <= y <= max(seen) + 1e-9


@settings(max_examples=100, deadline=None)
@given(values, params)
def test_one_euro_non_increasing_timestamps_pass_through(xs: list[float], p: OneEuroParams) -> None:
    f = OneEuroFilter(p)
    f.apply(np.array([xs[0]]), 1.0)
    state_before = f.apply(np.array([xs[0] + 1.0]), 2.0)
    for x in xs[1:]:
        out = f.apply(np.array([x]), 2.0 - 0.5 * (x > 0))  # equal or earlier time
        assert out[0] == x
    # The ignored samples did not move the state: the next sample continues from before.
    g = OneEuroFilter(p)
    g.apply(np.array([xs[0]]), 1.0)
    g.apply(np.array([xs[0] + 1.0]), 2.0)
    assert np.array_equal(f.apply(np.array([3.0]), 3.0), g.apply(np.array([3.0]), 3.0))
    assert state_before.shape == (1,)


def test_one_euro_smooths_noise_at_rest() -> None:
    rng = np.random.default_rng(0)
    noisy = 0.5 + rng.normal(0, 0.01, size=(300, 2))
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0, derivative_cutoff=1.0))
    out = np.array([f.apply(v, i / 30) for i, v in enumerate(noisy)])
    assert out[30:].std() < 0.5 * noisy[30:].std()


def test_one_euro_follows_fast_motion_with_beta() -> None:
    xs = np.linspace(0, 1, 30)
    slow = OneEuroFilter(OneEuroParams(min_cutoff=0.5, beta=0.0, derivative_cutoff=1.0))
    fast = OneEuroFilter(OneEuroParams(min_cutoff=0.5, beta=50.0, derivative_cutoff=1.0))
    lag_slow = [abs(slow.apply(np.array([x]), i / 30)[0] - x) for i, x in enumerate(xs)]
    lag_fast = [abs(fast.apply(np.array([x]), i / 30)[0] - x) for i, x in enumerate(xs)]
    assert max(lag_fast) < 0.5 * max(lag_slow)


def test_one_euro_reset_forgets_history() -> None:
    f = OneEuroFilter(OneEuroParams(min_cutoff=2.0, beta=20.0, derivative_cutoff=2.5))
    f.apply(np.array([0.0, 0.0]), 0.0)
    f.apply(np.array([1.0, 1.0]), 0.1)
    f.reset()
    assert np.array_equal(
        f.apply(np.array([5.0, -5.0]), 0.05), [5.0, -5.0]
    )  # passes through, even at t < last


def test_one_euro_frequency_from_timestamps() -> None:
    """Same signal at 5 FPS and 30 FPS sampled at the same instants gives the same smoothing per
    second of time, not per frame: the 30 FPS run settles no slower in seconds."""
    p = OneEuroParams(min_cutoff=1.0, beta=0.0, derivative_cutoff=1.0)
    a, b = OneEuroFilter(p), OneEuroFilter(p)
    a.apply(np.array([0.0]), 0.0)
    b.apply(np.array([0.0]), 0.0)
    ya = [a.apply(np.array([1.0]), t / 5)[0] for t in range(1, 6)]
    yb = [b.apply(np.array([1.0]), t / 30)[0] for t in range(1, 31)]
    assert abs(ya[-1] - yb[-1]) < 0.05  # both after 1 s


@settings(max_examples=100, deadline=None)
@given(values, st.floats(0.01, 1.0))
def test_low_pass_within_hull_and_reset(xs: list[float], alpha: float) -> None:
    f = LowPassFilter(alpha)
    for i, x in enumerate(xs):
        y = float(f.apply(np.array([x]))[0])
        assert min(xs[: i + 1]) - 1e-9 <= y <= max(xs[: i + 1]) + 1e-9
    f.reset()
    assert f.apply(np.array([42.0]))[0] == 42.0
