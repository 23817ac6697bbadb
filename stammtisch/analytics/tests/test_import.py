"""CSV import of XING figures: preview with every problem, all or nothing, English and German."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conftest import client_for
from stammtisch.analytics import imports
from stammtisch.analytics.actions import do_import_metrics_csv
from stammtisch.analytics.models import PostMetricSnapshot
from stammtisch.analytics.tests.conftest import NOON
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.models import Channel
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FIRST = "https://www.xing.com/discover/detail-activities/111.aaa"
SECOND = "https://www.xing.com/discover/detail-activities/222.bbb"
LATER = NOON + dt.timedelta(days=3)


def xing_post(cast, channel: Channel, text: str, remote_url: str) -> Delivery:
    post = do_create_post(Actor.system("test"), cast.workspace, text=text, channels=[channel])
    Delivery.objects.filter(post=post).update(
        state=Delivery.State.PUBLISHED, remote_id=remote_url, remote_url=remote_url, published_at=NOON
    )
    return Delivery.objects.get(post=post)


@pytest.fixture
def xing(cast):
    channel = Channel.objects.create(
        workspace=cast.workspace, network="xing", handle="pages/cafe-koenigsbau", display_name="Café auf XING"
    )
    return xing_post(cast, channel, "Frühstück ab 7", FIRST), xing_post(cast, channel, "Mittagstisch", SECOND)


GOOD_EN = (
    "url,date,time,impressions,likes,comments,shares,clicks\r\n"
    f"{FIRST},2026-06-02,09:30,1200,14,3,,5\r\n"
    f'{SECOND}/,2026-06-03,,"1,500",20,0,2,\r\n'
).encode()
GOOD_DE = (
    "\ufeffAdresse;Datum;Impressionen;Likes;Kommentare;Geteilt;Klicks\r\n"
    f"{FIRST.replace('https://www.', 'http://')};02.06.2026;1.200;14;3;;5\r\n"
).encode()
BAD = (
    "url,date,likes,comments\r\n"
    f"{FIRST},2026-06-02,14,3\r\n"
    "https://www.xing.com/discover/detail-activities/999.zzz,2026-06-02,1,1\r\n"
    f"{SECOND},2026-13-02,-4,x\r\n"
    f"{FIRST},2026-06-09,1,\r\n"
    f"{SECOND},2026-06-02,,\r\n"
).encode()


def upload(client, data: bytes, name: str = "xing.csv"):
    return client.post(
        reverse("analytics:import", args=["cafe-koenigsbau"]), {"file": SimpleUploadedFile(name, data)}, **EN
    )


def test_a_good_file_is_previewed_then_imported(cast, xing, frozen):
    frozen.move_to(LATER)
    first, second = xing
    bob = client_for(cast.bob)

    preview = upload(bob, GOOD_EN)

    assert preview.status_code == 200
    assert "Every row is fine" in preview.content.decode()
    assert not PostMetricSnapshot.objects.exists()  # a preview stores nothing
    token = preview.context["token"]
    assert token

    response = bob.post(reverse("analytics:import_confirm", args=["cafe-koenigsbau"]), {"token": token}, **EN)

    assert response.status_code == 302
    rows = {s.delivery_id: s for s in PostMetricSnapshot.objects.all()}
    assert set(rows) == {first.pk, second.pk}
    assert rows[first.pk].observed_at == dt.datetime(2026, 6, 2, 7, 30, tzinfo=dt.UTC)  # 09:30 in Berlin
    assert rows[second.pk].observed_at == dt.datetime(2026, 6, 2, 22, 0, tzinfo=dt.UTC)  # start of 3 June
    assert (rows[first.pk].impressions, rows[first.pk].likes, rows[first.pk].shares, rows[first.pk].clicks) == (
        1200,
        14,
        None,
        5,
    )
    assert (rows[second.pk].impressions, rows[second.pk].comments) == (1500, 0)
    assert {s.source for s in rows.values()} == {"import"}
    event = AuditEvent.objects.get(action="metrics.import_csv")
    assert (event.actor, event.data["rows"], event.data["token"]) == (cast.bob, 2, token)

    # A second click on "Import" imports nothing more.
    again = bob.post(reverse("analytics:import_confirm", args=["cafe-koenigsbau"]), {"token": token}, **EN)
    assert again.status_code == 302
    assert PostMetricSnapshot.objects.count() == 2


def test_a_german_excel_file_is_read(cast, xing, frozen):
    frozen.move_to(LATER)

    preview = imports.read_metrics_csv(cast.workspace, GOOD_DE)

    assert preview.ok and preview.delimiter == ";"
    [row] = preview.rows
    assert row.delivery == xing[0]
    assert row.values == {"impressions": 1200, "likes": 14, "comments": 3, "shares": None, "clicks": 5}


def test_a_file_with_bad_rows_lists_every_problem_and_imports_nothing(cast, xing, frozen):
    frozen.move_to(LATER)
    bob = client_for(cast.bob)

    preview = upload(bob, BAD)

    page = preview.content.decode()
    assert preview.status_code == 200
    assert "Nothing can be imported yet: 4 rows have problems" in page
    assert preview.context["token"] == ""
    problems = {(p.row, p.column) for p in preview.context["preview"].problems}
    assert problems == {
        (3, "url"),  # no such post
        (4, "date"),  # month 13
        (4, "likes"),  # negative
        (4, "comments"),  # not a number
        (5, "date"),  # in the future
        (6, ""),  # no figures
    }
    assert not PostMetricSnapshot.objects.exists()
    # Even straight through the action, one bad row stops the whole file.
    with pytest.raises(ActionError):
        do_import_metrics_csv(Actor(user=cast.bob), cast.workspace, BAD)
    assert not PostMetricSnapshot.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.import_csv").exists()


def test_the_same_post_and_time_twice_in_one_file_is_a_problem(cast, xing, frozen):
    frozen.move_to(LATER)
    data = f"url,date,likes\n{FIRST},2026-06-02,1\n{FIRST},02.06.2026,2\n".encode()

    preview = imports.read_metrics_csv(cast.workspace, data)

    assert [(p.row, p.column) for p in preview.problems] == [(3, "date")]


def test_files_that_cannot_be_read_are_refused_as_a_whole(cast, xing, frozen):
    with pytest.raises(ActionError, match="needs a “url” column"):
        imports.read_metrics_csv(cast.workspace, b"text,date,likes\nx,2026-06-02,1\n")
    with pytest.raises(ActionError, match="no column of figures"):
        imports.read_metrics_csv(cast.workspace, f"url,date\n{FIRST},2026-06-02\n".encode())


def test_posts_of_other_workspaces_and_networks_do_not_match(cast, xing, frozen):
    frozen.move_to(LATER)
    theirs = Channel.objects.create(
        workspace=cast.other_workspace, network="xing", handle="pages/chili", display_name="Chili"
    )
    post = do_create_post(Actor.system("t"), cast.other_workspace, text="Scharf", channels=[theirs])
    url = "https://www.xing.com/discover/detail-activities/333.ccc"
    Delivery.objects.filter(post=post).update(
        state=Delivery.State.PUBLISHED, remote_id=url, remote_url=url, published_at=NOON
    )

    preview = imports.read_metrics_csv(cast.workspace, f"url,date,likes\n{url},2026-06-02,1\n".encode())

    assert [(p.row, p.column) for p in preview.problems] == [(2, "url")]


def test_only_editors_and_above_import(cast, xing):
    page = reverse("analytics:import", args=["cafe-koenigsbau"])
    assert client_for(cast.anna).get(page).status_code == 403
    assert upload(client_for(cast.anna), GOOD_EN).status_code == 403
    assert client_for(cast.charlie).get(page).status_code == 404
    assert client_for(cast.bob).get(page, **EN).status_code == 200


def test_the_template_lists_the_workspaces_xing_posts(cast, xing, frozen):
    frozen.move_to(LATER)
    response = client_for(cast.bob).get(reverse("analytics:import_template", args=["cafe-koenigsbau"]) + "?lang=de")

    body = response.content.decode("utf-8-sig")
    assert body.splitlines()[0] == "Adresse;Datum;Impressionen;Likes;Kommentare;Geteilt;Klicks"
    assert f"{FIRST};04.06.2026;;;;;" in body and SECOND in body
    # The file as downloaded is a valid import once filled in.
    filled = body.replace(f"{FIRST};04.06.2026;;;;;", f"{FIRST};04.06.2026;10;2;;;").encode("utf-8")
    filled = "\n".join(line for line in filled.decode().splitlines() if SECOND not in line).encode()
    assert imports.read_metrics_csv(cast.workspace, filled).ok


def test_counts_with_thousands_separators():
    assert imports.parse_count("1.234.567") == 1234567
    assert imports.parse_count("1,234") == 1234
    assert imports.parse_count("1 234") == 1234
    assert imports.parse_count("12") == 12
    assert imports.parse_count("12,5") is None
    assert imports.parse_count("-1") is None
    assert imports.parse_count("1.23") is None
