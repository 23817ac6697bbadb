"""The forecast's maths on known series."""

from __future__ import annotations

import math
import statistics

import pytest

from stammtisch.analytics import forecast


def test_a_perfect_line_is_fitted_exactly_and_its_date_is_certain() -> None:
    ys: list[float | None] = [1 + 2 * x for x in range(10)]  # 1, 3, ..., 19
    result = forecast.forecast(ys, target=101)
    assert result is not None
    assert result.fit.slope == pytest.approx(2)
    assert result.fit.intercept == pytest.approx(1)
    assert result.fit.s == pytest.approx(0)
    # 1 + 2x = 101 at x = 50, which is 41 days after the last point (x = 9).
    assert (result.expected, result.earliest, result.latest) == (41, 41, 41)
    assert not result.reached


def test_the_fit_matches_the_standard_library_and_the_band_widens_with_noise() -> None:
    ys = [0.0, 2.0, 1.0, 3.0, 2.0, 4.0, 3.0, 5.0, 4.0, 6.0]
    xs = [float(x) for x in range(10)]
    line = forecast.fit(xs, ys)
    assert line is not None
    reference = statistics.linear_regression(xs, ys)
    assert line.slope == pytest.approx(reference.slope)
    assert line.intercept == pytest.approx(reference.intercept)
    residuals = [y - reference.intercept - reference.slope * x for x, y in zip(xs, ys, strict=True)]
    s = math.sqrt(sum(r * r for r in residuals) / 8)
    assert line.s == pytest.approx(s)
    # At the mean of x the band is t(0.95, 8) · s · sqrt(1 + 1/n).
    assert line.half_width(4.5) == pytest.approx(1.860 * s * math.sqrt(1.1))
    assert line.half_width(20) > line.half_width(10) > line.half_width(4.5)

    result = forecast.forecast(list(ys), target=20)
    assert result is not None and result.expected is not None
    assert result.earliest is not None and result.latest is not None
    assert result.earliest < result.expected < result.latest
    # The expected day is where the line itself reaches 20.
    x = 9 + result.expected
    assert line.predict(x) >= 20 > line.predict(x - 1)


def test_a_falling_target_is_forecast_downwards() -> None:
    ys: list[float | None] = [60 - x for x in range(10)]  # a response time going down
    result = forecast.forecast(ys, target=30)
    assert result is not None
    assert result.expected == 21  # 60 - x = 30 at x = 30


def test_no_forecast_without_enough_points_or_movement() -> None:
    assert forecast.forecast([1.0, None, 2.0, None, 3.0], target=10) is None
    flat = forecast.forecast([5.0] * 10, target=10)
    assert flat is not None and flat.expected is None and flat.latest is None


def test_a_target_already_reached_is_reported() -> None:
    result = forecast.forecast([float(x) for x in range(10)], target=5)
    assert result is not None and result.reached and result.expected == 0


def test_the_t_quantiles_approach_the_normal_one() -> None:
    assert forecast.t_quantile(1) == 6.314
    assert forecast.t_quantile(30) == 1.697
    assert 1.645 < forecast.t_quantile(200) < forecast.t_quantile(31) < 1.697 + 0.01


def test_a_series_that_overshot_a_falling_target_has_reached_it() -> None:
    result = forecast.forecast([float(40 - x) for x in range(10)], target=35, rising=False)
    assert result is not None and result.reached
