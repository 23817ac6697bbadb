# ruff: noqa: E501, RUF001  (German demo texts: long lines and typographic dashes on purpose)
"""`stammtisch demo`: a believable Stuttgart café with 90 days of history (`--reset` rebuilds it).

The history is produced by running the real system, never typed in: posts are created through
the publishing actions with back-dated times, published by the real publisher while the Sandbox
clock shows that time, answered through the connector's `reply`, and the Sandbox simulation
(`simulation.advance`) lets its audience react (views, likes, comments, follows, clicks) between
posts. Idempotent: when a demo workspace exists, nothing happens (unless `--reset`).

The demo login is `alice` with a generated password kept in DATA_DIR/demo_password (mode 0600),
so every start prints the same one; it is never committed (var/ is ignored).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stammtisch.core.actions import Actor, do_create_workspace
from stammtisch.core.models import Membership, Workspace
from stammtisch.core.roles import Role
from stammtisch.publishing import publisher
from stammtisch.publishing.actions import do_create_post
from stammtisch.publishing.models import Delivery, Post
from stammtisch.strategy.models import Goal

DEMO_USERNAME = "alice"
DEMO_NAME = "Café Stäffele"
HISTORY_DAYS = 90
PEOPLE_EVERY = dt.timedelta(days=3)  # how often the demo lets the audience job read people
SEED = 2026
TEAM = [
    # username, first name, last name, role
    ("alice", "Alice", "Albrecht", Role.OWNER),
    ("bob", "Bob", "Bäuerle", Role.EDITOR),
    ("carol", "Carol", "Conzelmann", Role.REVIEWER),
]
CHANNELS = [
    # handle, display name, stands in for
    ("cafe-staeffele", "Café Stäffele", "facebook"),
    ("cafestaeffele", "cafestaeffele", "instagram"),
    ("staeffele", "Café Stäffele", "mastodon"),
]


@dataclass(frozen=True)
class Idea:
    text: str
    pillar: str
    purpose: str = Post.Purpose.VALUE
    link: str = ""
    months: tuple[int, ...] = ()  # seasonal: only posted in these months
    weekday: int | None = None  # only posted on this day (0 = Monday)

    def fits(self, day: dt.date) -> bool:
        return (not self.months or day.month in self.months) and self.weekday in (None, day.weekday())


V, P = Post.Purpose.VALUE, Post.Purpose.PROMOTION
SITE = "https://cafe-staeffele.example"
IDEAS = [
    Idea(
        "Maultaschen-Mittwoch! 🥟 Heute hausgemachte Maultaschen, geschmälzt mit Zwiebeln und Kartoffelsalat. Wie esst ihr sie am liebsten: in der Brühe oder geröstet mit Ei?",
        "Schwäbische Küche",
        weekday=2,
    ),
    Idea(
        "Rezept zum Nachkochen: unsere Kässpätzle. 500 g Mehl, 5 Eier, etwas Salz und Sprudel – Teig schlagen, bis er Blasen wirft. Schichtweise mit Bergkäse und Emmentaler, obendrauf Röstzwiebeln. Guten Appetit!",
        "Rezepte",
        V,
        f"{SITE}/rezepte/kaesspaetzle",
    ),
    Idea(
        "Sonntagsbrunch im Stäffele: Hefezopf, Laugenbrezeln, Rührei, Obstsalat und Filterkaffee so viel ihr wollt. Ab 10 Uhr, reserviert am besten vorher – letzte Woche war es rappelvoll!",
        "Brunch",
        P,
        f"{SITE}/brunch",
    ),
    Idea(
        "Stäffele-Tipp fürs Wochenende: Vom Eugensplatz die Sängerstaffel hoch bis zur Uhlandshöhe – oben wartet der schönste Blick über den Stuttgarter Kessel. Danach habt ihr euch einen Kuchen verdient 😉",
        "Stuttgart entdecken",
    ),
    Idea(
        "Hinter den Kulissen: Jeden Morgen um halb sechs backt Jonas unsere Laugenbrezeln. Das Geheimnis? Die Lauge, eine ruhige Hand und der typische schwäbische Bauch mit dünnen Ärmchen.",
        "Hinter den Kulissen",
    ),
    Idea(
        "Frage an euch: Was gehört für euch in einen richtigen schwäbischen Kartoffelsalat? Brühe, Essig, Zwiebeln – und Gurke ja oder nein? Wir sind gespannt auf eure Meinungen!",
        "Community",
    ),
    Idea(
        "Das Weindorf ist eröffnet! 🍷 Wir haben euch die schönsten Lauben rund um Markt- und Schillerplatz zusammengestellt – und wer danach einen Kaffee braucht, findet uns fünf Minuten entfernt.",
        "Stuttgart entdecken",
        V,
        f"{SITE}/blog/weindorf",
        months=(8, 9),
    ),
    Idea(
        "Neu auf der Karte: Linsen mit Spätzle und Saitenwürstle, ganz wie bei Oma. Mit Linsen von der Alb, regional und in Bio-Qualität.",
        "Schwäbische Küche",
    ),
    Idea(
        "Kaffee-Wissen: Warum schmeckt Filterkaffee manchmal bitter? Meist ist das Wasser zu heiß. 92 bis 96 Grad sind ideal – einfach den Wasserkocher kurz stehen lassen, bevor ihr aufgießt.",
        "Kaffee-Wissen",
    ),
    Idea(
        "Nur diese Woche: Zu jedem Stück Kuchen gibt es den Filterkaffee für 1 Euro. Kommt vorbei, bevor der Träubleskuchen weg ist!",
        "Aktionen",
        P,
    ),
    Idea(
        "Lesung im Stäffele: Am Donnerstag liest die Stuttgarter Autorin Marie Haller aus ihrem neuen Roman über den Stuttgarter Westen. Eintritt frei, bitte anmelden.",
        "Veranstaltungen",
        V,
        f"{SITE}/termine",
    ),
    Idea(
        "Unser Apfelkuchen mit Streuseln – das Rezept von Alices Oma. Der Trick: die Äpfel vorher kurz in Zitronensaft und Zimt ziehen lassen. Probiert es aus und zeigt uns eure Ergebnisse!",
        "Rezepte",
    ),
    Idea(
        "Mehrweg statt Einweg: Bringt euren eigenen Becher mit und spart 30 Cent auf jeden Kaffee zum Mitnehmen. Letzten Monat haben wir so über 800 Pappbecher eingespart – danke euch!",
        "Nachhaltigkeit",
    ),
    Idea(
        "Kalt draußen? Unsere Flädlesuppe wärmt von innen. Jeden Tag frisch, mit Rinderbrühe vom Metzger Ruoff aus Degerloch.",
        "Schwäbische Küche",
    ),
    Idea(
        "Wusstet ihr, dass Stuttgart über 400 Stäffele hat? Zusammen sind das mehr als 20 Kilometer Treppen. Welche ist eure Lieblingsstäffele?",
        "Stuttgart entdecken",
    ),
    Idea(
        "Familiensonntag: Unsere Spielecke hat neue Bücher und Bauklötze bekommen. Kinder bis sechs bekommen einen Kakao aufs Haus, wenn die Eltern brunchen.",
        "Familie",
        weekday=6,
    ),
    Idea(
        "Barista-Tipp: Für einen guten Cappuccino die Milch nur bis etwa 65 Grad aufschäumen – dann bleibt sie süß und der Schaum wird feinporig. Wer mag, kommt zum Latte-Art-Workshop am Samstag!",
        "Kaffee-Wissen",
        V,
        f"{SITE}/workshops",
    ),
    Idea(
        "Happy Hour im Stäffele: Werktags von 15 bis 17 Uhr jeder zweite Kuchen zum halben Preis. Perfekt für die Pause zwischendurch.",
        "Aktionen",
        P,
    ),
    Idea(
        "Wir stellen vor: Unsere Kaffeebohnen kommen von einer kleinen Rösterei in Bad Cannstatt. Fair gehandelt, langsam geröstet, und ihr schmeckt den Unterschied.",
        "Hinter den Kulissen",
    ),
    Idea(
        "Regen in Stuttgart? Perfektes Wetter für einen Chai Latte und ein gutes Buch. Unser Bücherregal ist zum Tauschen da – nehmt eins mit, bringt eins zurück.",
        "Community",
    ),
    Idea(
        "Kehrwoche mal anders: Am Samstag sammeln wir mit euch Müll rund um die Karlshöhe. Treffpunkt 10 Uhr vor dem Café, danach gibt es Brezeln und Kaffee für alle Helfer.",
        "Veranstaltungen",
    ),
    Idea(
        "Frisch aus dem Ofen: Zimtschnecken mit Kardamom. Noch warm, solange der Vorrat reicht ☕",
        "Kuchen & Gebäck",
    ),
    Idea(
        "Ein Hoch auf unser Team! Heute feiert Sevgi ihr fünfjähriges Jubiläum bei uns. Ohne sie gäbe es keinen so guten Käsekuchen im Westen. Danke, Sevgi! 🎉",
        "Hinter den Kulissen",
    ),
    Idea(
        "Frage der Woche: Hefezopf mit oder ohne Rosinen? Wir backen am Sonntag beide Varianten – stimmt in den Kommentaren ab!",
        "Community",
    ),
    Idea(
        "Gutschein-Aktion: Verschenkt einen Brunch im Stäffele! Gutscheine gibt es an der Theke und online.",
        "Aktionen",
        P,
        f"{SITE}/gutscheine",
    ),
    Idea(
        "Saisonal und regional: Jetzt gibt es wieder Zwetschgenkuchen mit Zwetschgen aus dem Remstal. Dazu ein Klecks Sahne – mehr braucht es nicht.",
        "Kuchen & Gebäck",
        months=(8, 9, 10),
    ),
    Idea(
        "Tipp für Besucher: Mit der Zacke, Stuttgarts Zahnradbahn, vom Marienplatz nach Degerloch fahren und zu Fuß durch den Wald zurück. Ein schöner Sonntagsausflug – und unterwegs liegt ein gewisses Café 😉",
        "Stuttgart entdecken",
    ),
    Idea(
        "Unser Mittagstisch diese Woche: Montag Gaisburger Marsch, Dienstag Krautschupfnudeln, Mittwoch Maultaschen, Donnerstag Linsen mit Spätzle, Freitag Fisch vom Bodensee.",
        "Schwäbische Küche",
        V,
        f"{SITE}/mittagstisch",
        weekday=0,
    ),
    Idea(
        "Live-Musik am Freitag: Das Duo „Kesselklang“ spielt Jazz und schwäbische Lieder. Ab 19 Uhr, Eintritt frei, Hut geht rum.",
        "Veranstaltungen",
    ),
    Idea(
        "Kaffee-Wissen: Was ist eigentlich der Unterschied zwischen Flat White und Cappuccino? Beim Flat White ist mehr Espresso und weniger Schaum im Spiel – kräftiger, aber trotzdem cremig.",
        "Kaffee-Wissen",
    ),
    Idea(
        "Rezept: Schwäbischer Träubleskuchen. Mürbteig, Johannisbeeren, luftiges Baiser obendrauf. Das ganze Rezept findet ihr auf unserer Website.",
        "Rezepte",
        V,
        f"{SITE}/rezepte/traeubleskuchen",
    ),
    Idea(
        "Neu: Hafermilch und Mandelmilch ohne Aufpreis. Weil guter Kaffee für alle schmecken soll.",
        "Nachhaltigkeit",
    ),
    Idea(
        "Danke Stuttgart! Über 200 von euch waren am Samstag beim Sommerfest im Hinterhof. Die schönsten Bilder zeigen wir diese Woche.",
        "Community",
        months=(6, 7, 8, 9),
    ),
    Idea(
        "Frühstück bis 14 Uhr – auch unter der Woche. Für alle, die lieber länger schlafen: Bauernfrühstück, Granola-Bowl oder einfach eine Butterbrezel.",
        "Frühstück",
        P,
    ),
]
# Answers by what the comment is (a question or not) and the commenter's language.
REPLIES = {
    ("comment", "de"): [
        "Danke dir! Bis bald im Stäffele 😊",
        "Vielen Dank, das freut uns sehr!",
        "Danke für dein Feedback – wir geben es ans Team weiter.",
        "Oh wie schön, danke! Dann sehen wir uns am Sonntag?",
    ],
    ("comment", "en"): ["Thank you so much, see you soon!", "Thanks a lot, that made our day! ☕"],
    ("question", "de"): [
        "Gute Frage! Komm gern vorbei, wir erklären es dir an der Theke.",
        "Danke für die Frage! Schreib uns kurz eine Nachricht, dann klären wir das.",
        "Gute Frage – ruf uns gern an (0711 123456), dann schauen wir gemeinsam.",
    ],
    ("question", "en"): [
        "Good question! Drop by and ask at the counter, we're happy to help.",
        "Thanks for asking! Send us a message and we'll sort it out.",
    ],
}
FUTURE = [
    (
        2,
        9,
        Idea(
            "Diese Woche neu: Käsekuchen mit Mandarinen nach dem Rezept von Sevgis Mutter. Wer probiert ihn zuerst?",
            "Kuchen & Gebäck",
        ),
    ),
    (
        4,
        18,
        Idea(
            "Weinprobe im Stäffele: Trollinger und Lemberger von jungen Winzern aus dem Remstal, dazu schwäbische Häppchen. Anmeldung an der Theke.",
            "Veranstaltungen",
            V,
            f"{SITE}/termine",
        ),
    ),
    (
        6,
        10,
        Idea("Sonntagsbrunch: Heute mit Flädlesuppe und frischem Hefezopf. Ab 10 Uhr!", "Brunch", P, weekday=6),
    ),
    (
        9,
        12,
        Idea(
            "Stäffele-Tipp: Die Eugenstaffel mit dem Galateabrunnen ist eine der schönsten Treppen Stuttgarts. Welche sollen wir als Nächstes vorstellen?",
            "Stuttgart entdecken",
        ),
    ),
]
DRAFTS = [
    Idea(
        "Idee: Adventskalender mit 24 schwäbischen Leckereien – jeden Tag ein Türchen im Schaufenster. Noch abstimmen mit Carol.",
        "Aktionen",
        P,
    ),
    Idea("Rezept Gaisburger Marsch – Fotos fehlen noch.", "Rezepte"),
]


@dataclass(frozen=True)
class DemoGoal:
    """A goal of the café (docs/demo.md). A flow's target is a daily rate the café planned for,
    times the days from the goal's start to its deadline, so a shorter history (the tests')
    tells the same story."""

    key: str
    name: str
    kpi: str
    per_day: float = 0.0  # flows
    target: float = 0.0  # levels
    started_share: float = 0.0  # how far into the history it was set (0: on the first day)
    deadline_days: int = 60  # after today


GOALS = [
    DemoGoal("traffic", "Mehr Website-Besuche aus Social Media", "traffic.social_visits", per_day=1.6),
    DemoGoal("loyalty", "Stammgäste kommen wieder", "loyalty.returning_engagers", per_day=34.0),
    DemoGoal(
        "image", "Gute Stimmung im Netz", "image.net_sentiment", target=40.0, started_share=0.5, deadline_days=120
    ),
]
# Posts of these pillars invite people to come back and talk (the loyalty goal); posts with a
# link bring visits (the traffic goal); other value posts, from the image goal's start, serve it.
LOYALTY_PILLARS = frozenset({"Community", "Veranstaltungen", "Familie"})


def _demo_goals(actor: Actor, workspace: Workspace, start: dt.date, today: dt.date) -> dict[str, Goal]:
    from stammtisch.strategy.actions import do_create_goal

    goals = {}
    for item in GOALS:
        began = start + dt.timedelta(days=int((today - start).days * item.started_share))
        deadline = today + dt.timedelta(days=item.deadline_days)
        target = round(item.per_day * (deadline - began).days) if item.per_day else item.target
        kind = item.kpi.split(".", 1)[0]
        goal = do_create_goal(
            actor, workspace, kind=kind, name=item.name, kpi=item.kpi, target=target, start=began, deadline=deadline
        )
        set_at = dt.datetime.combine(began, dt.time(9, 0), tzinfo=workspace.tz)
        Goal.objects.filter(pk=goal.pk).update(created_at=set_at)
        goals[item.key] = goal
    return goals


def _goal_for(idea: Idea, day: dt.date, goals: dict[str, Goal]) -> Goal | None:
    if idea.link:
        return goals["traffic"]
    if idea.pillar in LOYALTY_PILLARS:
        return goals["loyalty"]
    if idea.purpose == Post.Purpose.VALUE and day >= goals["image"].start:
        return goals["image"]
    return None  # a promotion without a link: no goal


def _measure(workspace: Workspace, now: dt.datetime) -> None:
    """What the worker would do next: record the Sandbox audience's link clicks (and their
    conversions) and compute the workspace's rollups, so the goal pages show figures at once."""
    from stammtisch.analytics import rollups
    from stammtisch.analytics.models import RollupState
    from stammtisch.links import auto

    while auto.record_sandbox_clicks():
        pass
    rollups.refresh_recent(workspace, now, backfill=True)
    RollupState.objects.update_or_create(
        workspace=workspace,
        defaults={
            "backfilled": True,
            "refreshed_at": now,
            "next_run_at": now + rollups.REFRESH_EVERY,
            "last_error": "",
        },
    )


