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
    series = Series("loss", np.linspace(2.0, 0.5, 50))
    text = repr(series)
    assert "'loss'" in text and "50 steps" in text and series.change().describe() in text
    assert "█" in text and "▁" in text


def test_values_are_read_only():
    s = Series("x", [1.0, 2.0])
    with pytest.raises(ValueError):
        s.values[0] = 5.0


def test_empty_series_summaries_are_nan_not_errors():
    s = Series("x", [])
    assert np.isnan(s.first) and np.isnan(s.median()) and s.first_below(1.0) is None


def test_change_names_its_definition_and_the_direction():
    falling = Series("loss", [2.31] * 20 + [2.30] * 20).change(window=20)
    assert falling.describe() == ("median of the first 20 steps 2.31 -> median of the last 20 "
                                  "steps 2.30, a 0.43% decrease")
    rising = Series("loss", [1.0, 1.0, 1.5, 1.5]).change(window=2)
    assert rising.describe().endswith("1.00 -> median of the last 2 steps 1.50, a 50% increase")
    assert rising.relative_decrease == pytest.approx(-0.5)
    assert Series("x", [3.0, 3.0]).change(window=1).describe() == (
        "first step 3.00 -> last step 3.00, no change")


def test_relative_decrease_is_defined_by_change_and_keeps_its_sign_for_negative_values():
    s = Series("loss", np.linspace(3.0, 1.0, 100))
    change = s.change()
    assert change.window == 10 and s.relative_decrease() == change.relative_decrease
    assert change.relative_decrease == pytest.approx((change.start - change.end) / change.start)
    # a negative series that falls further has decreased
    assert Series("elbo", [-1.0, -2.0]).relative_decrease(window=1) == pytest.approx(1.0)
    assert Series("elbo", [-1.0, -2.0]).change(window=1).amount() == "a 100% decrease"
    assert Series("x", [0.0, 1.0]).relative_decrease(window=1) == -np.inf


def test_change_shows_enough_digits_to_tell_close_values_apart():
    assert Series("loss", [2.3041, 2.3039]).change(window=1).endpoints() == ("2.3041", "2.3039")
    assert Series("loss", [2.3, 0.0123]).change(window=1).endpoints() == ("2.30", "0.0123")


def test_change_round_trips_through_json_and_handles_empty_and_nan():
    change = Series("loss", np.linspace(2.0, 1.0, 40)).change()
    from trainspec.series import Change

    assert Change.from_json(change.to_json()) == change
    assert Series("x", []).change().describe() == "no values recorded"
    assert "undefined" in Series("x", [1.0, np.nan]).change(window=1).describe()
