from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.audience import consume
from stammtisch.audience.models import Identity, Person
from stammtisch.audience.tests.conftest import answer, message
from stammtisch.core.models import AuditEvent
from stammtisch.inbox.models import Conversation

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _people(cast, channel) -> tuple[Person, Person]:  # type: ignore[no-untyped-def]
    now = timezone.now()
    asked = message(channel, text="Wo parke ich? <script>alert(1)</script>", intent="question", at=now, root="post-9")
    message(channel, author_id="u-eva", handle="eva", name="Eva", text="Toll!", at=now, root="post-8")
    thanked = message(channel, author_id="u-eva", handle="eva", name="Eva", text="Frage?", intent="question", at=now)
    answer(channel, thanked)
    Conversation.objects.filter(root_remote_id="post-1").update(first_response_at=now)
    Conversation.objects.filter(root_remote_id="post-9").update(incoming_count=1)
    consume.consume(now)
    assert asked
    return Person.objects.get(display_name="Max Mustermann"), Person.objects.get(display_name="Eva")


def test_the_list_filters_and_shows_open_feedback(cast, channel) -> None:
    _people(cast, channel)
    url = reverse("audience:list", args=[cast.workspace.slug])
    client = _client(cast.anna)
    page = client.get(url, **EN)
    assert page.status_code == 200
    assert "Max Mustermann" in page.content.decode() and "Eva" in page.content.decode()
    only_eva = client.get(url, {"q": "@eva"}, **EN).content.decode()
    assert "Eva" in only_eva and "Max Mustermann" not in only_eva
    assert "Max Mustermann" not in client.get(url, {"min_score": "5"}, **EN).content.decode()
    assert "Eva" in client.get(url, {"min_score": "5", "network": "sandbox", "seen": "7"}, **EN).content.decode()
    assert "Eva" not in client.get(url, {"seen": "old"}, **EN).content.decode()
    open_feedback = client.get(url, {"show": "open_feedback"}, **EN).content.decode()
    assert "Max Mustermann" in open_feedback and ">Eva<" not in open_feedback
    assert client.get(url, {"stage": "bogus", "min_score": "x"}, **EN).status_code == 200


def test_the_profile_shows_history_escaped_and_the_explanation(cast, channel) -> None:
    max_, _eva = _people(cast, channel)
    page = _client(cast.carol).get(reverse("audience:person", args=[cast.workspace.slug, max_.pk]), **EN)
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "commented 1 time in the last 30 days." in html
    assert 'action="/w/cafe-koenigsbau/people/' not in html  # a reviewer gets no forms
    assert "Export" not in html


def test_bob_tags_and_notes_a_person(cast, channel) -> None:
    max_, _eva = _people(cast, channel)
    url = reverse("audience:edit", args=[cast.workspace.slug, max_.pk])
    response = _client(cast.bob).post(
        url, {"display_name": "Max", "consent": "given", "tags": "Stammgast, vegan, stammgast", "notes": "Mag Kuchen"}
    )
    assert response.status_code == 302
    max_.refresh_from_db()
    assert sorted(t.name for t in max_.tags.all()) == ["Stammgast", "vegan"]
    assert max_.notes == "Mag Kuchen" and max_.consent == "given"
    filtered = _client(cast.bob).get(reverse("audience:list", args=[cast.workspace.slug]), {"tag": "vegan"})
    assert "Max" in filtered.content.decode() and "Eva" not in filtered.content.decode()
    assert _client(cast.anna).post(url, {"display_name": "X", "consent": "given"}).status_code == 403


def test_charlie_sees_nobody_of_alice(cast, channel) -> None:
    max_, _eva = _people(cast, channel)
    charlie = _client(cast.charlie)
    assert charlie.get(reverse("audience:person", args=[cast.workspace.slug, max_.pk])).status_code == 404
    assert charlie.get(reverse("audience:person", args=[cast.other_workspace.slug, max_.pk])).status_code == 404
    assert charlie.get(reverse("audience:export_json", args=[cast.other_workspace.slug, max_.pk])).status_code == 404


def test_merging_with_a_person_of_another_workspace_is_not_found(cast, channel) -> None:
    max_, _eva = _people(cast, channel)
    theirs = Person.objects.create(workspace=cast.other_workspace, display_name="Chili fan")
    response = _client(cast.alice).post(
        reverse("audience:merge", args=[cast.workspace.slug, max_.pk]), {"other": theirs.pk}, **EN
    )
    assert response.status_code == 400
    assert "There is no person with this number here." in response.content.decode()
    assert Person.objects.filter(pk=theirs.pk, workspace=cast.other_workspace).exists()


def test_alice_exports_and_erases_in_the_browser(cast, channel) -> None:
    max_, _eva = _people(cast, channel)
    alice = _client(cast.alice)
    exported = alice.get(reverse("audience:export_json", args=[cast.workspace.slug, max_.pk]))
    assert exported.json()["identities"][0]["handle"] == "maxi"
    page = alice.get(reverse("audience:export_html", args=[cast.workspace.slug, max_.pk]), **EN)
    assert "Wo parke ich?" in page.content.decode()
    assert (
        _client(cast.bob).get(reverse("audience:export_json", args=[cast.workspace.slug, max_.pk])).status_code == 403
    )
    erase = reverse("audience:erase", args=[cast.workspace.slug, max_.pk])
    assert alice.post(erase).status_code == 302
    assert alice.post(erase).status_code == 302
    assert not Identity.objects.filter(handle="maxi").exists()
    assert AuditEvent.objects.filter(action="person.export").count() == 2
    listing = alice.get(reverse("audience:list", args=[cast.workspace.slug])).content.decode()
    assert "maxi" not in listing and "Max Mustermann" not in listing


def test_bob_adds_a_person_and_imports_a_file(cast) -> None:
    bob = _client(cast.bob)
    response = bob.post(
        reverse("audience:new", args=[cast.workspace.slug]),
        {"display_name": "Frau Berger", "consent": "unknown", "network": "instagram", "handle": "@berger"},
    )
    assert response.status_code == 302
    assert Identity.objects.get().remote_id == "@berger"
    url = reverse("audience:import", args=[cast.workspace.slug])
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", b"name,email\nTom,tom@example.org\n", content_type="text/csv")
    preview = bob.post(url, {"file": upload}, **EN)
    assert preview.status_code == 200 and "Import 1 person" in preview.content.decode()
    assert Person.objects.count() == 1
    token = preview.context["token"]
    assert bob.post(url, {"token": token}).status_code == 302
    assert Person.objects.filter(display_name="Tom", email="tom@example.org").exists()


def test_the_retention_setting_is_for_managers(cast) -> None:
    url = reverse("audience:settings", args=[cast.workspace.slug])
    assert _client(cast.bob).get(url).status_code == 403
    assert _client(cast.alice).post(url, {"retention_months": "12"}).status_code == 302
    assert cast.workspace.audience_settings.retention_months == 12