def _request_reports(actor: Actor, workspace: Workspace, now: dt.datetime, log: Callable[[str], None]) -> None:
    """The last complete month's and week's reports in the workspace's language, for the worker
    to render (docs/reports.md): the demo's figures told as a report. Without Pango (WeasyPrint's
    system library) there is no PDF; the demo says so and goes on."""
    from stammtisch.reports import pdf
    from stammtisch.reports.actions import do_request_report
    from stammtisch.reports.models import Kind
    from stammtisch.reports.periods import Period

    reason = pdf.unavailable_reason()
    if reason is not None:
        log(f"Demo: no reports ({reason}).")
        return
    today = timezone.localtime(now, workspace.tz).date()
    for kind in (Kind.MONTH, Kind.WEEK):
        do_request_report(actor, workspace, Period.last_complete(kind, today), workspace.language)


def password_path() -> Path:
    return Path(settings.DATA_DIR) / "demo_password"


def demo_password(*, create: bool = True) -> str | None:
    """The demo password, created once (0600) in DATA_DIR and read on every later start."""
    path = password_path()
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    value = f"stammtisch-{secrets.token_urlsafe(9)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def demo_exists() -> bool:
    return Workspace.objects.filter(is_demo=True).exists()


def ensure_demo(*, reset: bool = False, log: Callable[[str], Any] = print) -> tuple[bool, str | None]:
    """Create the demo unless it exists. Returns (created, password); the password is None when
    the demo exists but its password file does not (it was made elsewhere)."""
    if demo_exists() and not reset:
        return False, demo_password(create=False)
    password = demo_password()
    assert password is not None
    with transaction.atomic():
        if reset:
            remove_demo()
        build_demo(password, log=log)
    return True, password


