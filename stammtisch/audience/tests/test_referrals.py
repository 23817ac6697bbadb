"""Referrals: a person's referral link and personal code, the clicks and conversions they bring,
their place in the loyalty score, and what erasure leaves of them."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client

from stammtisch.audience import actions
from stammtisch.audience.models import ConversionContact, Engagement, Kind, Person, Referral
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.links import conversions, spool, tracking
from stammtisch.links.actions import conversion_secret, settings_for
from stammtisch.links.models import Click, Conversion, ShortLink
from stammtisch.networks.models import Channel

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture(autouse=True)
def _spool(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Clicks spool into a directory of the test's own; links are not remembered across tests."""
    tracking.forget_all()
    tracking.forget_salt()
    settings.CLICK_SPOOL_DIR = tmp_path / "clicks"
    yield
    spool.WRITER.close()


@pytest.fixture
def anna_regular(cast) -> Person:
    return actions.do_add_person(Actor(user=cast.bob), cast.workspace, display_name="Anna Schäfer", email="anna@ex.org")


def visit(link: ShortLink, *, qr: bool = False, user_agent: str = BROWSER_UA, ip: str = "203.0.113.5") -> str:
    """A visit of the short link through the redirector; returns the click token (stm_click)."""
    response = Client().get(f"/l/{link.code}" + ("?qr=1" if qr else ""), HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    assert response.status_code == 302
    spool.import_spool()
    return response["Location"].split("stm_click=")[1]


def report(workspace: Any, body: dict[str, Any]) -> Any:
    """A signed conversion report from the website's server."""
    link_settings = settings_for(workspace)
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    signature = conversions.sign(conversion_secret(link_settings), timestamp, raw)
    return Client().post(
        f"/c/{link_settings.site_key}/conversions",
        raw,
        content_type="application/json",
        HTTP_X_STAMMTISCH_TIMESTAMP=timestamp,
        HTTP_X_STAMMTISCH_SIGNATURE=signature,
    )


def test_bob_makes_a_referral_link_to_the_website(cast, anna_regular) -> None:
    referral = actions.do_create_referral(
        Actor(user=cast.bob), anna_regular, target_kind="website", target="https://cafe.example/reservieren"
    )
    assert referral.person == anna_regular and referral.code.startswith("ANNA") and len(referral.code) == 8
    link = referral.link
    assert link.workspace == cast.workspace and link.target == "https://cafe.example/reservieren"
    assert "Anna" not in link.title and str(anna_regular.pk) in link.title  # by number only
    assert "utm_source=referral" in link.destination
    entry = AuditEvent.objects.get(action="referral.create")
    assert entry.data["referral"] == referral.pk and "Anna" not in json.dumps(entry.data)
    assert AuditEvent.objects.filter(action="link.create").exists()  # made by the links app


def test_a_referral_link_can_lead_to_a_channels_profile_or_the_bio_page(cast, anna_regular) -> None:
    channel = Channel.objects.create(
        workspace=cast.workspace, network="bluesky", handle="koenigsbau.bsky.social", display_name="Königsbau"
    )
    to_channel = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="channel", channel=channel)
    assert to_channel.link.target == "https://bsky.app/profile/koenigsbau.bsky.social"
    assert to_channel.channel == channel
    to_bio = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    assert to_bio.link.target.endswith("/bio/cafe-koenigsbau/")
    assert to_bio.code != to_channel.code


def test_bad_referral_requests_are_refused(cast, anna_regular) -> None:
    foreign = Channel.objects.create(workspace=cast.other_workspace, network="x", handle="chili", display_name="x")
    with pytest.raises(ActionError):
        actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="channel", channel=foreign)
    with pytest.raises(ActionError):
        actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="website", target="javascript:1")
    with pytest.raises(PermissionDenied):
        actions.do_create_referral(Actor(user=cast.anna), anna_regular, target_kind="bio")
    assert not Referral.objects.exists() and not ShortLink.objects.exists()


