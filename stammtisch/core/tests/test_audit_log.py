"""The audit log (core:audit): every write, readable by owners and admins only."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.urls import reverse

from stammtisch.core.actions import Actor, audit
from stammtisch.core.tests.clients import english_client


def audit_url(cast, **query: str) -> str:
    url = reverse("core:audit", kwargs={"slug": cast.workspace.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_it_shows_the_log_to_an_admin_in_the_workspace_time_zone(cast) -> None:
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 30, tzinfo=dt.UTC), tick=False):
        audit(
            Actor(user=cast.alice, ip="203.0.113.9", label="alice"),
            "workspace.update",
            workspace=cast.workspace,
            summary="name",
        )
    cast.workspace.time_zone = "America/New_York"
    cast.workspace.save()
    response = english_client(cast.adam).get(audit_url(cast))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Settings changed" in text
    assert "alice" in text
    assert "203.0.113.9" in text
    assert "06:30" in text  # 10:30 UTC is 06:30 in New York in July
    assert "America/New_York" in text


def test_it_hides_the_log_from_an_editor_and_from_outsiders(cast) -> None:
    assert english_client(cast.bob).get(audit_url(cast)).status_code == 403
    assert english_client(cast.anna).get(audit_url(cast)).status_code == 403
    assert english_client(cast.charlie).get(audit_url(cast)).status_code == 404


def test_it_filters_by_action_and_member(cast) -> None:
    audit(
        Actor(user=cast.alice, label="alice"),
        "workspace.update",
        workspace=cast.workspace,
        summary="by-alice",
    )
    audit(
        Actor(user=cast.adam, label="adam"),
        "member.remove",
        workspace=cast.workspace,
        summary="by-adam",
    )
    audit(
        Actor(user=cast.charlie, label="charlie"),
        "workspace.update",
        workspace=cast.other_workspace,
        summary="elsewhere",
    )
    client = english_client(cast.alice)

    everything = client.get(audit_url(cast)).content.decode()
    assert "by-alice" in everything and "by-adam" in everything
    assert "elsewhere" not in everything

    by_action = client.get(audit_url(cast, action="member.remove")).content.decode()
    assert "by-adam" in by_action and "by-alice" not in by_action

    by_member = client.get(audit_url(cast, actor=str(cast.alice.pk))).content.decode()
    assert "by-alice" in by_member and "by-adam" not in by_member


def test_it_survives_nonsense_filters_and_pages(cast) -> None:
    audit(
        Actor(user=cast.alice, label="alice"),
        "workspace.update",
        workspace=cast.workspace,
        summary="kept",
    )
    client = english_client(cast.alice)
    for query in (
        {"actor": "abc"},
        {"action": "<script>"},
        {"page": "999"},
        {"page": "-1"},
        {"actor": str(cast.charlie.pk)},
    ):
        response = client.get(audit_url(cast, **query))
        assert response.status_code == 200, query
        assert "kept" in response.content.decode()


def test_it_pages_through_many_events(cast) -> None:
    for n in range(120):
        audit(
            Actor(user=cast.alice, label="alice"),
            "workspace.update",
            workspace=cast.workspace,
            summary=f"event-{n:03d}",
        )
    client = english_client(cast.alice)
    first = client.get(audit_url(cast)).content.decode()
    assert "Page 1 of 3" in first
    last = client.get(audit_url(cast, page="3")).content.decode()
    assert "event-000" in last and "event-119" not in last