def remove_demo() -> None:
    from stammtisch.publishing.media import remove_workspace_media

    for workspace in Workspace.objects.filter(is_demo=True):
        _remove_sandbox_accounts(workspace)
        remove_workspace_media(workspace)
        workspace.delete()


def _remove_sandbox_accounts(workspace: Workspace) -> None:
    try:
        from stammtisch.networks.sandbox.models import SandboxAccount
    except ImportError:
        return
    handles = [handle for handle, _name, _for in CHANNELS]
    SandboxAccount.objects.filter(Q(workspace=workspace) | Q(handle__in=handles, workspace__isnull=True)).delete()


def demo_user(username: str, first: str, last: str, password: str) -> Any:
    User = get_user_model()
    email = f"{username}@example.org"
    user = User.objects.filter(username=username).first()
    if user is None:
        return User.objects.create_user(username, email, password, first_name=first, last_name=last)
    if user.email != email:
        raise CommandError(
            f"A user named {username!r} exists and is not the demo user ({email}); "
            "the demo will not touch it. Use a fresh database for the demo."
        )
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def build_demo(password: str, *, log: Callable[[str], Any] = print) -> Workspace:
    from stammtisch.networks.sandbox import clock, simulation
    from stammtisch.networks.sandbox.actions import do_connect_sandbox_channel

    rng = random.Random(SEED)
    system = Actor.system("demo")
    users = {username: demo_user(username, first, last, password) for username, first, last, _role in TEAM}
    workspace = do_create_workspace(system, users["alice"], name=DEMO_NAME, is_demo=True)
    for username, _first, _last, role in TEAM:
        if role != Role.OWNER:
            Membership.objects.create(user=users[username], workspace=workspace, role=role)
    authors = [Actor(user=users["alice"], label="alice"), Actor(user=users["bob"], label="bob")]

    now = timezone.now()
    tz = workspace.tz
    start = (now - dt.timedelta(days=HISTORY_DAYS)).astimezone(tz).date()
    # The Sandbox accounts exist from the first day of the history, so the simulation fills in
    # the daily follows and unfollows of all 90 days, not only those that posts brought.
    opened = dt.datetime.combine(start, dt.time(8, 0), tzinfo=tz)
    with clock.at(opened):
        channels = [
            do_connect_sandbox_channel(system, workspace, handle, display_name, stands_in_for)
            for handle, display_name, stands_in_for in CHANNELS
        ]
    pictures = _Pictures(authors[0], workspace)
    queue = IDEAS[:]
    rng.shuffle(queue)
    planned = []
    day = start
    while day < now.astimezone(tz).date():
        # Three to five posts a week, on varied days and hours; each idea when it fits the day.
        fitting = [idea for idea in queue if idea.fits(day)]
        if rng.random() < 4 / 7 and fitting:
            idea = fitting[0]
            queue.remove(idea)
            queue.append(idea)  # to the back: no text repeats before the others were used
            hour = rng.choice([8, 9, 11, 12, 15, 17, 18, 19, 20])
            local = dt.datetime(day.year, day.month, day.day, hour, rng.choice([0, 15, 30, 45]), tzinfo=tz)
            planned.append((local.astimezone(dt.UTC), idea))
        day += dt.timedelta(days=1)

    only_demo = Q(post__workspace=workspace)
    read: dict[str, int] = {}
    _demo_segments(system, workspace, opened)
    goals = _demo_goals(authors[0], workspace, start, now.astimezone(tz).date())
    for at, idea in planned:
        simulation.advance(at)
        with clock.at(at):
            _answer_some_comments(workspace, authors, read, rng, at)
            chosen = [c for c in channels if rng.random() < 0.8] or [rng.choice(channels)]
            post = do_create_post(
                rng.choice(authors),
                workspace,
                text=idea.text,
                channels=chosen,
                scheduled_at=at,
                link=idea.link,
                pillar=idea.pillar,
                purpose=idea.purpose,
                media=[pictures(idea.pillar)],  # Instagram takes no post without one
                goal=_goal_for(idea, at.astimezone(tz).date(), goals),
            )
            written = at - dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
            Post.objects.filter(pk=post.pk).update(created_at=written)
            Delivery.objects.filter(post=post).update(created_at=written)
            publisher.run_once("demo", now=at, where=only_demo)
    simulation.advance(now)
    read["people_at"] = 0  # read all of them now
    _answer_some_comments(workspace, authors, read, rng, now)
    simulation.advance(now)
    from stammtisch.audience import jobs

    jobs.daily(now, workspace_id=workspace.pk)  # every score decayed to today, as the worker does daily

    for days, hour, idea in FUTURE:
        local_day = (now + dt.timedelta(days=days)).astimezone(tz).date()
        while not idea.fits(local_day):
            local_day += dt.timedelta(days=1)
        at = dt.datetime(local_day.year, local_day.month, local_day.day, hour, 0, tzinfo=tz)
        do_create_post(
            authors[1],
            workspace,
            text=idea.text,
            channels=channels,
            scheduled_at=at,
            link=idea.link,
            pillar=idea.pillar,
            purpose=idea.purpose,
            media=[pictures(idea.pillar)],
            goal=_goal_for(idea, local_day, goals),
        )
    for idea in DRAFTS:
        do_create_post(authors[0], workspace, text=idea.text, channels=channels[:2], pillar=idea.pillar)
    _measure(workspace, now)
    _request_reports(authors[0], workspace, now, log)
    log(f"Demo: {len(planned)} posts over {HISTORY_DAYS} days published on {len(channels)} Sandbox channels.")
    return workspace