def test_clicks_and_conversions_through_the_link_count_for_the_person(cast, anna_regular) -> None:
    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    token = visit(referral.link)
    visit(referral.link, qr=True, ip="198.51.100.7")
    visit(referral.link, user_agent="Googlebot/2.1", ip="66.249.66.1")  # a bot: stored, never counted
    assert Click.objects.filter(link=referral.link).count() == 3

    response = report(cast.workspace, {"kind": "purchase", "value": "23.50", "currency": "EUR", "click": token})
    assert response.status_code == 201 and response.json()["link"] == referral.link_id
    contact = ConversionContact.objects.get()
    assert contact.referral == referral and contact.email_hash == ""

    anna_regular.refresh_from_db()
    engagement = Engagement.objects.get(person=anna_regular)
    assert (engagement.kind, engagement.weight, engagement.source) == (Kind.REFERRAL, 5.0, "conversion")
    assert anna_regular.counts == {"referral": 1} and anna_regular.score == pytest.approx(5.0)
    assert anna_regular.last_seen is None  # someone else's purchase: not Anna being active

    client = english_client(cast.anna)  # the analyst reads the figures
    page = client.get(f"/w/cafe-koenigsbau/people/{anna_regular.pk}/").content.decode()
    assert referral.code in page and "2 clicks (1 by QR code)" in page and "1 conversion (23.50 EUR)" in page
    listing = client.get("/w/cafe-koenigsbau/people/referrals/").content.decode()
    assert f'data-recommender="{anna_regular.pk}"' in listing and "23.50 EUR" in listing


def test_the_personal_code_in_a_report_credits_the_person(cast, anna_regular) -> None:
    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    typed = f"{referral.code[:4].lower()}-{referral.code[4:]}"  # as a guest types it
    assert report(cast.workspace, {"kind": "reservation", "referral": typed, "id": "r-1"}).status_code == 201
    assert report(cast.workspace, {"kind": "reservation", "referral": typed, "id": "r-1"}).status_code == 201  # retry
    assert ConversionContact.objects.get().referral == referral
    assert Engagement.objects.filter(person=anna_regular, kind=Kind.REFERRAL).count() == 1


def test_a_referral_code_of_another_workspace_credits_nobody(cast, anna_regular) -> None:
    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    assert report(cast.other_workspace, {"kind": "reservation", "referral": referral.code}).status_code == 201
    conversion = Conversion.objects.get()
    assert conversion.workspace == cast.other_workspace
    assert not ConversionContact.objects.exists() and not Engagement.objects.exists()


def test_two_referral_conversions_make_an_advocate_of_a_fan(cast, anna_regular) -> None:
    from stammtisch.audience import consume
    from stammtisch.audience.models import Stage

    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    anna_regular.score, anna_regular.score_at = 20.0, None
    consume.save_people([anna_regular], anna_regular.created_at)
    for number in range(2):
        report(cast.workspace, {"kind": "reservation", "referral": referral.code, "id": f"r-{number}"})
    anna_regular.refresh_from_db()
    assert anna_regular.counts == {"referral": 2}
    assert anna_regular.stage == Stage.ADVOCATE  # score 30, two spreads of the word


def test_a_bad_email_or_referral_in_a_report_gets_400(cast) -> None:
    assert report(cast.workspace, {"kind": "signup", "email": "not an address"}).status_code == 400
    assert report(cast.workspace, {"kind": "signup", "referral": ["x"]}).status_code == 400
    assert not Conversion.objects.exists()


def test_the_email_of_a_conversion_is_kept_only_as_a_hash(cast, anna_regular) -> None:
    assert report(cast.workspace, {"kind": "signup", "email": " Anna@Ex.org "}).status_code == 201
    contact = ConversionContact.objects.get()
    assert contact.email_hash == anna_regular.email_hash and len(contact.email_hash) == 64
    dump = io.StringIO()
    call_command("dumpdata", "links", "audience", stdout=dump)
    assert dump.getvalue().lower().count("anna@ex.org") == 1  # Anna's own field, not the report's

    client = english_client(cast.bob)
    page = client.get(f"/w/cafe-koenigsbau/people/{anna_regular.pk}/").content.decode()
    assert "data-email-conversions" in page and str(Conversion.Kind.SIGNUP.label) in page
    # Hashes are per workspace: the same address reported to charlie matches nobody of alice's.
    report(cast.other_workspace, {"kind": "signup", "email": "anna@ex.org"})
    other = ConversionContact.objects.get(workspace=cast.other_workspace)
    assert other.email_hash != anna_regular.email_hash


