"""Social visits per landing page, Search Console figures per page and day, and the SEO rollups
and KPIs goals read (links/seo.py, analytics/rollups.py `seo_figures`, analytics/kpis.py)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from stammtisch.analytics import kpis, rollups
from stammtisch.analytics.models import DailyRollup
from stammtisch.analytics.tests.builders import DAY, at, channel
from stammtisch.core.actions import Actor
from stammtisch.links import seo
from stammtisch.links.actions import settings_for
from stammtisch.links.models import Click, Conversion, ShortLink
from stammtisch.links.seo_actions import do_import_search_console
from stammtisch.links.tests.helpers import BROWSER_UA, drain, make_link
from stammtisch.links.tests.test_conversions import post_signed

NOW = dt.datetime(2026, 6, 25, 12, 0, tzinfo=dt.UTC)
KARTE = "cafe-koenigsbau.example/karte"


def visit_through(link: ShortLink, ip: str, *, user_agent: str = BROWSER_UA) -> str:
    """Follow a short link as a browser; the click id the website gets."""
    response = Client().get(f"/l/{link.code}", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    return parse_qs(urlsplit(response["Location"]).query).get("stm_click", [""])[0]


def snippet_visit(cast, token: str, page: str, ip: str) -> None:  # type: ignore[no-untyped-def]
    site_key = settings_for(cast.workspace).site_key
    Client().get(
        f"/c/{site_key}/hit", {"k": "visit", "c": token, "p": page}, HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR=ip
    )


def test_social_clicks_and_visits_are_counted_per_landing_page(cast) -> None:
    koenigsbau = channel(cast.workspace)
    from_post = ShortLink.objects.create(
        workspace=cast.workspace, target="https://www.cafe-koenigsbau.example/karte/?tag=1#mittag", channel=koenigsbau
    )
    by_hand = make_link(
        cast, target="https://cafe-koenigsbau.example/reservieren", utm_source="Instagram", utm_medium="social"
    )
    flyer = make_link(cast, target="https://cafe-koenigsbau.example/karte", utm_medium="print")
    first = visit_through(from_post, "203.0.113.1")
    second = visit_through(from_post, "203.0.113.2")
    visit_through(from_post, "203.0.113.3", user_agent="facebookexternalhit/1.1")  # a bot: never counted
    instagram = visit_through(by_hand, "203.0.113.4")
    printed = visit_through(flyer, "203.0.113.5")
    drain()
    # The website reports where the visitors landed (the snippet sends the page without its query).
    snippet_visit(cast, first, "https://cafe-koenigsbau.example/karte", "203.0.113.1")
    snippet_visit(cast, instagram, "https://cafe-koenigsbau.example/tisch", "203.0.113.4")  # the site redirected
    snippet_visit(cast, printed, "https://cafe-koenigsbau.example/karte", "203.0.113.5")  # not social
    # A server report without a page counts on the link's target.
    post_signed(cast, {"kind": "visit", "click": second, "id": "v-2"})
    assert Conversion.objects.filter(kind="visit").count() == 4

    today = timezone.localdate(timezone=cast.workspace.tz)
    figures = seo.social_figures(cast.workspace, today, today)
    assert figures.by_page() == {
        KARTE: seo.Social(clicks=2, visits=2),
        "cafe-koenigsbau.example/reservieren": seo.Social(clicks=1, visits=0),
        "cafe-koenigsbau.example/tisch": seo.Social(clicks=0, visits=1),
    }
    assert figures.cells[today, KARTE, f"c{koenigsbau.pk}"] == seo.Social(clicks=2, visits=2)
    assert figures.sources[f"c{koenigsbau.pk}"].label == koenigsbau.display_name
    assert figures.sources["uinstagram"].label == "instagram"
    only_karte = seo.social_figures(cast.workspace, today, today, page=KARTE)
    assert only_karte.by_page() == {KARTE: seo.Social(clicks=2, visits=2)}


def test_another_workspaces_clicks_and_search_figures_never_count(cast) -> None:
    theirs = ShortLink.objects.create(
        workspace=cast.other_workspace,
        target="https://cafe-koenigsbau.example/karte",
        channel=channel(cast.other_workspace, "chili"),
    )
    visit_through(theirs, "203.0.113.9")
    drain()
    chart = "Date,Page,Clicks,Impressions\n2026-06-10,https://cafe-koenigsbau.example/karte,5,50\n"
    do_import_search_console(Actor(user=cast.charlie), cast.other_workspace, chart.encode(), now=NOW)
    today = timezone.localdate(timezone=cast.workspace.tz)
    assert seo.social_figures(cast.workspace, today, today).by_page() == {}
    assert seo.search_by_page(cast.workspace, DAY, DAY, period=False) == {}
    assert seo.search_totals(cast.workspace, DAY, DAY) == {}
    assert seo.search_by_page(cast.other_workspace, DAY, DAY, period=False)[KARTE].clicks == 5


def test_the_landing_page_a_server_reports_is_kept_without_its_query(cast) -> None:
    link = make_link(cast, utm_medium="social")
    token = visit_through(link, "203.0.113.1")
    drain()
    response = post_signed(
        cast, {"kind": "visit", "click": token, "page": "https://Cafe-Koenigsbau.example/karte/?mail=a@b"}
    )
    assert response.status_code == 201
    assert Conversion.objects.get().page == KARTE
    refused = post_signed(cast, {"kind": "visit", "click": token, "page": "javascript:alert(1)"})
    assert refused.status_code == 400 and refused.json()["error"] == "bad_report"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("https://www.Cafe-Koenigsbau.example/karte/?utm_source=x#top", KARTE),
        ("http://cafe-koenigsbau.example:80/karte", KARTE),
        ("https://cafe-koenigsbau.example", "cafe-koenigsbau.example/"),
        ("https://cafe-koenigsbau.example:8443/caf%C3%A9", "cafe-koenigsbau.example:8443/café"),
        ("ftp://cafe-koenigsbau.example/karte", ""),
        ("karte", ""),
        ("https://[::1", ""),
    ],
)
def test_pages_are_keyed_by_host_and_path(address: str, key: str) -> None:
    assert seo.page_key(address) == key


def import_file(cast, text: str, period=None) -> None:  # type: ignore[no-untyped-def]
    do_import_search_console(Actor(user=cast.bob), cast.workspace, text.encode(), period=period, now=NOW)


def test_a_pages_figures_come_from_its_most_complete_grain_each_day(cast) -> None:
    day2 = DAY + dt.timedelta(days=1)
    # Day 1: a file per page (all of its clicks) and one per page and query (named queries only).
    import_file(cast, f"Date,Page,Clicks,Impressions,Position\n{DAY},https://{KARTE},10,100,4\n")
    import_file(
        cast,
        "Date,Page,Query,Clicks,Impressions,Position\n"
        f"{DAY},https://{KARTE},frühstück,6,60,3\n"
        f"{day2},https://{KARTE},frühstück,3,30,2\n"
        f"{day2},https://{KARTE},brunch,1,70,12\n",
    )
    pages = seo.search_by_page(cast.workspace, DAY, day2, period=False)
    assert pages[KARTE].clicks == 10 + 4 and pages[KARTE].impressions == 100 + 100
    assert pages[KARTE].position == pytest.approx((4 * 100 + 2 * 30 + 12 * 70) / 200)
    by_day = seo.search_of_page_by_day(cast.workspace, KARTE, DAY, day2, period=False)
    assert {day: figures.clicks for day, figures in by_day.items()} == {DAY: 10, day2: 4}
    queries = seo.search_by_query(cast.workspace, DAY, day2, period=False, page=KARTE)
    assert [(query, figures.clicks) for query, figures in queries] == [("frühstück", 9), ("brunch", 1)]


def test_a_periods_totals_count_only_for_exactly_that_period(cast) -> None:
    may = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    import_file(cast, f"Top pages,Clicks,Impressions,CTR,Position\nhttps://{KARTE},300,9000,3.3%,5.5\n", period=may)
    assert seo.search_by_page(cast.workspace, *may, period=True)[KARTE].clicks == 300
    assert seo.search_by_page(cast.workspace, *may, period=False) == {}
    assert seo.search_totals(cast.workspace, *may) == {}
    assert seo.period_total(cast.workspace, *may) is not None
    assert [(row["first_day"], row["last_day"]) for row in seo.imported_periods(cast.workspace)] == [may]


def values(cast, key: str) -> dict[dt.date, float]:  # type: ignore[no-untyped-def]
    return dict(DailyRollup.objects.filter(workspace=cast.workspace, key=key, dimension="").values_list("day", "value"))


def kpi_value(cast, key: str, first: dt.date, last: dt.date) -> kpis.Reading:  # type: ignore[no-untyped-def]
    kpi = kpis.KPIS[key]
    series = kpis.read_rollups(cast.workspace, {*kpi.inputs, kpi.sample_key} - {""}, first, last)
    return kpis.evaluate(kpi, series, first, last)


def test_the_rollups_count_social_visits_and_the_days_search_figures(cast) -> None:
    koenigsbau = channel(cast.workspace)
    post_link = ShortLink.objects.create(workspace=cast.workspace, target=f"https://{KARTE}", channel=koenigsbau)
    flyer = ShortLink.objects.create(workspace=cast.workspace, target=f"https://{KARTE}", utm_medium="print")
    clicks = [
        Click.objects.create(
            link=post_link, workspace=cast.workspace, channel=koenigsbau, occurred_at=at(DAY, 10), visitor_hash=f"v{n}"
        )
        for n in range(3)
    ]
    Click.objects.create(
        link=post_link,
        workspace=cast.workspace,
        channel=koenigsbau,
        occurred_at=at(DAY, 10),
        visitor_hash="b",
        is_bot=True,
    )
    Click.objects.create(link=flyer, workspace=cast.workspace, occurred_at=at(DAY, 11), visitor_hash="f")
    Conversion.objects.create(
        workspace=cast.workspace,
        kind="visit",
        source="snippet",
        click=clicks[0],
        link=post_link,
        channel=koenigsbau,
        occurred_at=at(DAY, 10, 1),
        page=KARTE,
    )
    # Search: the chart file (the whole site) wins over the pages of the same day.
    import_file(cast, f"Date,Clicks,Impressions,Position\n{DAY},40,1000,5.0\n")
    import_file(cast, f"Date,Page,Clicks,Impressions,Position\n{DAY},https://{KARTE},30,600,4.0\n")

    rollups.refresh(cast.workspace, DAY - dt.timedelta(days=1), DAY)

    assert values(cast, "seo.social_clicks") == {DAY - dt.timedelta(days=1): 0.0, DAY: 3.0}
    assert values(cast, "seo.social_visits")[DAY] == 1
    assert (
        DailyRollup.objects.get(
            workspace=cast.workspace, key="seo.social_clicks", dimension=str(koenigsbau.pk), day=DAY
        ).value
        == 3
    )
    # A day without imported figures has no search row at all: no data, not 0.
    assert values(cast, "seo.search_clicks") == {DAY: 40.0}
    assert values(cast, "seo.search_impressions") == {DAY: 1000.0}
    assert values(cast, "seo.search_days") == {DAY: 1.0}
    assert kpi_value(cast, "seo.social_referral_visits", DAY, DAY).value == 1
    # One day of search figures is not enough for a search KPI.
    reading = kpi_value(cast, "seo.search_clicks", DAY, DAY)
    assert reading.value is None and reading.sample == 1


def test_search_kpis_need_a_week_of_imported_days(cast) -> None:
    days = [DAY - dt.timedelta(days=n) for n in range(7)]
    rows = "".join(f"{day},{10 + n},{100 * (n + 1)},{2.0 + n}\n" for n, day in enumerate(days))
    import_file(cast, "Date,Clicks,Impressions,Position\n" + rows)  # the import refreshes the rollups itself
    first = days[-1]
    assert kpi_value(cast, "seo.search_clicks", first, DAY).value == sum(10 + n for n in range(7))
    assert kpi_value(cast, "seo.search_impressions", first, DAY).value == sum(100 * (n + 1) for n in range(7))
    weighted = sum((2.0 + n) * 100 * (n + 1) for n in range(7)) / sum(100 * (n + 1) for n in range(7))
    assert kpi_value(cast, "seo.average_position", first, DAY).value == pytest.approx(weighted)
    short = kpi_value(cast, "seo.search_clicks", DAY - dt.timedelta(days=5), DAY)
    assert short.value is None and short.sample == 6
    assert kpis.KPIS["seo.search_clicks"].available and kpis.KPIS["seo.search_clicks"].kind == "seo"
    assert {kpi.key for kpi in kpis.kpis_for("seo")} == {
        "seo.search_clicks",
        "seo.search_impressions",
        "seo.average_position",
        "seo.social_referral_visits",
    }


def test_deleting_an_import_removes_its_days_from_the_rollups(cast) -> None:
    from stammtisch.links.seo_actions import do_delete_search_console

    import_file(cast, f"Date,Clicks,Impressions\n{DAY},40,1000\n")
    assert values(cast, "seo.search_clicks") == {DAY: 40.0}
    do_delete_search_console(Actor(user=cast.bob), cast.workspace, DAY, DAY)
    assert values(cast, "seo.search_clicks") == {}