# Saved filters of people, counted every simulated day (docs/people.md "Segments").
SEGMENTS = [
    ("Treue Gäste", {"stage": "loyal"}),
    ("Fürsprecher", {"stage": "advocate"}),
    ("Drohen abzuspringen", {"stage": "at_risk"}),
    ("Unzufrieden", {"sentiment": "negative"}),
]


def _demo_segments(actor: Actor, workspace: Workspace, at: dt.datetime) -> None:
    from stammtisch.audience.actions import do_save_segment
    from stammtisch.audience.models import Segment

    for name, filters in SEGMENTS:
        segment = do_save_segment(actor, workspace, name=name, filters=filters)
        Segment.objects.filter(pk=segment.pk).update(created_at=at)


class _Pictures:
    """One square JPEG per content pillar, drawn here (the demo downloads nothing) and uploaded
    like any photo (publishing/media.py), so posts carry an image as Instagram requires."""

    COLOURS = ("#8a3b12", "#2e6f40", "#1f4e8a", "#8a5a00", "#6b2d5c", "#2f5d62", "#a14a2a")

    def __init__(self, actor: Actor, workspace: Workspace) -> None:
        self.actor, self.workspace = actor, workspace
        self.made: dict[str, Any] = {}

    def __call__(self, pillar: str) -> Any:
        if pillar not in self.made:
            self.made[pillar] = self._upload(pillar, self.COLOURS[len(self.made) % len(self.COLOURS)])
        return self.made[pillar]

    def _upload(self, pillar: str, colour: str) -> Any:
        import io

        from django.core.files.uploadedfile import SimpleUploadedFile
        from PIL import Image, ImageDraw, ImageFont

        from stammtisch.publishing.media import do_upload_media

        picture = Image.new("RGB", (1080, 1080), colour)
        draw = ImageDraw.Draw(picture)
        draw.ellipse((240, 240, 840, 840), outline="#f6f5f2", width=24)
        draw.text((540, 540), pillar, fill="#f6f5f2", anchor="mm", font=ImageFont.load_default(size=64))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85)
        name = f"{pillar.lower().replace(' ', '-')}.jpg"
        alt = f"Grafik des Café Stäffele zum Thema „{pillar}“: der Name in einem hellen Kreis."
        return do_upload_media(self.actor, self.workspace, SimpleUploadedFile(name, out.getvalue()), alt)


