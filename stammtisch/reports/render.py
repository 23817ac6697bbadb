"""A report's stored figures (reports/content.py) as HTML and PDF, in the report's language, with
numbers and dates in that language's format and times in the workspace's zone; the summary in
plain words is written here, from the figures, and says "too little data" where that is so."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from stammtisch.analytics.kpis import KPIS
from stammtisch.audience.models import Stage
from stammtisch.networks.registry import CONNECTORS, NETWORK_NAMES
from stammtisch.reports import charts, content, pdf
from stammtisch.reports.models import Kind, Report
from stammtisch.reports.periods import Period
from stammtisch.strategy.models import Goal

MINUS = "\u2212"
NONE = "\u2013"  # an en dash: no figure


def num(value: float | None, digits: int | None = None) -> str:
    """A number in the active language's format ("1.234,5" in German, "1,234.5" in English);
    whole numbers without decimals unless `digits` is given; a dash for None."""
    if value is None:
        return NONE
    if digits is None:
        digits = 0 if float(value).is_integer() else 1
    text = formats.number_format(round(float(value), digits), digits, force_grouping=True)
    return text.replace("-", MINUS)


def signed(value: float, digits: int | None = None) -> str:
    if value > 0:
        return "+" + num(value, digits)
    return num(value, digits)


def change(value: float | None, previous: float | None, digits: int | None = None) -> str:
    """ "+12 (+35 %)", "-3 (-10 %)" (with a minus sign), "±0", or "" when either figure is missing."""
    if value is None or previous is None:
        return ""
    diff = value - previous
    shown = digits if digits is not None else (0 if float(diff).is_integer() else 1)
    if round(diff, shown) == 0:
        return "±0"
    if not previous:
        return signed(diff, digits)
    percent = 100.0 * diff / abs(previous)
    return f"{signed(diff, digits)} ({'±0' if round(percent) == 0 else signed(percent, 0)} %)"


def duration(minutes: float | None) -> str:
    if minutes is None:
        return NONE
    if abs(minutes) >= 120:
        return f"{num(minutes / 60.0, 1)} h"
    return f"{num(minutes, 0)} min"


def duration_change(value: float | None, previous: float | None) -> str:
    """A change of a time in minutes, in the unit the times are shown in: "+13,7 h (+33 %)"."""
    if value is None or previous is None:
        return ""
    diff = value - previous
    if round(diff) == 0:
        return "±0"
    sign = "+" if diff > 0 else ""
    percent = f" ({signed(100.0 * diff / abs(previous), 0)} %)" if previous else ""
    return f"{sign}{duration(diff)}{percent}"


def channel_label(channel: dict[str, str]) -> str:
    network = CONNECTORS.get(channel.get("network", ""), (channel.get("network", ""), ""))[0]
    label = str(network)
    real = channel.get("stands_in_for") or ""
    if real:
        label = _("%(network)s as %(real)s") % {"network": label, "real": NETWORK_NAMES.get(real, real.title())}
    name = channel.get("name") or _("(a deleted channel)")
    return f"{name} ({label})"


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def period_of(data: dict[str, Any]) -> Period:
    period = data["period"]
    return Period(period["kind"], dt.date.fromisoformat(period["first"]), dt.date.fromisoformat(period["last"]))


def period_label(report: Report) -> str:
    """The report's period in the active language ("Week 23: ...", "June 2026")."""
    return Period(report.kind, report.first_day, report.last_day).label()


def title_of(kind: str) -> str:
    return _("Weekly report") if kind == Kind.WEEK else _("Monthly report")


def _before(kind: str, value: str) -> str:
    """ "previous week: 9" / "previous month: 9"."""
    if kind == Kind.WEEK:
        return _("previous week: %(value)s") % {"value": value}
    return _("previous month: %(value)s") % {"value": value}


def _trend(figure: str, value: float | None, previous: float | None) -> str:
    if value is None:
        return _("%(figure)s: too little data (no figures for this period).") % {"figure": figure}
    values = {"figure": figure, "value": num(value), "previous": num(previous), "change": ""}
    if previous is None:
        return _("%(figure)s: %(value)s (no figures for the period before).") % values
    if previous:
        values["change"] = f" ({signed(100.0 * (value - previous) / abs(previous), 0)} %)"
    if round(value - previous, 2) > 0:
        return _("%(figure)s: %(value)s, up from %(previous)s%(change)s.") % values
    if round(value - previous, 2) < 0:
        return _("%(figure)s: %(value)s, down from %(previous)s%(change)s.") % values
    return _("%(figure)s: %(value)s, the same as in the period before.") % values


