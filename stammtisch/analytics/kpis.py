"""The KPI registry: every KPI a goal can measure, in one place (docs/analytics.md "KPIs").

A KPI is computed from daily rollups (analytics/rollups.py), never from raw rows:

* a **flow** (clicks, new people, ...) adds up: its value over a period is the sum of its daily
  rollups; a goal's progress is the sum since the goal's start.
* a **level** (net sentiment, response time, advocates, ...) is a state: its value on a day is
  computed from the sums of its inputs over the `WINDOW_DAYS` days up to that day (or the last
  reading, for a count such as advocates); a goal's progress is today's value.

Each KPI names the rollup key that measures its sample size and the minimum sample below which
it says "not enough data" instead of showing a misleading number.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from stammtisch.analytics.models import DailyRollup
from stammtisch.core.models import Workspace

WINDOW_DAYS = 28  # a level's value on a day looks back this many days

FLOW = "flow"
LEVEL = "level"

Values = Mapping[str, float | None]


def _share(part: str, whole: str) -> Callable[[Values], float | None]:
    def compute(v: Values) -> float | None:
        whole_value = v.get(whole) or 0.0
        return 100.0 * (v.get(part) or 0.0) / whole_value if whole_value else None

    return compute


def _net_sentiment(v: Values) -> float | None:
    triaged = v.get("inbox.triaged") or 0.0
    if not triaged:
        return None
    return 100.0 * ((v.get("inbox.positive") or 0.0) - (v.get("inbox.negative") or 0.0)) / triaged


def _minutes(v: Values) -> float | None:
    seconds = v.get("inbox.response_median_s")
    return None if seconds is None else seconds / 60.0


def _key(name: str) -> Callable[[Values], float | None]:
    return lambda v: v.get(name)


def _ratio(part: str, whole: str) -> Callable[[Values], float | None]:
    def compute(v: Values) -> float | None:
        whole_value = v.get(whole) or 0.0
        return (v.get(part) or 0.0) / whole_value if whole_value else None

    return compute


@dataclass(frozen=True)
class Kpi:
    key: str
    kind: str  # the goal kind it belongs to (strategy.models.Goal.Kind)
    label: Any  # lazy translation
    unit: Any  # lazy translation, shown after the value
    definition: Any  # lazy translation: the precise definition, shown on the goal page
    mode: str  # FLOW or LEVEL
    inputs: tuple[str, ...]  # rollup keys
    compute: Callable[[Values], float | None]
    sample_key: str  # rollup key whose sum over the window is the sample size
    min_sample: int
    available: bool = True  # False: its data source does not exist yet


KPIS: dict[str, Kpi] = {
    kpi.key: kpi
    for kpi in [
        Kpi(
            "image.net_sentiment",
            "image",
            _("Net sentiment"),
            _("points"),
            _(
                "Share of positive minus share of negative incoming inbox messages (comments, mentions, "
                "direct messages; spam left out) among those with a sentiment, over the last 28 days."
            ),
            LEVEL,
            ("inbox.triaged", "inbox.positive", "inbox.negative"),
            _net_sentiment,
            "inbox.triaged",
            20,
        ),
        Kpi(
            "image.positive_share",
            "image",
            _("Share of positive messages"),
            "%",
            _("Positive incoming inbox messages among those with a sentiment, over the last 28 days."),
            LEVEL,
            ("inbox.triaged", "inbox.positive"),
            _share("inbox.positive", "inbox.triaged"),
            "inbox.triaged",
            20,
        ),
        Kpi(
            "image.negative_share",
            "image",
            _("Share of negative messages"),
            "%",
            _("Negative incoming inbox messages among those with a sentiment, over the last 28 days."),
            LEVEL,
            ("inbox.triaged", "inbox.negative"),
            _share("inbox.negative", "inbox.triaged"),
            "inbox.triaged",
            20,
        ),
        Kpi(
            "loyalty.returning_engagers",
            "loyalty",
            _("Returning engagers"),
            _("visits"),
            _(
                "People who engaged (commented, replied, mentioned, wrote, liked, shared or followed) on a "
                "day after the day they were first seen; one per person and day."
            ),
            FLOW,
            ("people.returning",),
            _key("people.returning"),
            "people.returning",
            0,
        ),
        Kpi(
            "loyalty.advocates",
            "loyalty",
            _("Advocates"),
            _("people"),
            _("People in the lifecycle stage “Advocate” at the end of the day."),
            LEVEL,
            ("people.advocates",),
            _key("people.advocates"),
            "",
            0,
        ),
        Kpi(
            "loyalty.answered_feedback",
            "loyalty",
            _("Answered feedback"),
            "%",
            _(
                "Conversations received in the last 28 days whose intent is a question or a complaint and "
                "that have a first response."
            ),
            LEVEL,
            ("inbox.feedback", "inbox.feedback_answered"),
            _share("inbox.feedback_answered", "inbox.feedback"),
            "inbox.feedback",
            5,
        ),
        Kpi(
            "loyalty.response_minutes",
            "loyalty",
            _("Median response time"),
            _("minutes"),
            _(
                "Median of the daily medians of the time from a conversation's first incoming message to "
                "our first response, over the conversations answered in the last 28 days (wall-clock time)."
            ),
            LEVEL,
            ("inbox.response_median_s", "inbox.responses"),
            _minutes,
            "inbox.responses",
            5,
        ),
        Kpi(
            "acquisition.new_followers",
            "acquisition",
            _("New followers"),
            _("followers"),
            _("Sum over all channels of the change of the follower count between two daily readings."),
            FLOW,
            ("channel.followers_delta",),
            _key("channel.followers_delta"),
            "channel.readings",
            3,
        ),
        Kpi(
            "acquisition.new_people",
            "acquisition",
            _("New people"),
            _("people"),
            _("People first seen on any channel (or added by hand) that day."),
            FLOW,
            ("people.new",),
            _key("people.new"),
            "",
            0,
        ),
        Kpi(
            "acquisition.conversions",
            "acquisition",
            _("Attributed conversions"),
            _("conversions"),
            _("Sign-ups, reservations, purchases and other conversions attributed to a social click or post."),
            FLOW,
            ("links.conversions",),
            _key("links.conversions"),
            "",
            0,
        ),
        Kpi(
            "traffic.clicks",
            "traffic",
            _("Link clicks"),
            _("clicks"),
            _("Clicks on the workspace's short links, bots left out."),
            FLOW,
            ("links.clicks",),
            _key("links.clicks"),
            "",
            0,
        ),
        Kpi(
            "traffic.social_visits",
            "traffic",
            _("Visits from social"),
            _("visits"),
            _("Website visits reported by the website snippet or server that came from a short-link click."),
            FLOW,
            ("links.visits",),
            _key("links.visits"),
            "",
            0,
        ),
        # SEO signals (docs/links.md "SEO signals"): search figures come from Search Console
        # imports, by day; at least a week of imported days before a value is shown.
        Kpi(
            "seo.search_clicks",
            "seo",
            _("Search clicks"),
            _("clicks"),
            _(
                "Clicks from Google Search to the website, from imported Search Console figures with a date "
                "(days without imported figures count as no data)."
            ),
            FLOW,
            ("seo.search_clicks",),
            _key("seo.search_clicks"),
            "seo.search_days",
            7,
        ),
        Kpi(
            "seo.search_impressions",
            "seo",
            _("Search impressions"),
            _("impressions"),
            _("How often the website was shown in Google Search results, from imported Search Console figures."),
            FLOW,
            ("seo.search_impressions",),
            _key("seo.search_impressions"),
            "seo.search_days",
            7,
        ),
        Kpi(
            "seo.average_position",
            "seo",
            _("Average search position"),
            _("position"),
            _(
                "Average position of the website in Google Search results over the last 28 days, weighted by "
                "impressions, from imported Search Console figures (lower is better)."
            ),
            LEVEL,
            ("seo.position_weight", "seo.position_impressions"),
            _ratio("seo.position_weight", "seo.position_impressions"),
            "seo.search_days",
            7,
        ),
        Kpi(
            "seo.social_referral_visits",
            "seo",
            _("Referral visits from social"),
            _("visits"),
            _(
                "Website visits reported by the website snippet or server that came from a click on a social "
                "short link (made for a channel's post, or tagged utm_medium=social)."
            ),
            FLOW,
            ("seo.social_visits",),
            _key("seo.social_visits"),
            "",
            0,
        ),
    ]
}

# How a rollup key adds up over several days: most are sums; a count of a state takes its last
# value; a daily median takes the median of the days' medians.
LAST_KEYS = frozenset({"people.advocates", "channel.followers"})
MEDIAN_KEYS = frozenset({"inbox.response_median_s"})


def kpis_for(kind: str) -> list[Kpi]:
    """The KPIs a goal of this kind can use (a custom goal can use any)."""
    return [kpi for kpi in KPIS.values() if kind in ("custom", kpi.kind)]


def read_rollups(
    workspace: Workspace, keys: Iterable[str], first: dt.date, last: dt.date, dimension: str = ""
) -> dict[str, dict[dt.date, float]]:
    """The rollups of `keys` for the days [first, last], by key and day: one indexed query."""
    series: dict[str, dict[dt.date, float]] = defaultdict(dict)
    rows = DailyRollup.objects.filter(
        workspace=workspace, key__in=list(keys), dimension=dimension, day__gte=first, day__lte=last
    ).values_list("key", "day", "value")
    for key, day, value in rows:
        series[key][day] = value
    return series


def aggregate(key: str, daily: Mapping[dt.date, float], first: dt.date, last: dt.date) -> float | None:
    """The value of rollup `key` over the days [first, last] (None: no rollup in that range)."""
    values = [value for day, value in sorted(daily.items()) if first <= day <= last]
    if not values:
        return None
    if key in LAST_KEYS:
        return values[-1]
    if key in MEDIAN_KEYS:
        return float(statistics.median(values))
    return float(sum(values))


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: not enough data
    sample: int


def evaluate(kpi: Kpi, series: Mapping[str, Mapping[dt.date, float]], first: dt.date, last: dt.date) -> Reading:
    """The KPI over the days [first, last] from rollups read with `read_rollups`."""
    inputs = {key: aggregate(key, series.get(key, {}), first, last) for key in kpi.inputs}
    sample = int(aggregate(kpi.sample_key, series.get(kpi.sample_key, {}), first, last) or 0) if kpi.sample_key else 0
    if not kpi.available or all(value is None for value in inputs.values()) or sample < kpi.min_sample:
        return Reading(None, sample)
    return Reading(kpi.compute(inputs), sample)


def level_on(kpi: Kpi, series: Mapping[str, Mapping[dt.date, float]], day: dt.date) -> Reading:
    """A level KPI's value on `day`: its inputs over the `WINDOW_DAYS` days up to that day."""
    return evaluate(kpi, series, day - dt.timedelta(days=WINDOW_DAYS - 1), day)
