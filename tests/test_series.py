"""Series: numpy-backed values with trend helpers."""

from __future__ import annotations

import numpy as np
import pytest

from trainspec import Series


def test_numpy_asarray_gives_one_value_per_step():
    s = Series("loss", [3.0, 2.0, 1.0])
    assert np.asarray(s).tolist() == [3.0, 2.0, 1.0]
    assert s.steps.tolist() == [0, 1, 2]
    assert len(s) == 3 and s[1] == 2.0 and s.first == 3.0 and s.last == 1.0


def test_relative_decrease_uses_windowed_medians():
    s = Series("loss", [4.0, 100.0, 4.0, 1.0, 1.0, 50.0])  # spikes do not move medians
    assert s.relative_decrease(window=3) == pytest.approx(0.75)
    assert s.ratio(window=3) == pytest.approx(0.25)
    assert Series("loss", [1.0, 2.0]).relative_decrease(window=1) == pytest.approx(-1.0)


def test_first_below_and_above_return_steps():
    s = Series("acc", [0.1, 0.3, 0.6, 0.9], steps=[10, 20, 30, 40])
    assert s.first_above(0.5) == 30
    assert s.first_below(0.2) == 10
    assert s.first_above(0.95) is None


def test_slope_and_monotonicity():
    s = Series("loss", [5.0, 4.0, 3.0, 2.0])
    assert s.slope() == pytest.approx(-1.0)
    assert s.is_monotonic()
    assert not Series("loss", [5.0, 4.0, 4.5]).is_monotonic()
    assert Series("loss", [5.0, 4.0, 4.05]).is_monotonic(tolerance=0.1)
    assert Series("acc", [0.1, 0.2]).is_monotonic(decreasing=False)


def test_smoothed_is_a_trailing_mean():
    assert np.asarray(Series("x", [0.0, 2.0, 4.0]).smoothed(2)).tolist() == [0.0, 1.0, 3.0]


def test_repr_shows_values_and_a_sparkline():
    text = repr(Series("loss", np.linspace(2.0, 0.5, 50)))
    assert "'loss'" in text and "50 steps" in text and "2 -> 0.5" in text
    assert "█" in text and "▁" in text


def test_values_are_read_only():
    s = Series("x", [1.0, 2.0])
    with pytest.raises(ValueError):
        s.values[0] = 5.0


def test_empty_series_summaries_are_nan_not_errors():
    s = Series("x", [])
    assert np.isnan(s.first) and np.isnan(s.median()) and s.first_below(1.0) is None
