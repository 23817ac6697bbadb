"""The simulated audience: `POOL_SIZE` personas generated from settings.SANDBOX_SEED.

Each persona has a German or English name and handle, a language, interests (topic keys of
`texts.TOPICS`), an activity profile (when in the day and week they are online, `activity()`)
and habits (how likely they like, comment, ask, share, click and follow when they see a post).

`specs()` returns the generated personas (pure Python, cached per seed); `ensure_personas()`
writes them to the SandboxPersona table (primary key = index + 1) if they are not there yet.
The simulation reads the specs, not the table, so publishing stays cheap.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from stammtisch.networks.sandbox.models import SandboxPersona
from stammtisch.networks.sandbox.texts import TOPICS

POOL_SIZE = 600
HABITS = ("like", "comment", "question", "share", "click", "follow")

FIRST_DE = (
    "Lena",
    "Jonas",
    "Marie",
    "Lukas",
    "Sophie",
    "Felix",
    "Anna",
    "Max",
    "Hannah",
    "Paul",
    "Emma",
    "Leon",
    "Mia",
    "Finn",
    "Clara",
    "Elias",
    "Lea",
    "Noah",
    "Johanna",
    "Ben",
    "Katharina",
    "Tobias",
    "Sabine",
    "Jürgen",
    "Ute",
    "Klaus",
    "Birgit",
    "Dieter",
    "Gisela",
    "Horst",
    "Heike",
    "Uwe",
    "Renate",
    "Manfred",
    "Petra",
    "Stefan",
    "Andrea",
    "Thomas",
    "Monika",
    "Matthias",
    "Julia",
    "Sebastian",
    "Laura",
    "Florian",
    "Franziska",
    "Simon",
    "Theresa",
    "Moritz",
    "Nele",
    "Jannik",
    "Selin",
    "Emre",
    "Aylin",
    "Luca",
    "Giulia",
    "Milan",
    "Sara",
    "Konstantin",
    "Greta",
    "Vincent",
)
LAST_DE = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Hofmann",
    "Krüger",
    "Hartmann",
    "Lange",
    "Werner",
    "Schmitt",
    "Krause",
    "Maier",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Scholz",
    "Haas",
    "Vogel",
    "Keller",
    "Jäger",
    "Brenner",
    "Häberle",
    "Schwäble",
    "Bräuninger",
    "Kächele",
    "Eisele",
    "Fink",
    "Schäfer",
    "Kuhn",
    "Demir",
    "Kaya",
    "Rossi",
    "Nowak",
    "Kowalski",
)
FIRST_EN = (
    "Emily",
    "James",
    "Olivia",
    "Jack",
    "Charlotte",
    "Harry",
    "Amelia",
    "Oliver",
    "Grace",
    "George",
    "Lily",
    "Ava",
    "Liam",
    "Chloe",
    "Ethan",
    "Ella",
    "Jacob",
    "Isla",
    "Samuel",
    "Lucy",
    "Daniel",
    "Megan",
    "Ryan",
    "Sarah",
    "Michael",
    "Jessica",
    "David",
    "Emma",
    "Priya",
    "Arjun",
    "Mei",
    "Kenji",
    "Fatima",
    "Omar",
    "Sofia",
    "Mateo",
)
LAST_EN = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Murphy",
    "O'Brien",
    "Kelly",
    "Miller",
    "Davis",
    "Garcia",
    "Patel",
    "Khan",
    "Nguyen",
    "Cooper",
    "Chen",
    "Tanaka",
)
HOBBY_HANDLES = (
    "kaffeeliebe",
    "stuttgartfoodie",
    "brezelfan",
    "coffee_addict",
    "foodie",
    "spaetzle",
    "kesselkind",
    "cake_lover",
    "vfb_fan",
    "weltenbummler",
    "stgt_life",
    "bookworm",
)
# How often a topic is among a persona's interests (a café's audience: food and coffee first).
TOPIC_WEIGHTS = {
    "coffee": 9, "food": 9, "baking": 8, "swabian": 6, "events": 6, "family": 5,
    "sustainability": 5, "deals": 5, "culture": 4, "sports": 4, "fashion": 3, "tech": 3,
}  # fmt: skip


def _profile(peaks: dict[tuple[int, int], float], base: float = 0.05) -> tuple[float, ...]:
    hours = [base] * 24
    for (start, end), level in peaks.items():
        for h in range(start, end + 1):
            hours[h % 24] = max(hours[h % 24], level)
    return tuple(hours)


# Name: (weekday activity by local hour, weekend activity by local hour), each 0..1.
ACTIVITY_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "early_bird": (
        _profile({(6, 8): 1.0, (9, 11): 0.3, (12, 13): 0.6, (14, 16): 0.25, (17, 19): 0.7, (20, 21): 0.3}),
        _profile({(7, 11): 1.0, (12, 14): 0.5, (15, 18): 0.6, (19, 21): 0.3}),
    ),
    "office": (
        _profile({(7, 8): 0.6, (9, 11): 0.2, (12, 13): 0.9, (14, 16): 0.2, (17, 21): 1.0, (22, 22): 0.5}),
        _profile({(9, 9): 0.5, (10, 13): 0.9, (14, 14): 0.6, (15, 22): 0.8}),
    ),
    "evening": (
        _profile({(7, 8): 0.2, (12, 12): 0.4, (13, 17): 0.15, (18, 23): 1.0}),
        _profile({(10, 10): 0.4, (11, 14): 0.7, (15, 16): 0.5, (17, 23): 1.0}),
    ),
    "night_owl": (
        _profile({(10, 12): 0.2, (13, 15): 0.4, (16, 19): 0.3, (20, 23): 1.0, (0, 1): 1.0, (2, 2): 0.5}),
        _profile({(11, 11): 0.3, (12, 15): 0.6, (16, 20): 0.5, (21, 23): 1.0, (0, 2): 1.0}),
    ),
    "family": (
        _profile({(6, 7): 0.5, (9, 11): 0.8, (12, 13): 0.4, (14, 16): 0.7, (17, 19): 0.3, (20, 21): 0.9}),
        _profile({(7, 7): 0.5, (8, 12): 1.0, (13, 13): 0.5, (14, 17): 0.7, (20, 21): 0.6}),
    ),
}
PROFILE_WEIGHTS = {"early_bird": 2, "office": 4, "evening": 3, "night_owl": 1, "family": 2}


@dataclass(frozen=True)
class PersonaSpec:
    id: int
    handle: str
    name: str
    language: str
    interests: tuple[str, ...]
    active_profile: str
    habits: dict[str, float]


def local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def activity(profile: str, when: dt.datetime) -> float:
    """How likely a persona with `profile` is online at `when` (0..1, local time)."""
    local = when.astimezone(local_zone())
    weekday, weekend = ACTIVITY_PROFILES[profile]
    return (weekend if local.weekday() >= 5 else weekday)[local.hour]


def _ascii(text: str) -> str:
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum())


def _generate(rng: random.Random, index: int) -> PersonaSpec:
    language = "de" if rng.random() < 0.7 else "en"
    first = rng.choice(FIRST_DE if language == "de" else FIRST_EN)
    last = rng.choice(LAST_DE if language == "de" or rng.random() < 0.15 else LAST_EN)
    style = rng.random()
    # Every handle ends in the persona's index, so handles are unique for any seed.
    if style < 0.4:
        handle = f"{_ascii(first)}.{_ascii(last)}{index}"
    elif style < 0.7:
        handle = f"{_ascii(first)}_{_ascii(last)[:1]}{index}"
    elif style < 0.85:
        handle = f"{_ascii(first)}{_ascii(last)}{index}"
    else:
        handle = f"{rng.choice(HOBBY_HANDLES)}_{_ascii(first)}{index}"
    topics = list(TOPIC_WEIGHTS)
    interests: list[str] = []
    for _ in range(rng.randint(2, 5)):
        choice = rng.choices(topics, weights=[TOPIC_WEIGHTS[t] for t in topics])[0]
        if choice not in interests:
            interests.append(choice)
    profile = rng.choices(list(PROFILE_WEIGHTS), weights=list(PROFILE_WEIGHTS.values()))[0]
    # A third lurk (see a lot, do little); a tenth are chatty.
    temper = 0.35 if rng.random() < 0.33 else (1.8 if rng.random() < 0.15 else 1.0)
    habits = {
        "like": min(0.9, rng.uniform(0.08, 0.45) * temper),
        "comment": min(0.4, rng.uniform(0.01, 0.09) * temper),
        "question": min(0.3, rng.uniform(0.005, 0.05) * temper),
        "share": min(0.3, rng.uniform(0.003, 0.04) * temper),
        "click": min(0.6, rng.uniform(0.03, 0.3)),
        "follow": min(0.4, rng.uniform(0.02, 0.12)),
    }
    return PersonaSpec(
        id=index + 1,
        handle=handle,
        name=f"{first} {last}",
        language=language,
        interests=tuple(interests),
        active_profile=profile,
        habits={k: round(v, 4) for k, v in habits.items()},
    )


@cache
def _specs(seed: int) -> tuple[PersonaSpec, ...]:
    assert set(TOPIC_WEIGHTS) == set(TOPICS)
    return tuple(_generate(random.Random(f"{seed}:persona:{i}"), i) for i in range(POOL_SIZE))


def specs() -> tuple[PersonaSpec, ...]:
    """The personas of settings.SANDBOX_SEED (index i has primary key i + 1)."""
    return _specs(int(settings.SANDBOX_SEED))


# Every SECOND_ACCOUNT_EVERY-th persona keeps a second account (the next persona) and names it in
# its bio, as people do ("also here: ..."): the people's merge suggestions find them by that link.
SECOND_ACCOUNT_EVERY = 40


def profile_links(persona_id: int) -> list[str]:
    """The links in a persona's bio (the Sandbox's `author_links`): the address of their second
    account's page for every SECOND_ACCOUNT_EVERY-th persona from the 8th, else none."""
    if persona_id % SECOND_ACCOUNT_EVERY != 8 or persona_id >= POOL_SIZE:
        return []
    other = specs()[persona_id]  # the next persona (index = id - 1)
    return [f"{settings.BASE_URL.rstrip('/')}/sandbox/{other.handle}/"]


def _row(spec: PersonaSpec) -> SandboxPersona:
    return SandboxPersona(
        id=spec.id,
        handle=spec.handle,
        name=spec.name,
        language=spec.language,
        interests=list(spec.interests),
        active_profile=spec.active_profile,
        habits=spec.habits,
    )


def ensure_personas() -> None:
    """Write the personas of the current seed to the database (one cheap query when present)."""
    pool = specs()
    last = pool[-1]
    if SandboxPersona.objects.filter(pk=last.id, handle=last.handle).exists():
        return
    existing = dict(SandboxPersona.objects.values_list("id", "handle"))
    SandboxPersona.objects.bulk_create(
        [_row(s) for s in pool if s.id not in existing], ignore_conflicts=True, batch_size=500
    )
    changed = [_row(s) for s in pool if s.id in existing and existing[s.id] != s.handle]
    if changed:  # the seed changed since the table was filled
        SandboxPersona.objects.bulk_update(
            changed,
            ["handle", "name", "language", "interests", "active_profile", "habits"],
            batch_size=500,
        )