def summary(data: dict[str, Any]) -> list[str]:
    """A few plain sentences about the period, made from the figures only."""
    kind = data["period"]["kind"]
    lines: list[str] = []
    if not data.get("rollup_days"):
        lines.append(
            _(
                "Too little data: no figures have been computed for this period. The worker computes them "
                "every 15 minutes; an empty period usually means no channel was connected or nothing happened."
            )
        )
    posts = data["posts"]
    count = posts["value"] if posts["value"] is not None else data["engagement"]["posts"]
    sentence = ngettext("%(count)s post was published", "%(count)s posts were published", int(count or 0)) % {
        "count": num(count or 0)
    }
    if posts["previous"] is not None:
        sentence = f"{sentence} ({_before(kind, num(posts['previous']))})"
    lines.append(sentence + ".")

    engagement = data["engagement"]
    if not engagement["measured"]:
        if engagement["posts"]:
            lines.append(_("Too little data for engagement: no figures have been read for this period's posts yet."))
    elif engagement["rate"] is None:
        lines.append(
            _(
                "The posts got %(count)s likes, comments and shares; too little data for an engagement rate "
                "(%(posts)s of at least %(min)s posts with impressions)."
            )
            % {
                "count": num(engagement["engagements"]),
                "posts": num(engagement["rate_posts"]),
                "min": content.ENGAGEMENT_MIN_POSTS,
            }
        )
    else:
        lines.append(
            _("The posts got %(count)s likes, comments and shares: %(rate)s %% of their impressions.")
            % {"count": num(engagement["engagements"]), "rate": num(engagement["rate"], 1)}
        )

    links = data["links"]
    lines.append(_trend(_("Link clicks"), links["clicks"]["value"], links["clicks"]["previous"]))
    if links["conversions"]["value"] or links["conversions"]["previous"]:
        lines.append(_trend(_("Conversions"), links["conversions"]["value"], links["conversions"]["previous"]))
    people = data["people"]
    lines.append(_trend(_("New people"), people["new"]["value"], people["new"]["previous"]))

    goals = data["goals"]
    if goals:
        good = sum(1 for goal in goals if goal["forecast"] in ("on_track", "reached"))
        unknown = sum(1 for goal in goals if goal["forecast"] == "none")
        sentence = ngettext(
            "%(good)s of %(count)s goal is on track or reached.",
            "%(good)s of %(count)s goals are on track or reached.",
            len(goals),
        ) % {"good": good, "count": len(goals)}
        if unknown:
            sentence += " " + ngettext(
                "Too little data to forecast %(count)s goal.", "Too little data to forecast %(count)s goals.", unknown
            ) % {"count": unknown}
        lines.append(sentence)

    inbox = data["inbox"]
    responses = inbox["responses"]["value"] or 0
    minimum = inbox["response_minutes"]["min_sample"]
    if inbox["response_minutes"]["value"] is None:
        lines.append(
            _("Too little data for the response time: %(count)s of at least %(min)s answered conversations.")
            % {"count": num(responses), "min": minimum}
        )
    else:
        lines.append(
            _("Median time to a first response: %(time)s (%(count)s answered conversations).")
            % {"time": duration(inbox["response_minutes"]["value"]), "count": num(responses)}
        )

    moves = content.stage_totals(data)
    if moves["better"] or moves["worse"]:
        lines.append(
            _("Stage changes: %(better)s up to engaged, loyal or advocate; %(worse)s down to at risk or lapsed.")
            % {"better": num(moves["better"]), "worse": num(moves["worse"])}
        )

    mix = data["mix"]
    if mix["total"]:
        values = {"share": num(mix["value_share"], 1), "target": num(mix["min_value_share"])}
        if mix["met"]:
            lines.append(
                _("Value content: %(share)s %% of posts, the target of at least %(target)s %% is met.") % values
            )
        else:
            lines.append(
                _("Value content: %(share)s %% of posts, below the target of at least %(target)s %%.") % values
            )
    if data["cadence"]:
        average = sum(row["adherence"] for row in data["cadence"]) / len(data["cadence"])
        lines.append(
            _("The cadence was kept to %(value)s %% on average over the last four full weeks.")
            % {"value": num(average, 0)}
        )
    return lines


def _kpi_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in data["kpis"]:
        kpi = KPIS.get(row["key"])
        if kpi is None:
            continue

        def shown(value: float | None, sample: int, kpi: Any = kpi) -> dict[str, Any]:
            if value is not None:
                return {"text": num(value), "missing": False}
            if kpi.min_sample and sample < kpi.min_sample:
                detail = _("%(sample)s of at least %(min)s") % {"sample": num(sample), "min": num(kpi.min_sample)}
                return {"text": _("too little data"), "missing": True, "detail": detail}
            return {"text": NONE, "missing": True}

        rows.append(
            {
                "label": str(kpi.label),
                "unit": str(kpi.unit),
                "value": shown(row["value"], row["sample"]),
                "previous": shown(row["previous"], row["previous_sample"]),
                "change": change(row["value"], row["previous"]),
                "known": row["value"] is not None,
            }
        )
    return rows


