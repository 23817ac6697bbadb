"""Follows through a personal referral code (docs/people.md "Referrals"): a new follower who names
someone's code in a text to the workspace within FOLLOW_WINDOW of their follow is a follow
recommended by the code's owner, once per (follower, channel), credited to the owner's loyalty."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from conftest import client_for
from stammtisch.audience import actions, consume, gdpr, loyalty, referrals
from stammtisch.audience.models import Engagement, Kind, Person, Referral, ReferredFollow
from stammtisch.audience.tests.conftest import NOW, interaction, message
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.core.tests.clients import english_client
from stammtisch.networks.models import Channel

DAY = dt.timedelta(days=1)


@pytest.fixture
def anna(cast) -> Person:
    return actions.do_add_person(Actor(user=cast.bob), cast.workspace, display_name="Anna Schäfer")


@pytest.fixture
def code(cast, anna) -> str:
    return actions.do_create_referral(Actor(user=cast.bob), anna, target_kind="bio").code


def max_() -> Person:
    return Person.objects.get(identities__remote_id="u-max")


def test_a_follow_and_a_text_naming_the_code_are_one_recommended_follow(cast, channel, anna, code) -> None:
    interaction(channel, "follow", at=NOW)
    message(channel, text="Hallo! Anna hat euch empfohlen.", at=NOW + DAY)
    consume.consume(NOW)
    assert not ReferredFollow.objects.exists()  # no code named yet

    message(channel, text=f"Mein Code: #{code.lower()}!", at=NOW + 3 * DAY, kind="message")  # any case
    consume.consume(NOW)
    follow = ReferredFollow.objects.get()
    assert (follow.referral.person, follow.person, follow.channel) == (anna, max_(), channel)
    assert follow.occurred_at == NOW and follow.workspace == cast.workspace

    # Named again, a second follow of the same channel (after an unfollow), or the cursor read
    # again: still one.
    message(channel, text=f"{code} nochmal", at=NOW + 4 * DAY)
    interaction(channel, "unfollow", at=NOW + 5 * DAY)
    interaction(channel, "follow", at=NOW + 6 * DAY)
    consume.consume(NOW)
    consume.AudienceCursor.objects.update(message_id=0, interaction_id=0)
    consume.consume(NOW)
    assert ReferredFollow.objects.count() == 1

    # The recommender's credit: like a conversion through their referral, at the follow's time.
    anna.refresh_from_db()
    credit = Engagement.objects.get(person=anna)
    assert (credit.kind, credit.weight, credit.source, credit.source_id) == (
        Kind.REFERRED_FOLLOW,
        2.0,
        "ref_follow",
        follow.pk,
    )
    assert credit.occurred_at == NOW and credit.channel == channel
    assert anna.counts == {"ref_follow": 1} and anna.score == pytest.approx(2.0)
    assert anna.last_seen is None  # someone else's follow: not Anna being active
    with translation.override("en"):
        assert "1 follow through their recommendation" in loyalty.explain(anna.counts)

    # Another channel of the workspace is one more follow.
    other_channel = Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="kb2", display_name="Königsbau Bar", remote_account_id="b"
    )
    interaction(other_channel, "follow", at=NOW + 10 * DAY)
    consume.consume(NOW)
    assert ReferredFollow.objects.filter(person=max_()).count() == 2
    assert referrals.figures([follow.referral])[follow.referral_id].follows == 2


def test_the_text_may_come_first_in_an_earlier_batch(cast, channel, anna, code) -> None:
    message(channel, text=f"Reservierung mit {code}", at=NOW, kind="mention")
    consume.consume(NOW)
    interaction(channel, "follow", at=NOW + 14 * DAY)  # the window's edge still counts
    consume.consume(NOW)
    assert ReferredFollow.objects.get().person == max_()


@pytest.mark.parametrize(
    ("text", "follow_after"),
    [
        ("{code}", 15 * DAY),  # outside the window
        ("{code}", -15 * DAY),
        ("X{code}", DAY),  # not a whole word
        ("{code}7", DAY),
        ("kein Code", DAY),
    ],
)
def test_no_follow_outside_the_window_or_without_the_whole_code(cast, channel, anna, code, text, follow_after) -> None:
    message(channel, text=text.format(code=code), at=NOW)
    interaction(channel, "follow", at=NOW + follow_after)
    consume.consume(NOW)
    assert not ReferredFollow.objects.exists()
    assert not Engagement.objects.filter(person=anna).exists()


def test_no_follow_through_another_workspaces_code_or_ones_own(cast, channel, anna, code) -> None:
    chili = Channel.objects.create(
        workspace=cast.other_workspace, network="sandbox", handle="chili", display_name="Chili", remote_account_id="c"
    )
    # Charlie's follower names alice's workspace's code: nothing, in either workspace.
    message(chili, text=f"Code {code}", at=NOW)
    interaction(chili, "follow", at=NOW)
    # Max names a code of his own.
    consume.consume(NOW)
    max_in_ours = actions.do_add_person(
        Actor(user=cast.bob), cast.workspace, display_name="Max", network="sandbox", handle="maxi"
    )
    own = actions.do_create_referral(Actor(user=cast.bob), max_in_ours, target_kind="bio").code
    message(channel, text=f"Folgt mir, Code {own}", at=NOW)
    interaction(channel, "follow", at=NOW + DAY)
    consume.consume(NOW)
    assert Person.objects.get(identities__remote_id="u-max", workspace=cast.workspace) == max_in_ours
    assert not ReferredFollow.objects.exists()
    assert not Engagement.objects.filter(kind=Kind.REFERRED_FOLLOW).exists()


def test_erasing_the_follower_deletes_the_follow_and_the_recommenders_credit(cast, channel, anna, code) -> None:
    message(channel, text=code, at=NOW)
    interaction(channel, "follow", at=NOW)
    consume.consume(NOW)
    follower = max_()
    export = gdpr.export_data(follower)
    assert export["follows_on_recommendation"] == [
        {"network": "sandbox", "channel": "Café Königsbau", "at": NOW.isoformat()}
    ]
    assert gdpr.export_data(anna)["referrals"][0]["follows_brought"] == 1

    assert actions.do_erase_person(Actor(user=cast.alice), follower)
    assert not ReferredFollow.objects.exists()
    anna.refresh_from_db()
    assert not Engagement.objects.filter(person=anna).exists()
    assert anna.counts == {} and anna.score == 0.0
    assert AuditEvent.objects.get(action="person.erase").data["referred_follows"] == 1


def test_erasing_the_recommender_keeps_an_anonymous_count(cast, channel, anna, code) -> None:
    message(channel, text=code, at=NOW)
    interaction(channel, "follow", at=NOW)
    consume.consume(NOW)
    assert actions.do_erase_person(Actor(user=cast.alice), anna)
    follow = ReferredFollow.objects.get()
    assert follow.referral.person is None and follow.referral.code == "" and follow.person == max_()
    assert not Engagement.objects.filter(person=anna).exists()
    listing = english_client(cast.anna).get("/w/cafe-koenigsbau/people/referrals/").content.decode()
    assert "data-recommender" not in listing and "0 clicks, 0 conversions, 1 follows." in listing
    # The code is gone: naming it later credits nobody.
    message(channel, text=code, author_id="u-eva", handle="eva", name="Eva", at=NOW)
    interaction(channel, "follow", author_id="u-eva", handle="eva", at=NOW)
    consume.consume(NOW)
    assert ReferredFollow.objects.count() == 1


def test_a_merge_never_makes_someone_their_own_recommender(cast, channel, anna, code) -> None:
    message(channel, text=code, at=NOW)
    interaction(channel, "follow", at=NOW)
    consume.consume(NOW)
    actions.do_merge_people(Actor(user=cast.bob), anna, max_())  # Max was Anna's other account
    assert not ReferredFollow.objects.exists()
    anna.refresh_from_db()
    assert "ref_follow" not in anna.counts and anna.counts["follow"] == 1


def test_two_recommended_follows_count_towards_the_advocate_stage(cast, channel, anna, code) -> None:
    for number in range(2):
        message(channel, text=code, author_id=f"u-{number}", handle=f"fan{number}", at=NOW)
        interaction(channel, "follow", author_id=f"u-{number}", handle=f"fan{number}", at=NOW)
    consume.consume(NOW)
    anna.refresh_from_db()
    assert anna.counts == {"ref_follow": 2} and anna.score == pytest.approx(4.0)
    anna.counts = {**anna.counts}
    anna.score = 30.0
    assert loyalty.stage_for(anna, NOW) == "advocate"  # two spreads of the word


def test_the_referral_pages_show_the_follows_in_german_and_english(cast, channel, anna, code) -> None:
    message(channel, text=code, at=NOW)
    interaction(channel, "follow", at=NOW)
    consume.consume(NOW)
    referral = Referral.objects.get()

    english = english_client(cast.anna)
    listing = english.get("/w/cafe-koenigsbau/people/referrals/").content.decode()
    assert "<th>Follows</th>" in listing and "<td data-follows>1</td>" in listing
    assert "within 14 days of the follow" in listing
    profile = english.get(f"/w/cafe-koenigsbau/people/{anna.pk}/").content.decode()
    assert "Recommended: 1 follow</p>" in profile and "0 conversions\n      · 1 follow</p>" in profile
    assert "follows are not counted" not in profile

    german = client_for(cast.anna)
    listing = german.get("/w/cafe-koenigsbau/people/referrals/").content.decode()
    assert "<th>Neue Follower</th>" in listing and "<td data-follows>1</td>" in listing
    assert "innerhalb von 14 Tagen" in listing
    profile = german.get(f"/w/cafe-koenigsbau/people/{anna.pk}/").content.decode()
    assert "Empfohlen: 1 neuer Follower</p>" in profile and "· 1 neuer Follower</p>" in profile
    assert referral.code in profile
