"""The people list counts at most `COUNT_LIMIT` people (docs/people.md "Pages")."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from stammtisch.audience import views
from stammtisch.audience.models import Person

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _list(cast, query: dict[str, str] | None = None) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(cast.anna)
    response = client.get(reverse("audience:list", args=[cast.workspace.slug]), query or {}, **EN)
    assert response.status_code == 200
    return response.content.decode()


def test_below_the_limit_it_shows_the_exact_count(cast, monkeypatch) -> None:
    monkeypatch.setattr(views, "COUNT_LIMIT", 5)
    Person.objects.bulk_create(Person(workspace=cast.workspace, display_name=f"Gast {n}") for n in range(5))

    html = _list(cast)

    assert "5 people" in html
    assert "More than" not in html


def test_above_the_limit_it_says_so_and_pages_through_the_highest_scores(cast, monkeypatch) -> None:
    monkeypatch.setattr(views, "COUNT_LIMIT", 4)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    Person.objects.bulk_create(
        Person(workspace=cast.workspace, display_name=f"Gast {n}", score=float(n)) for n in range(1, 8)
    )
    Person.objects.create(workspace=cast.other_workspace, display_name="Charlie's regular", score=99.0)

    first = _list(cast)
    last = _list(cast, {"page": "9"})  # beyond the counted people: the last page of them

    assert "More than 4 people" in first
    assert "Gast 7" in first and "Gast 6" in first and "Gast 5" not in first
    assert "Page 1 of 2" in first
    assert "Gast 5" in last and "Gast 4" in last and "Gast 3" not in last
    assert "Charlie" not in first + last