def _goal_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for goal in data["goals"]:
        kpi = KPIS.get(goal["kpi"])
        unit = str(kpi.unit) if kpi else ""
        forecast = goal["forecast"]
        expected = _date(goal["expected"])
        if forecast == "reached":
            outlook = _("Reached")
        elif forecast == "on_track" and expected:
            outlook = _("On track: %(date)s") % {"date": formats.date_format(expected, "DATE_FORMAT")}
        elif forecast == "late" and expected:
            outlook = _("Late: %(date)s") % {"date": formats.date_format(expected, "DATE_FORMAT")}
        elif forecast == "never":
            outlook = _("Not at the current rate")
        else:
            outlook = _("too little data for a forecast")
        current = _("too little data") if goal["current"] is None else f"{num(goal['current'])} {unit}".strip()
        progress = goal["progress"]
        rows.append(
            {
                "name": goal["name"],
                "kind": Goal.Kind(goal["kind"]).label if goal["kind"] in Goal.Kind.values else goal["kind"],
                "kpi": str(kpi.label) if kpi else goal["kpi"],
                "current": current,
                "target": f"{num(goal['target'])} {unit}".strip(),
                "progress": NONE if progress is None else f"{num(progress, 0)} %",
                "progress_chart": charts.progress(progress, title=_("Progress")),
                "trend_chart": charts.sparkline(goal["trend"], target=goal["target"], title=_("Trend")),
                "deadline": _date(goal["deadline"]),
                "outlook": outlook,
                "forecast": forecast,
            }
        )
    return rows


def _day_labels(period: Period) -> tuple[list[str], int]:
    if period.kind == Kind.WEEK:
        return [formats.date_format(day, "D") for day in period.days], 1
    return [str(day.day) for day in period.days], 1


def _pair_rows(items: list[tuple[str, dict[str, Any], Any]]) -> list[dict[str, str]]:
    rows = []
    for label, pair, shown in items:
        differ = duration_change if shown is _duration_or_missing else change
        rows.append(
            {
                "label": label,
                "value": shown(pair["value"]),
                "previous": shown(pair["previous"]),
                "change": differ(pair["value"], pair["previous"]),
            }
        )
    return rows


def _duration_or_missing(minutes: float | None) -> str:
    return duration(minutes) if minutes is not None else _("too little data")


