"""The calendar: month, week and list views in the workspace's time zone, filters, navigation,
the "+" on a day, drafts, and the benchmark's building blocks on a small scale."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.publishing import bench_calendar
from stammtisch.publishing.actions import do_cancel_post, do_create_post
from stammtisch.publishing.models import Post

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)  # Friday, 10:00 in Stuttgart
BERLIN_SUMMER = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def calendar_url(cast, **params: str) -> str:
    url = reverse("publishing:calendar", kwargs={"slug": cast.workspace.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def schedule(cast, channels, text: str, at: dt.datetime, **kwargs) -> Post:
    return do_create_post(Actor.system(), cast.workspace, text=text, channels=channels, scheduled_at=at, **kwargs)


def cell(page: str, date: str, hour: int | None = None) -> str:
    """The HTML of one day (or one hour of a day, in the week view)."""
    marker = f'data-drop-date="{date}"' + (f' data-drop-hour="{hour}"' if hour is not None else "")
    start = page.index(marker)
    return page[start : page.index("</td>", start)]


def test_a_post_at_half_past_midnight_on_the_first_is_on_the_first(cast, channel, frozen):
    # 00:30 on 1 April in Stuttgart is still 31 March in UTC.
    at = dt.datetime(2026, 4, 1, 0, 30, tzinfo=BERLIN_SUMMER)
    assert at.astimezone(dt.UTC).day == 31
    schedule(cast, [channel], "Aprilscherz", at)

    page = client_for(cast.anna).get(calendar_url(cast, view="month", date="2026-04-15")).content.decode()

    assert "Aprilscherz" in cell(page, "2026-04-01")
    assert "00:30" in cell(page, "2026-04-01")
    assert "Aprilscherz" not in cell(page, "2026-03-31")
    # Weeks start on Monday: the April grid opens with Monday, 30 March.
    first_cell = re.search(r'data-drop-date="([\d-]+)"', page)
    assert first_cell is not None and first_cell.group(1) == "2026-03-30"


def test_the_week_view_puts_a_post_in_its_local_hour(cast, channel, frozen):
    schedule(cast, [channel], "Mittagstisch", dt.datetime(2026, 3, 24, 11, 15, tzinfo=dt.UTC))  # 12:15 CET

    page = client_for(cast.anna).get(calendar_url(cast, view="week", date="2026-03-26")).content.decode()

    assert "Mittagstisch" in cell(page, "2026-03-24", hour=12)
    assert "12:15" in cell(page, "2026-03-24", hour=12)
    assert "Mittagstisch" not in cell(page, "2026-03-24", hour=11)
    assert re.findall(r'data-drop-date="([\d-]+)" data-drop-hour="0"', page) == [
        f"2026-03-{day}" for day in range(23, 30)
    ]


def test_the_list_view_groups_the_month_by_local_day(cast, channel, frozen):
    schedule(cast, [channel], "Spätes Viertele", dt.datetime(2026, 3, 21, 23, 30, tzinfo=dt.UTC))  # 22 March
    schedule(cast, [channel], "Im April", dt.datetime(2026, 4, 2, 8, 0, tzinfo=dt.UTC))

    page = client_for(cast.anna).get(calendar_url(cast, view="list", date="2026-03-01")).content.decode()

    assert "Spätes Viertele" in page and "Im April" not in page
    heading = page.index("22. März 2026")
    assert heading < page.index("Spätes Viertele")
    assert "00:30" in page


def test_each_card_shows_time_channels_first_words_and_status_colour(cast, channel, second_channel, frozen):
    schedule(cast, [channel, second_channel], "Frische Brezeln " * 20, NOW + dt.timedelta(days=1))

    page = client_for(cast.bob).get(calendar_url(cast)).content.decode()
    card = cell(page, "2026-03-21")

    assert 'class="cal-card status-scheduled"' in card
    assert card.count('class="cal-ch"') == 2
    assert "Café Königsbau (Fake)" in card  # the channel's full name, as the label's title
    assert "Frische Brezeln" in card and ("Frische Brezeln " * 20).strip() not in card
    assert 'draggable="true"' in card  # bob may edit; a scheduled post can be moved
    for status in ["Entwurf", "Geplant", "Veröffentlicht", "Fehlgeschlagen"]:
        assert status in page  # the legend
    analyst = client_for(cast.anna).get(calendar_url(cast)).content.decode()
    assert 'draggable="true"' not in analyst and "calendar.js" not in analyst


def test_filters_by_channel_pillar_and_status(cast, channel, second_channel, frozen):
    schedule(cast, [channel], "Rezept A", NOW + dt.timedelta(days=1), pillar="Rezepte")
    schedule(cast, [second_channel], "Event B", NOW + dt.timedelta(days=2), pillar="Events")
    cancelled = schedule(cast, [second_channel], "Abgesagt C", NOW + dt.timedelta(days=3), pillar="Events")
    do_cancel_post(Actor.system(), cancelled)
    anna = client_for(cast.anna)

    def texts(**params: str) -> set[str]:
        page = anna.get(calendar_url(cast, **params)).content.decode()
        return {text for text in ["Rezept A", "Event B", "Abgesagt C"] if text in page}

    assert texts() == {"Rezept A", "Event B", "Abgesagt C"}
    assert texts(channel=str(channel.pk)) == {"Rezept A"}
    assert texts(pillar="Events") == {"Event B", "Abgesagt C"}
    assert texts(status="cancelled") == {"Abgesagt C"}
    assert texts(pillar="Events", status="scheduled") == {"Event B"}
    assert texts(view="week", pillar="Rezepte") == {"Rezept A"}
    # The filter bar is a plain GET form; an unknown value is ignored, not an error.
    page = anna.get(calendar_url(cast, channel="999999")).content.decode()
    assert '<form method="get" class="cal-filters"' in page
    assert "Rezept A" in page


def test_navigation_keeps_the_view_and_the_filters(cast, channel, frozen):
    page = client_for(cast.anna).get(calendar_url(cast, view="week", date="2026-03-18", pillar="")).content.decode()
    assert "?view=week&amp;date=2026-03-09" in page  # previous week (from its Monday)
    assert "?view=week&amp;date=2026-03-23" in page  # next week
    assert "?view=week&amp;date=2026-03-20" in page  # today

    schedule(cast, [channel], "Mit Säule", NOW + dt.timedelta(days=1), pillar="Team")
    month = client_for(cast.anna).get(calendar_url(cast, pillar="Team")).content.decode()
    assert "?view=month&amp;date=2026-02-01&amp;pillar=Team" in month
    assert "?view=month&amp;date=2026-04-01&amp;pillar=Team" in month


def test_the_plus_on_a_day_prefills_the_composer(cast, frozen):
    page = client_for(cast.bob).get(calendar_url(cast)).content.decode()
    compose = reverse("publishing:compose", kwargs={"slug": cast.workspace.slug})
    assert f"{compose}?date=2026-03-25" in page

    form = client_for(cast.bob).get(f"{compose}?date=2026-03-25").content.decode()
    assert 'value="2026-03-25T09:00"' in form
    today = client_for(cast.bob).get(f"{compose}?date=2026-03-20").content.decode()
    assert 'value="2026-03-20T11:00"' in today  # 09:00 has passed: the next full hour
    assert f"{compose}?date=" not in client_for(cast.anna).get(calendar_url(cast)).content.decode()


def test_a_busy_day_shows_five_cards_and_a_link_to_the_week(cast, channel, frozen):
    for minute in range(7):
        schedule(cast, [channel], f"Post {minute}", NOW + dt.timedelta(days=1, minutes=minute))

    page = client_for(cast.anna).get(calendar_url(cast)).content.decode()
    day = cell(page, "2026-03-21")

    assert day.count('class="cal-card ') == 5
    assert "+ 2" in day and "view=week&amp;date=2026-03-21" in day
    week = client_for(cast.anna).get(calendar_url(cast, view="week", date="2026-03-21")).content.decode()
    assert week.count("Post ") == 7


def test_drafts_without_a_date_are_listed_below(cast, channel, frozen):
    do_create_post(Actor.system(), cast.workspace, text="Ein Entwurf", channels=[channel])
    page = client_for(cast.anna).get(calendar_url(cast)).content.decode()
    assert "Ein Entwurf" in page[page.index('id="drafts-h"') :]
    assert "Ein Entwurf" not in client_for(cast.anna).get(calendar_url(cast, status="scheduled")).content.decode()


def test_a_bad_date_or_view_falls_back_to_this_month(cast, frozen):
    page = client_for(cast.anna).get(calendar_url(cast, view="year", date="2026-13-45")).content.decode()
    assert 'class="cal-month"' in page and 'data-drop-date="2026-03-20"' in page


def test_the_benchmark_builds_a_plan_and_times_the_month_view(cast, frozen):
    deliveries = bench_calendar.populate(cast.workspace, 120, now=NOW)

    assert Post.objects.filter(workspace=cast.workspace).count() == 120
    assert 120 <= deliveries <= 360
    result = bench_calendar.measure(cast.alice, cast.workspace, 2)
    assert set(result) == {"queries", "p50_ms", "p95_ms"}
    assert result["queries"] < 20
