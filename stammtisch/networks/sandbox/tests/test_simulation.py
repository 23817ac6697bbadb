"""The simulated audience: deterministic, and it reacts to content and timing."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from stammtisch.networks.base import Outgoing, Remote
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox import clock, personas, simulation, texts
from stammtisch.networks.sandbox.connector import SandboxNetwork
from stammtisch.networks.sandbox.models import (
    SandboxAccount,
    SandboxEvent,
    SandboxFollow,
    SandboxPersona,
    SandboxPost,
)
from stammtisch.networks.sandbox.tests.conftest import START

DAY = dt.timedelta(days=1)
VALUE_POSTS = [
    "Frisch gebacken: unsere Zimtschnecken mit Kardamom! Welche Sorte ist eure liebste? Verratet es uns!",
    "Hinter den Kulissen: so rösten wir unseren Kaffee. Was trinkt ihr am liebsten, Cappuccino oder Flat White?",
    "Tipp vom Team: Apfelkuchen schmeckt mit einem Espresso am besten. Was meint ihr?",
    "Our barista's tip: how to make the perfect flat white at home. What is your favourite coffee?",
    "Rezept der Woche: Maultaschen wie bei Oma! Wer kocht sie am Sonntag nach? Erzählt mal!",
    "Did you know? Our sourdough bread rests for 48 hours. Which bread should we bake next?",
]
PROMO_POSTS = [
    "Nur heute: 20% Rabatt auf alle Kuchen! Jetzt kaufen.",
    "SALE: 30% off all coffee beans, today only.",
    "Angebot der Woche: 2 für 1 auf Cappuccino. Jetzt zuschlagen!",
    "Gutschein-Aktion: 5 Euro Rabatt ab 20 Euro Einkauf.",
    "Happy Hour Angebot: alle Getränke reduziert, nur heute.",
    "Discount deal: 25% off your next breakfast, buy now!",
]


def stuttgart(day: int, hour: int) -> dt.datetime:
    """`hour` o'clock in Stuttgart (summer time) on day `day` after START's date."""
    return dt.datetime(2026, 6, 3, hour - 2, 0, tzinfo=dt.UTC) + day * DAY


def publish_all(network: SandboxNetwork, channel: Channel, posts: list[tuple[dt.datetime, str]]) -> list[Remote]:
    remotes = []
    for i, (when, text) in enumerate(posts):
        with clock.at(when):
            remotes.append(network.publish(channel, Outgoing(text=text), f"key-{i}"))
    return remotes


def reactions(remotes: list[Remote]) -> Counter[str]:
    ids = [int(r.id.removeprefix("post-")) for r in remotes]
    totals: Counter[str] = Counter()
    for kind, count in SandboxEvent.objects.filter(post_id__in=ids).values_list("kind", "count"):
        totals[kind] += count
    totals["comments"] = totals["comment"] + totals["question"]
    return totals


def snapshot() -> list[tuple]:
    rows = SandboxEvent.objects.values_list("kind", "persona__handle", "occurs_at", "text", "count")
    return sorted(rows, key=lambda r: (r[2], r[0], r[1] or "", r[3], r[4]))


def test_it_generates_a_varied_audience_of_at_least_500() -> None:
    pool = personas.specs()
    assert len(pool) >= 500
    assert len({p.handle for p in pool}) == len(pool)
    languages = Counter(p.language for p in pool)
    assert languages["de"] > languages["en"] > 100
    assert {t for p in pool for t in p.interests} == set(texts.TOPICS)
    assert {p.active_profile for p in pool} == set(personas.ACTIVITY_PROFILES)
    assert len({round(p.habits["like"], 2) for p in pool}) > 30


def test_it_writes_the_audience_to_the_database_once(db) -> None:
    personas.ensure_personas()
    personas.ensure_personas()
    assert SandboxPersona.objects.count() == personas.POOL_SIZE
    first = SandboxPersona.objects.get(pk=1)
    assert first.handle == personas.specs()[0].handle


def test_it_updates_the_audience_when_the_seed_changes(db, settings) -> None:
    personas.ensure_personas()
    settings.SANDBOX_SEED = 7
    personas.ensure_personas()
    assert list(SandboxPersona.objects.order_by("pk").values_list("handle", flat=True)) == [
        p.handle for p in personas.specs()
    ]


def test_it_is_deterministic_for_a_seed(cast, network, settings) -> None:
    def run() -> list[tuple]:
        with clock.at(START):
            account = simulation.create_account("determinism", "Determinism")
            channel = Channel(workspace=cast.workspace, network="sandbox", handle="determinism")
            channel.credentials = {"token": simulation.issue_token(account)}
        remote = publish_all(network, channel, [(START + DAY, VALUE_POSTS[0]), (START + 2 * DAY, PROMO_POSTS[0])])
        comment = SandboxPost.objects.filter(root_id=remote[0].id.removeprefix("post-"))
        comment = comment.exclude(author_persona=None).order_by("published_at").first()
        assert comment is not None
        with clock.at(START + 5 * DAY):
            network.reply(channel, Remote(id=comment.remote_id), "Danke!", "reply")
        simulation.advance(START + 9 * DAY)
        result = snapshot()
        SandboxAccount.objects.all().delete()
        return result

    first, second = run(), run()
    assert first == second and len(first) > 50
    settings.SANDBOX_SEED = 99
    assert run() != first


def test_value_posts_in_the_evening_beat_promotions_at_night(network, channel) -> None:
    value = publish_all(network, channel, [(stuttgart(2 * i, 18), t) for i, t in enumerate(VALUE_POSTS)])
    promo = publish_all(network, channel, [(stuttgart(2 * i + 1, 3), t) for i, t in enumerate(PROMO_POSTS)])
    good, poor = reactions(value), reactions(promo)
    assert good["comments"] > 2 * poor["comments"]
    assert good["like"] > 2 * poor["like"]
    assert good["share"] > poor["share"]
    assert good["view"] > poor["view"]


def test_the_time_of_day_matters_for_the_same_post(network, channel) -> None:
    evening = publish_all(network, channel, [(stuttgart(2 * i, 19), t) for i, t in enumerate(VALUE_POSTS)])
    night = publish_all(network, channel, [(stuttgart(2 * i + 1, 4), t) for i, t in enumerate(VALUE_POSTS)])
    assert reactions(evening)["view"] > 1.2 * reactions(night)["view"]
    assert reactions(evening)["like"] > reactions(night)["like"]


def test_a_link_brings_clicks(network, channel) -> None:
    with clock.at(stuttgart(0, 12)):
        remote = network.publish(channel, Outgoing(text=VALUE_POSTS[1], link="https://example.org/kaffee"), "with-link")
    without = publish_all(network, channel, [(stuttgart(1, 12), VALUE_POSTS[1])])
    assert reactions([remote])["click"] > 0
    assert reactions(without)["click"] == 0


def test_reactions_spread_over_three_days_with_most_early(network, channel) -> None:
    remotes = publish_all(network, channel, [(stuttgart(2 * i, 18), t) for i, t in enumerate(VALUE_POSTS)])
    ids = [int(r.id.removeprefix("post-")) for r in remotes]
    delays = [
        (event.occurs_at - event.post.published_at).total_seconds() / 3600
        for event in SandboxEvent.objects.filter(post_id__in=ids, kind="like").select_related("post")
    ]
    assert max(delays) <= 80
    assert sum(d < 24 for d in delays) > 0.6 * len(delays)
    assert any(d > 24 for d in delays)


def test_comments_and_questions_are_varied_in_german_and_english(network, channel) -> None:
    posts = [(START + dt.timedelta(hours=9 * i), VALUE_POSTS[i % len(VALUE_POSTS)] + f" ({i})") for i in range(50)]
    publish_all(network, channel, posts)
    comments = SandboxPost.objects.exclude(author_persona=None)
    written = list(comments.values_list("text", "author_persona__language"))
    distinct = {text for text, _ in written}
    assert len(distinct) >= 150
    assert len({t for t, lang in written if lang == "de"}) > 60
    assert len({t for t, lang in written if lang == "en"}) > 20
    assert SandboxEvent.objects.filter(kind="question").count() > 10
    assert all(t.strip() for t in distinct)


def test_the_text_generator_has_hundreds_of_outputs() -> None:
    import random

    rng = random.Random(1)
    outputs = set()
    for i in range(3000):
        outputs.add(
            texts.comment(
                rng,
                language="de" if i % 2 else "en",
                post_topics=["coffee", "baking", "swabian"][: 1 + i % 3],
                interests=["events", "family"],
                question=i % 3 == 0,
                features={"promo": i % 5 == 0, "link": i % 7 == 0},
            )
        )
    assert len(outputs) > 1000


def test_it_reads_language_topics_and_promotions() -> None:
    promo = texts.analyse("Nur heute: 20% Rabatt auf alle Kuchen!")
    assert promo["promo"] and promo["language"] == "de" and {"deals", "baking"} <= set(promo["topics"])
    value = texts.analyse("Behind the scenes: how we roast our coffee. What do you think?", "https://x")
    assert not value["promo"] and value["value"] and value["invites"] and value["language"] == "en"
    assert value["topics"] == ["coffee"] and value["questions"] == 1 and value["link"]
    assert texts.analyse("Ein schöner Tag im Park")["topics"] == []


def test_advance_makes_daily_follows_once(network, channel, account) -> None:
    publish_all(network, channel, [(stuttgart(i, 18), VALUE_POSTS[i % 6]) for i in range(5)])
    until = START + 20 * DAY
    created = simulation.advance(until)
    assert created > 0
    assert simulation.advance(until) == 0  # idempotent
    account.refresh_from_db()
    assert account.simulated_until <= until < account.simulated_until + DAY
    daily = SandboxEvent.objects.filter(account=account, post=None)
    assert set(daily.values_list("kind", flat=True)) <= {"follow", "unfollow"}
    assert daily.filter(kind="follow").exists()
    # Every follow and unfollow is mirrored in the follow rows.
    for event in daily:
        if event.kind == "follow":
            assert SandboxFollow.objects.filter(account=account, persona=event.persona, since=event.occurs_at).exists()
        else:
            assert SandboxFollow.objects.filter(account=account, persona=event.persona, until=event.occurs_at).exists()


def test_an_engaged_account_grows_and_a_silent_one_does_not(cast, network, channel, account) -> None:
    with clock.at(START):
        silent = simulation.create_account("silent-one", "Silent")
    publish_all(network, channel, [(stuttgart(i, 18), VALUE_POSTS[i % 6]) for i in range(28)])
    until = START + 30 * DAY
    simulation.advance(until)
    grown = simulation.follower_count(account, until) - simulation.follower_count(account, START)
    still = simulation.follower_count(silent, until) - simulation.follower_count(silent, START)
    assert grown > 10
    assert still < grown / 2


def test_the_advance_of_nothing_is_cheap(db, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(1):
        assert simulation.advance() == 0


def test_a_persona_answers_when_answered(network, channel) -> None:
    publish_all(network, channel, [(stuttgart(2 * i, 18), t) for i, t in enumerate(VALUE_POSTS)])
    comments = SandboxPost.objects.exclude(author_persona=None).order_by("published_at")[:12]
    at = START + 20 * DAY
    with clock.at(at):
        replies = [network.reply(channel, Remote(id=c.remote_id), "Danke, freut uns!", f"r{c.pk}") for c in comments]
    answers = SandboxEvent.objects.filter(kind="reply")
    assert 0 < answers.count() < len(replies)
    for answer in answers.select_related("comment__parent__parent"):
        assert answer.occurs_at > at
        assert answer.comment.parent.author_persona is None  # it answers our reply ...
        assert answer.comment.parent.parent.author_persona == answer.persona  # ... to their comment
    with clock.at(at + 3 * DAY):
        events, _ = network.fetch_activity(channel, {})
    back = [e for e in events if e.kind == "reply"]
    assert len(back) == answers.count()
    assert {e.in_reply_to for e in back} <= {r.id for r in replies}


def test_the_clock_can_be_set_for_a_block() -> None:
    when = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    with clock.at(when):
        assert clock.now() == when
    assert clock.now() != when
    with pytest.raises(ValueError), clock.at(dt.datetime(2026, 1, 1)):
        pass


def test_the_clock_follows_time_machine(time_machine) -> None:
    time_machine.move_to(dt.datetime(2030, 5, 1, tzinfo=dt.UTC), tick=False)
    assert clock.now() == dt.datetime(2030, 5, 1, tzinfo=dt.UTC)
