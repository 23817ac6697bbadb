"""CSV import: upload, preview with every problem of every row, confirm all or nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing import imports
from stammtisch.publishing.models import Delivery, Post, QueueSlot

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(TODAY, tick=True):
        yield


@pytest.fixture
def channels(cast) -> dict[str, Channel]:  # type: ignore[no-untyped-def]
    return {
        "x": Channel.objects.create(
            workspace=cast.workspace,
            network="sandbox",
            handle="koenigsbau_x",
            display_name="Königsbau X",
            stands_in_for="x",
        ),
        "linkedin": Channel.objects.create(
            workspace=cast.workspace,
            network="sandbox",
            handle="koenigsbau",
            display_name="Königsbau LinkedIn",
            stands_in_for="linkedin",
        ),
    }


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(cast, name: str = "import") -> str:  # type: ignore[no-untyped-def]
    return reverse(f"publishing:{name}", kwargs={"slug": cast.workspace.slug})


def upload(client: Client, cast, content: bytes, *, undated: str = "draft", name: str = "posts.csv") -> Any:  # type: ignore[no-untyped-def]
    return client.post(
        url(cast),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "undated": undated},
        HTTP_ACCEPT_LANGUAGE="en",
    )


GOOD = (
    "text,date,time,channels,link,pillar,purpose,first_comment,text_x\n"
    '"Sommer am Schlossplatz: Eiskaffee ab heute! #stuttgart",2026-07-01,09:00,koenigsbau_x; koenigsbau,'
    "cafe-koenigsbau.de/sommer,Saison,promotion,Mehr dazu im Blog,Eiskaffee ab heute! #stuttgart\n"
    '"Plätzchen-Zeit: unser Adventsmenü",01.12.2026,09:00,Königsbau LinkedIn,,Saison,value,,\n'
    '"Ein Entwurf für später",,,koenigsbau,,,,,\n'
)


def test_a_good_csv_imports_every_post_with_utc_times_for_berlin(cast, channels) -> None:
    bob = client_for(cast.bob)
    preview = upload(bob, cast, GOOD.encode())
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Every row is fine" in page and "Import 3 posts" in page
    assert not Post.objects.exists()  # the preview stores no post

    response = bob.post(url(cast, "import_confirm"), {"token": preview.context["token"]}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"].endswith("/calendar/?view=list&date=2026-07-01")

    summer, advent, draft = Post.objects.order_by("pk")
    assert summer.scheduled_at == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)  # CEST, UTC+2
    assert advent.scheduled_at == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # CET, UTC+1
    assert draft.scheduled_at is None and draft.status == Post.Status.DRAFT
    assert {post.source for post in (summer, advent, draft)} == {Post.Source.CSV}
    assert summer.status == Post.Status.SCHEDULED
    assert summer.link == "https://cafe-koenigsbau.de/sommer"
    assert (summer.pillar, summer.purpose, summer.first_comment) == ("Saison", "promotion", "Mehr dazu im Blog")
    texts = {d.channel_id: d.text for d in Delivery.objects.filter(post=summer)}
    assert texts == {
        channels["x"].pk: "Eiskaffee ab heute! #stuttgart",
        channels["linkedin"].pk: "Sommer am Schlossplatz: Eiskaffee ab heute! #stuttgart",
    }
    assert list(Delivery.objects.filter(post=advent).values_list("channel_id", flat=True)) == [channels["linkedin"].pk]
    event = AuditEvent.objects.get(action="post.import_csv")
    assert event.actor == cast.bob
    assert (event.data["rows"], event.data["scheduled"], event.data["drafts"]) == (3, 2, 1)
    assert AuditEvent.objects.filter(action__in=["post.schedule", "post.create_draft"]).count() == 3


def test_semicolons_windows_1252_and_german_dates(cast, channels) -> None:
    content = (
        "Text;Datum;Uhrzeit;Kanäle;Säule;Zweck;Erster Kommentar\r\n"
        "Grüße vom Schlossplatz \u2013 heute mit Käsekuchen!;24.12.2026;10:30;"
        "Königsbau LinkedIn;Saison;Werbung;Frohe Weihnachten\r\n"
        "Öffnungszeiten zwischen den Jahren;28.12.2026;08:15;koenigsbau;;Wert;\r\n"
    ).encode("cp1252")
    preview = imports.read_csv(cast.workspace, content)
    assert (preview.encoding, preview.delimiter, preview.problems) == ("Windows-1252", ";", [])

    posts = imports.do_import_csv(Actor(user=cast.alice), cast.workspace, content, filename="Plan.csv")
    assert [post.text for post in posts] == [
        "Grüße vom Schlossplatz \u2013 heute mit Käsekuchen!",
        "Öffnungszeiten zwischen den Jahren",
    ]
    assert posts[0].scheduled_at == dt.datetime(2026, 12, 24, 9, 30, tzinfo=dt.UTC)
    assert posts[1].scheduled_at == dt.datetime(2026, 12, 28, 7, 15, tzinfo=dt.UTC)
    assert (posts[0].purpose, posts[1].purpose) == ("promotion", "value")
    assert posts[0].first_comment == "Frohe Weihnachten"


def test_utf8_with_a_bom_from_excel(cast, channels) -> None:
    content = "\ufeffText;Datum;Uhrzeit;Kanäle\r\nMüsli-Bowl im Angebot;2026-08-03;07:45;koenigsbau\r\n".encode()
    preview = imports.read_csv(cast.workspace, content)
    assert preview.ok and preview.encoding == "UTF-8"
    assert preview.rows[0].scheduled_at == dt.datetime(2026, 8, 3, 5, 45, tzinfo=dt.UTC)


def test_a_file_with_three_bad_rows_imports_nothing_and_lists_all_three(cast, channels) -> None:
    content = (
        b"text,date,time,channels\n"
        b"Alles gut hier,2026-07-01,09:00,koenigsbau\n"
        b"Falscher Kanal,2026-07-02,09:00,koenigsbau_instagram\n"
        b"Falsches Datum,31.02.2026,09:00,koenigsbau\n"
        b",2026-07-04,09:00,koenigsbau\n"
    )
    response = upload(client_for(cast.bob), cast, content)
    page = response.content.decode()
    assert "3 rows have problems" in page
    assert "Row 3</strong>, column “channels”: There is no channel “koenigsbau_instagram” in this workspace." in page
    assert "Row 4</strong>, column “date”: “31.02.2026” is not a date" in page
    assert "Row 5</strong>, column “text”: The text is missing." in page
    assert "Row 2</strong>" not in page
    assert response.context["token"] == ""  # nothing to confirm
    assert 'name="token"' not in page

    with pytest.raises(ActionError, match="problems in 3 rows; nothing was imported"):
        imports.do_import_csv(Actor(user=cast.bob), cast.workspace, content)
    assert not Post.objects.exists()
    assert not AuditEvent.objects.filter(action="post.import_csv").exists()


def test_an_oversized_file_is_refused(cast, channels) -> None:
    content = b"text\n" + b"x" * imports.MAX_BYTES
    response = upload(client_for(cast.bob), cast, content)
    assert response.status_code == 400
    assert "The file is larger than 5 MB." in response.content.decode()


def test_too_many_rows_are_refused(cast, channels, monkeypatch) -> None:
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    content = ("text\n" + "".join(f"Entwurf {n}\n" for n in range(4))).encode()
    with pytest.raises(ActionError, match="The file has 4 rows; at most 3 can be imported"):
        imports.read_csv(cast.workspace, content)


def test_a_row_over_xs_limit_is_listed(cast, channels) -> None:
    long = "Frische Brezeln " * 20  # 320 characters
    content = (
        "text,date,time,channels,text_x\n"
        f"{long},2026-07-01,09:00,koenigsbau_x,\n"
        f"{long},2026-07-01,10:00,koenigsbau_x,Kurz für X\n"
        f"{long},2026-07-01,11:00,koenigsbau_x; koenigsbau,{long}\n"
    ).encode()
    preview = imports.read_csv(cast.workspace, content)
    assert [(p.row, p.column) for p in preview.problems] == [(2, "text"), (4, "text_x")]
    assert "Königsbau X" in preview.problems[0].message and "280" in preview.problems[0].message


def test_dst_gaps_overlaps_and_past_times_are_named(cast, channels) -> None:
    content = (
        "text,date,time,channels\n"
        "Frühling,2027-03-28,02:30,koenigsbau\n"
        "Herbst,2027-10-31,02:30,koenigsbau\n"
        "Gestern,2026-05-31,09:00,koenigsbau\n"
        "Ohne Uhrzeit,2026-07-01,,koenigsbau\n"
        "Uhrzeit falsch,2026-07-01,9 Uhr,koenigsbau\n"
    ).encode()
    preview = imports.read_csv(cast.workspace, content)
    messages = {(p.row, p.column): p.message for p in preview.problems}
    assert "does not exist in Europe/Berlin" in messages[(2, "time")]
    assert "occurs twice in Europe/Berlin" in messages[(3, "time")]
    assert "This time has passed" in messages[(4, "date")]
    assert "The time is missing" in messages[(5, "time")]
    assert "is not a time" in messages[(6, "time")]


def test_an_ambiguous_handle_asks_for_the_network(cast, channels) -> None:
    Channel.objects.create(workspace=cast.workspace, network="mastodon", handle="koenigsbau", display_name="Mastodon")
    content = b"text,channels\nHallo,koenigsbau\nHallo,mastodon:koenigsbau\n"
    preview = imports.read_csv(cast.workspace, content)
    [problem] = preview.problems
    assert problem.row == 2 and "matches 2 channels" in problem.message and "mastodon:koenigsbau" in problem.message


def test_rows_without_a_date_can_go_into_the_queue(cast, channels) -> None:
    for weekday in range(7):
        QueueSlot.objects.create(channel=channels["linkedin"], weekday=weekday, time=dt.time(11, 0))
    content = b"text,channels\nIn die Warteschlange,koenigsbau\nAuch hier,koenigsbau_x\n"
    preview = imports.read_csv(cast.workspace, content, queue=True)
    [problem] = preview.problems
    assert problem.row == 3 and "Königsbau X has no queue times" in problem.message

    content = b"text,channels\nIn die Warteschlange,koenigsbau\n"
    [post] = imports.do_import_csv(Actor(user=cast.bob), cast.workspace, content, queue=True)
    post.refresh_from_db()
    assert post.status == Post.Status.SCHEDULED
    # 11:00 in Berlin, tomorrow: it is 12:00 in Berlin now, today's slot has passed.
    assert post.scheduled_at == dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC)


def test_the_import_is_all_or_nothing_even_when_a_write_fails(cast, channels, monkeypatch) -> None:
    real = imports.do_create_post
    calls = []

    def failing_third(*args: Any, **kwargs: Any) -> Post:
        calls.append(1)
        if len(calls) == 3:
            raise ActionError("the database said no")
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "do_create_post", failing_third)
    with pytest.raises(ActionError, match="the database said no"):
        imports.do_import_csv(Actor(user=cast.bob), cast.workspace, GOOD.encode())
    assert not Post.objects.exists()
    assert not Delivery.objects.exists()


def test_confirm_with_a_tampered_or_foreign_token_is_refused(cast, channels) -> None:
    alice = client_for(cast.alice)
    token = upload(alice, cast, GOOD.encode()).context["token"]
    assert len(token) == 32
    confirm = url(cast, "import_confirm")

    for who, value in [
        (client_for(cast.bob), token),  # a colleague cannot confirm alice's file
        (alice, token[:-1] + ("0" if token[-1] != "0" else "1")),  # tampered
        (alice, "../" + token),
        (alice, ""),
    ]:
        response = who.post(confirm, {"token": value}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
        assert "This preview has expired or does not belong to you" in response.content.decode()
    charlie = client_for(cast.charlie)
    assert charlie.post(confirm, {"token": token}).status_code == 404
    own = reverse("publishing:import_confirm", kwargs={"slug": cast.other_workspace.slug})
    charlie.post(own, {"token": token})
    assert not Post.objects.exists()

    assert alice.post(confirm, {"token": token}).status_code == 302
    assert Post.objects.count() == 3
    again = alice.post(confirm, {"token": token}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "This preview has expired" in again.content.decode()
    assert Post.objects.count() == 3  # a second click imports nothing twice


def test_a_token_can_be_used_only_once_even_if_the_file_remained(cast, channels) -> None:
    token = imports.store_upload(cast.workspace, cast.bob.pk, GOOD.encode(), filename="a.csv", queue=False)
    imports.do_import_csv(Actor(user=cast.bob), cast.workspace, GOOD.encode(), token=token)
    with pytest.raises(ActionError, match="imported already"):
        imports.do_import_csv(Actor(user=cast.bob), cast.workspace, GOOD.encode(), token=token)
    assert Post.objects.count() == 3


def test_the_file_is_checked_again_when_confirmed(cast, channels) -> None:
    bob = client_for(cast.bob)
    token = upload(bob, cast, b"text,date,time,channels\nBald,2026-06-01,12:30,koenigsbau\n").context["token"]
    with time_machine.travel(dt.datetime(2026, 6, 1, 11, 0, tzinfo=dt.UTC)):  # 13:00 in Berlin
        response = bob.post(url(cast, "import_confirm"), {"token": token}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    page = response.content.decode()
    assert "nothing was imported" in page and "This time has passed" in page
    assert not Post.objects.exists()


def test_the_templates_import_as_they_are(cast, channels) -> None:
    bob = client_for(cast.bob)
    for language, delimiter in (("de", ";"), ("en", ",")):
        response = bob.get(url(cast, "import_template") + f"?lang={language}")
        assert response["Content-Disposition"].startswith("attachment;")
        body = response.content
        preview = imports.read_csv(cast.workspace, body)
        assert preview.delimiter == delimiter
        assert preview.problems == [] and len(preview.rows) == 2
        assert preview.rows[0].variants == {channels["x"].pk: preview.rows[0].variants[channels["x"].pk]}
    assert body.startswith(b"text,date,time,channels")


def test_only_editors_import(cast, channels) -> None:
    assert client_for(cast.anna).get(url(cast)).status_code == 403
    assert client_for(cast.carol).get(url(cast)).status_code == 403
    assert client_for(cast.charlie).get(url(cast)).status_code == 404
    page = client_for(cast.bob).get(url(cast), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Import posts from a CSV file" in page and "Template (German, for Excel)" in page


def test_a_file_that_is_not_csv_text_gets_a_clear_message(cast, channels) -> None:
    response = upload(client_for(cast.bob), cast, b"\x89PNG\r\n\x1a\n\x00\x81\x8d\x8f\x90\x9d")
    assert response.status_code == 400
    assert "neither UTF-8 nor Windows-1252" in response.content.decode()
    response = upload(client_for(cast.bob), cast, b"name,age\nAnna,3\n")
    assert "no “text” column" in response.content.decode()