def _answer_some_comments(
    workspace: Workspace, authors: list[Actor], read: dict[str, int], rng: random.Random, at: dt.datetime
) -> None:
    """Read new activity into the inbox as the worker does (inbox/sync.py), answer about half of
    the new comments and questions there as a member would (sent by the reply worker), and let the
    audience job read the people and move their stages as of `at` (docs/people.md "The demo")."""
    from stammtisch.audience import consume, jobs
    from stammtisch.inbox import actions as inbox_actions
    from stammtisch.inbox import replies, sync
    from stammtisch.inbox.models import Intent, Message, Reply

    ours = Q(workspace=workspace)
    while sync.run_due("demo", now=at, where=ours):
        pass
    new = list(
        Message.objects.filter(workspace=workspace, direction="in", kind="comment", pk__gt=read.get("message", 0))
        .select_related("conversation")
        .order_by("pk")
    )
    answers = []
    for message in new:
        read["message"] = message.pk
        if rng.random() < 0.5:
            continue
        kind = "question" if message.intent == Intent.QUESTION else "comment"
        text = rng.choice(REPLIES[(kind, "en" if message.language == "en" else "de")])
        answers.append(inbox_actions.do_reply(rng.choice(authors), message.conversation, text, to=message).pk)
    Reply.objects.filter(pk__in=answers).update(created_at=at, due_at=at)  # written when they were due
    while replies.run_due("demo", now=at, where=ours):
        pass
    # The audience job reads the people about twice a week of simulated time (every step costs
    # time: it saves each touched person); every inbox row is the demo's (a fresh database).
    if at.timestamp() - read.get("people_at", 0) >= PEOPLE_EVERY.total_seconds():
        read["people_at"] = int(at.timestamp())
        consume.consume(at)
        jobs.move_stages(at, workspace_id=workspace.pk)  # time moves stages (at risk, lapsed); segments counted


class Command(BaseCommand):
    help = "Create the demo workspace (a Stuttgart café with 90 days of Sandbox history)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="Delete the demo workspace and build it again.")

    def handle(self, *args: Any, **options: Any) -> None:
        created, password = ensure_demo(reset=options["reset"], log=self.stdout.write)
        if not created:
            self.stdout.write("The demo workspace exists already (use --reset to rebuild it).")
        if password is not None:
            self.stdout.write(f"Demo login: {DEMO_USERNAME} / {password}")