def context(data: dict[str, Any], language: str) -> dict[str, Any]:
    """Everything the report templates show, in the active language (call it under
    `translation.override(language)`)."""
    period = period_of(data)
    previous = period.previous()
    labels, every = _day_labels(period)
    posts, links, inbox, people = data["posts"], data["links"], data["inbox"], data["people"]
    engagement = data["engagement"]
    mix = data["mix"]
    mix_rows = [(row["name"], row["count"], row["share"], row["target"], row["colour"]) for row in mix["pillars"]]
    if mix["other_labels"]["count"]:
        other = mix["other_labels"]
        mix_rows.append((_("Other labels"), other["count"], other["share"], None, "#9ca3af"))
    if mix["without_pillar"]["count"]:
        without = mix["without_pillar"]
        mix_rows.append((_("Without a pillar"), without["count"], without["share"], None, "#d1d5db"))
    mix_rows.append(
        (_("Value content"), mix["value_count"], mix["value_share"], float(mix["min_value_share"]), "#15803d")
    )
    feedback, answered = inbox["feedback"], inbox["feedback_answered"]
    stage_labels = dict(Stage.choices)
    return {
        "data": data,
        "language": language,
        "workspace_name": data["workspace"]["name"],
        "title": title_of(period.kind),
        "period": period,
        "period_label": period.label(),
        "previous_label": previous.label(),
        "is_week": period.kind == Kind.WEEK,
        "generated_at": _datetime(data["generated_at"]),
        "refreshed_at": _datetime(data.get("refreshed_at")),
        "summary": summary(data),
        "kpis": _kpi_rows(data),
        "goals": _goal_rows(data),
        "posts_chart": charts.bars(posts["daily"], labels, title=_("Posts published per day"), fmt=num, every=every),
        "daily_rows": [
            (day, num(count), num(clicks))
            for day, count, clicks in zip(period.days, posts["daily"], links["daily_clicks"], strict=True)
        ],
        "posts_by_channel": [(channel_label(row), num(row["count"])) for row in posts["by_channel"]],
        "posts_pair": _pair_rows(
            [
                (_("Posts published"), posts, num),
                (
                    _("Likes, comments and shares"),
                    {"value": engagement["engagements"], "previous": engagement["previous"]["engagements"]},
                    num,
                ),
                (
                    _("Impressions"),
                    {"value": engagement["impressions"], "previous": engagement["previous"]["impressions"]},
                    num,
                ),
                (
                    _("Engagement rate (%)"),
                    {"value": engagement["rate"], "previous": engagement["previous"]["rate"]},
                    lambda v: num(v, 1) if v is not None else _("too little data"),
                ),
            ]
        ),
        "engagement": engagement,
        "engagement_min_posts": content.ENGAGEMENT_MIN_POSTS,
        "top_posts": [
            {
                **post,
                "channel_label": channel_label(post["channel"]),
                "published": _datetime(post["published_at"]),
                "rate_text": NONE if post["rate"] is None else f"{num(post['rate'], 1)} %",
                "likes_text": num(post["likes"]),
                "comments_text": num(post["comments"]),
                "shares_text": num(post["shares"]),
            }
            for post in data["top_posts"]
        ],
        "inbox_rows": _pair_rows(
            [
                (_("Answered conversations"), inbox["responses"], num),
                (
                    _("Median time to a first response"),
                    inbox["response_minutes"],
                    _duration_or_missing,
                ),
                (_("Questions and complaints received"), feedback, num),
                (_("… of them answered"), answered, num),
                (_("Messages with a sentiment"), inbox["triaged"], num),
                (_("… positive"), inbox["positive"], num),
                (_("… negative"), inbox["negative"], num),
            ]
        ),
        "people_rows": _pair_rows(
            [
                (_("New people"), people["new"], num),
                (_("Returning engagers"), people["returning"], num),
                (_("Advocates at the end of the period"), people["advocates"], num),
            ]
        ),
        "stage_rows": [
            {
                "label": stage_labels.get(row["stage"], row["stage"]),
                "entered": num(row["entered"]),
                "left": num(row["left"]),
                "previous_entered": num(row["previous_entered"]),
            }
            for row in people["stages"]
        ],
        "links_rows": _pair_rows(
            [
                (_("Link clicks"), links["clicks"], num),
                (_("Conversions"), links["conversions"], num),
                (_("Visits from social"), links["visits"], num),
            ]
        ),
        "clicks_chart": charts.bars(
            links["daily_clicks"],
            labels,
            title=_("Link clicks per day"),
            fmt=num,
            every=every,
            colour="#7c3aed",
        ),
        "clicks_by_channel": [(channel_label(row), num(row["count"])) for row in links["by_channel"]],
        "mix": mix,
        "mix_chart": charts.share_bars(
            [(label, share, target, colour) for label, _count, share, target, colour in mix_rows],
            title=_("Content mix against its targets"),
            fmt=lambda v: num(v, 1),
            target_label=_("target"),
        ),
        "mix_rows": [
            {
                "label": label,
                "count": num(count),
                "share": num(share, 1),
                "target": NONE if target is None else f"{num(target)} %",
            }
            for label, count, share, target, _colour in mix_rows
        ],
        "cadence": [
            {
                "channel": channel_label(row["channel"]),
                "per_week": row["per_week"],
                "weeks": [(dt.date.fromisoformat(monday), count) for monday, count in row["weeks"]],
                "adherence": num(row["adherence"], 0),
            }
            for row in data["cadence"]
        ],
        "cadence_weeks": [dt.date.fromisoformat(monday) for monday, _n in data["cadence"][0]["weeks"]]
        if data["cadence"]
        else [],
        "time_zone": data["workspace"]["time_zone"],
    }


def css_string(value: str) -> SafeString:
    """`value` as a quoted CSS string that cannot end the string or the <style> element."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;·-_()'!?&@/" else f"\\{ord(ch):x} " for ch in value)
    return mark_safe(f'"{escaped}"')  # every other character is a CSS escape


def render_document(report: Report, *, share: bool = False, for_pdf: bool = False) -> str:
    """The report as a complete HTML document (no navigation): the PDF's source, or the page a
    share link shows."""
    tz = zoneinfo.ZoneInfo(report.data["workspace"]["time_zone"])
    with translation.override(report.language), timezone.override(tz):
        values = context(report.data, report.language)
        values.update(
            share=share,
            for_pdf=for_pdf,
            footer_css=css_string(f"{values['workspace_name']} · {values['period_label']}"),
            page_css=css_string(_("Page")),
        )
        return render_to_string("reports/document.html", values)


def render_body(report: Report) -> str:
    """The report's content for a page of the app (in the report's language)."""
    tz = zoneinfo.ZoneInfo(report.data["workspace"]["time_zone"])
    with translation.override(report.language), timezone.override(tz):
        return render_to_string("reports/_report.html", context(report.data, report.language))


def render_pdf(report: Report) -> bytes:
    return pdf.render_pdf(render_document(report, for_pdf=True))


def filename(report: Report) -> str:
    return f"stammtisch-{report.kind}-{report.first_day.isoformat()}-{report.language}.pdf"