def test_erasure_unlinks_referrals_and_conversion_emails(cast, anna_regular) -> None:
    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    token = visit(referral.link)
    report(cast.workspace, {"kind": "purchase", "value": "12.00", "currency": "EUR", "click": token})
    report(cast.workspace, {"kind": "signup", "email": "anna@ex.org"})
    code = referral.code

    assert actions.do_erase_person(Actor(user=cast.alice), anna_regular)

    referral.refresh_from_db()
    assert referral.person is None and referral.code == ""
    assert not ConversionContact.objects.exclude(email_hash="").exists()
    assert ConversionContact.objects.get(referral=referral)  # the anonymous count stays
    assert not Engagement.objects.exists()
    entry = AuditEvent.objects.get(action="person.erase")
    assert entry.data["referrals"] == 1 and entry.data["conversion_emails"] == 1
    # The printed QR code still leads on, counted for nobody; the code credits nobody.
    visit(referral.link)
    assert Click.objects.filter(link=referral.link, is_bot=False).count() == 2
    report(cast.workspace, {"kind": "reservation", "referral": code})
    assert ConversionContact.objects.count() == 1
    client = english_client(cast.alice)
    listing = client.get("/w/cafe-koenigsbau/people/referrals/").content.decode()
    assert "data-recommender" not in listing and "data-anonymous-referrals" in listing
    assert not actions.do_erase_person(Actor(user=cast.alice), anna_regular)  # twice: nothing to do


def test_a_merge_takes_the_other_persons_referrals_along(cast, anna_regular) -> None:
    other = actions.do_add_person(Actor(user=cast.bob), cast.workspace, display_name="A. Schäfer")
    referral = actions.do_create_referral(Actor(user=cast.bob), other, target_kind="bio")
    actions.do_merge_people(Actor(user=cast.bob), anna_regular, other)
    referral.refresh_from_db()
    assert referral.person == anna_regular


def test_the_referral_form_shows_mistakes_and_makes_a_link(cast, anna_regular) -> None:
    client = english_client(cast.bob)
    url = f"/w/cafe-koenigsbau/people/{anna_regular.pk}/referrals/new/"
    response = client.post(url, {"target_kind": "website", "target": ""})
    assert response.status_code == 400 and "Enter the address of the page." in response.content.decode()
    response = client.post(url, {"target_kind": "website", "target": "https://cafe.example/tisch"})
    assert response.status_code == 302
    assert Referral.objects.get().link.target == "https://cafe.example/tisch"
    anna = english_client(cast.anna)
    assert anna.post(url, {"target_kind": "bio"}).status_code == 403
    charlie = english_client(cast.charlie)
    assert charlie.post(url, {"target_kind": "bio"}).status_code == 404


def test_decimal_values_add_up_per_currency(cast, anna_regular) -> None:
    from stammtisch.audience import referrals

    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    for number, (value, currency) in enumerate([("10.00", "EUR"), ("2.50", "EUR"), ("5.00", "CHF")]):
        report(
            cast.workspace,
            {"kind": "purchase", "value": value, "currency": currency, "referral": referral.code, "id": f"o{number}"},
        )
    figures = referrals.figures([referral])[referral.pk]
    assert figures.conversions == 3
    assert figures.values == {"EUR": Decimal("12.50"), "CHF": Decimal("5.00")}
    assert figures.value_text == "5.00 CHF, 12.50 EUR"


def test_retention_keeps_a_quiet_person_whose_recommendations_still_convert(cast, anna_regular) -> None:
    import datetime as dt

    from django.utils import timezone

    from stammtisch.audience.models import AudienceSettings

    quiet = actions.do_add_person(Actor(user=cast.bob), cast.workspace, display_name="Ben Quiet")
    long_ago = timezone.now() - dt.timedelta(days=400)
    Person.objects.filter(pk__in=[anna_regular.pk, quiet.pk]).update(created_at=long_ago)
    referral = actions.do_create_referral(Actor(user=cast.bob), anna_regular, target_kind="bio")
    report(cast.workspace, {"kind": "reservation", "referral": referral.code})
    AudienceSettings.objects.create(workspace=cast.workspace, retention_months=6)

    assert actions.apply_retention(timezone.now()) == 1
    assert Person.objects.get(pk=quiet.pk).is_erased
    assert not Person.objects.get(pk=anna_regular.pk).is_erased
