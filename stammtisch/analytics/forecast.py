"""When will a goal be reached at the current rate? (docs/strategy.md "Forecast")

An ordinary least-squares line through the last N daily values of the goal's series (x = days,
y = value), extended into the future with a 90 % prediction interval:

    ŷ(x) = a + b·x
    s    = sqrt(Σ (yᵢ - ŷ(xᵢ))² / (n - 2))
    half(x) = t(0.95, n - 2) · s · sqrt(1 + 1/n + (x - x̄)² / Σ (xᵢ - x̄)²)

The expected date is the first day on which ŷ reaches the target; the band runs from the first
day the optimistic bound (ŷ + half, or ŷ - half for a target below the current value) reaches it
to the first day the pessimistic bound does (None: not within the horizon).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_POINTS = 7  # fewer daily values than this: no forecast
HORIZON_DAYS = 3 * 365  # a target further away than this counts as "not at the current rate"

# Two-sided 90 % quantiles of Student's t distribution, t(0.95, df), for df = 1 ... 30.
T_95 = (
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
    1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
    1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
)  # fmt: skip


def t_quantile(df: int) -> float:
    if df < 1:
        raise ValueError("at least one degree of freedom")
    if df <= len(T_95):
        return T_95[df - 1]
    return 1.645 + 1.6 / df  # close to the table's tail and to the normal quantile 1.645


@dataclass(frozen=True)
class Fit:
    intercept: float
    slope: float  # per day
    n: int
    x_mean: float
    sxx: float
    s: float  # residual standard error

    def predict(self, x: float) -> float:
        return self.intercept + self.slope * x

    def half_width(self, x: float) -> float:
        """Half the width of the 90 % prediction interval at `x`."""
        spread = 1 + 1 / self.n + ((x - self.x_mean) ** 2 / self.sxx if self.sxx else 0.0)
        return t_quantile(self.n - 2) * self.s * math.sqrt(spread)


def fit(xs: list[float], ys: list[float]) -> Fit | None:
    """The least-squares line through the points; None with fewer than 3 points or one x."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    x_mean = sum(xs) / n
    y_mean = sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    sse = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return Fit(intercept, slope, n, x_mean, sxx, math.sqrt(sse / (n - 2)))


@dataclass(frozen=True)
class Forecast:
    fit: Fit
    expected: int | None  # days after the last point when the line reaches the target
    earliest: int | None  # ... when the optimistic bound does
    latest: int | None  # ... when the pessimistic bound does (None: not within the horizon)
    reached: bool  # the last value has reached the target already


def forecast(
    ys: list[float | None], target: float, rising: bool | None = None, horizon: int = HORIZON_DAYS
) -> Forecast | None:
    """Forecast of a daily series (None = no value that day) reaching `target`, counted in days
    after its last day. `rising`: whether the goal is to go up to the target (a response time
    goes down); by default, whether the target lies above the series' first value. None with
    fewer than `MIN_POINTS` values."""
    points = [(float(x), y) for x, y in enumerate(ys) if y is not None]
    if len(points) < MIN_POINTS:
        return None
    line = fit([x for x, _y in points], [y for _x, y in points])
    if line is None:
        return None
    last_x, last_y = float(len(ys) - 1), points[-1][1]
    if rising is None:
        rising = target >= points[0][1]
    if (last_y >= target) if rising else (last_y <= target):
        return Forecast(line, 0, 0, 0, True)

    def arrives(bound: float) -> int | None:
        """First day after the last one whose value (ŷ + bound · half) reaches the target."""
        for day in range(1, horizon + 1):
            x = last_x + day
            value = line.predict(x) + bound * line.half_width(x)
            if (value >= target) if rising else (value <= target):
                return day
        return None

    sign = 1.0 if rising else -1.0
    return Forecast(line, arrives(0.0), arrives(sign), arrives(-sign), False)
