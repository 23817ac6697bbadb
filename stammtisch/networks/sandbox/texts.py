"""What the simulated audience reads and writes.

`analyse(text, link, media_count)` reads a post the way the simulation needs it: topics (keyword
match against `TOPICS`), language (de/en), promotional wording, questions and calls to comment,
value markers (tips, recipes, behind the scenes), length. `comment(rng, ...)` and `answer(rng, ...)`
write short, varied comments, questions and answers in German or English from templates, slots and
the topics' vocabulary (thousands of distinct outputs). All of it is deterministic for a given
`random.Random`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Topic:
    keywords: tuple[str, ...]  # regular expressions (lower case) matched in a post's text
    items_de: tuple[tuple[str, str], ...]  # (noun, gender: m, f, n, pl)
    items_en: tuple[str, ...]
    remarks_de: tuple[str, ...] = ()
    remarks_en: tuple[str, ...] = ()


TOPICS: dict[str, Topic] = {
    "coffee": Topic(
        keywords=(
            "kaffee",
            "coffee",
            "espresso",
            "cappuccino",
            "latte",
            "barista",
            "bohne",
            r"\bbeans?\b",
            "röst",
            "roast",
            "flat white",
            "cold brew",
            "chai",
        ),
        items_de=(
            ("Cappuccino", "m"),
            ("Flat White", "m"),
            ("Espresso", "m"),
            ("Filterkaffee", "m"),
            ("Hafer-Latte", "m"),
            ("Cold Brew", "m"),
            ("Kaffeebohnen", "pl"),
            ("Chai Latte", "m"),
        ),
        items_en=(
            "cappuccino",
            "flat white",
            "espresso",
            "filter coffee",
            "oat latte",
            "cold brew",
            "house blend",
            "chai latte",
        ),
        remarks_de=(
            "Ohne meinen Kaffee bei euch geht gar nichts",
            "Der Milchschaum ist jedes Mal perfekt",
            "Endlich guter Kaffee in der Nähe",
        ),
        remarks_en=(
            "Can't start my day without your coffee",
            "The latte art is always on point",
            "Finally proper coffee nearby",
        ),
    ),
    "baking": Topic(
        keywords=(
            "kuchen",
            "cake",
            "backen",
            "bake",
            "baking",
            "brezel",
            "pretzel",
            "croissant",
            "zimtschnecke",
            "cinnamon",
            "brot",
            "bread",
            "sauerteig",
            "sourdough",
            "torte",
            "gebäck",
            "pastry",
            "hefezopf",
        ),
        items_de=(
            ("Apfelkuchen", "m"),
            ("Zimtschnecken", "pl"),
            ("Laugenbrezel", "f"),
            ("Hefezopf", "m"),
            ("Käsekuchen", "m"),
            ("Sauerteigbrot", "n"),
            ("Croissants", "pl"),
            ("Rhabarberkuchen", "m"),
        ),
        items_en=(
            "apple cake",
            "cinnamon rolls",
            "pretzels",
            "cheesecake",
            "sourdough",
            "croissants",
            "plum cake",
            "banana bread",
        ),
        remarks_de=("Es duftet bis auf die Straße", "Wie bei Oma früher", "Da kann ich nie widerstehen"),
        remarks_en=("You can smell it from the street", "Just like grandma used to make", "I can never resist"),
    ),
    "food": Topic(
        keywords=(
            "frühstück",
            "breakfast",
            "lunch",
            "mittag",
            "brunch",
            r"\bessen\b",
            "food",
            "salat",
            "salad",
            "suppe",
            "soup",
            "bowl",
            "lecker",
            "delicious",
            "rezept",
            "recipe",
            "menu",
            "speisekarte",
            "gericht",
            "dish",
        ),
        items_de=(
            ("Frühstück", "n"),
            ("Mittagstisch", "m"),
            ("Tagessuppe", "f"),
            ("Quiche", "f"),
            ("Salat", "m"),
            ("Bowl", "f"),
            ("Brunch", "m"),
            ("Rührei", "n"),
        ),
        items_en=(
            "breakfast",
            "lunch special",
            "soup of the day",
            "quiche",
            "salad",
            "bowl",
            "brunch",
            "scrambled eggs",
        ),
        remarks_de=("Die Portionen sind echt großzügig", "Alles frisch, das schmeckt man"),
        remarks_en=("The portions are really generous", "Everything is so fresh, you can taste it"),
    ),
    "swabian": Topic(
        keywords=(
            "schwäb",
            "swabia",
            "maultasch",
            "spätzle",
            "spaetzle",
            "stuttgart",
            "kehrwoche",
            "ländle",
            "linsen",
            "viertele",
            "träubles",
            "besen",
            "heimat",
        ),
        items_de=(
            ("Maultaschen", "pl"),
            ("Käsespätzle", "pl"),
            ("Zwiebelrostbraten", "m"),
            ("Linsen mit Spätzle", "pl"),
            ("Flädlesuppe", "f"),
            ("Träubleskuchen", "m"),
            ("Schupfnudeln", "pl"),
            ("Ofenschlupfer", "m"),
        ),
        items_en=(
            "Maultaschen",
            "Käsespätzle",
            "Zwiebelrostbraten",
            "lentils with Spätzle",
            "pancake soup",
            "Schupfnudeln",
            "Spätzle",
            "Swabian ravioli",
        ),
        remarks_de=("So schmeckt Heimat", "Des isch halt echt guad", "Da wird's einem warm ums Herz"),
        remarks_en=("Proper Swabian food, love it", "This is why I love living in Stuttgart"),
    ),
    "events": Topic(
        keywords=(
            "event",
            "veranstaltung",
            "konzert",
            "concert",
            r"\blive\b",
            "lesung",
            "reading",
            "workshop",
            r"fest\b",
            "party",
            "quiz",
            "ticket",
            "anmeld",
            "sign up",
            "termin",
            "weinprobe",
            "tasting",
            "flohmarkt",
        ),
        items_de=(
            ("Lesung", "f"),
            ("Live-Musik", "f"),
            ("Weinprobe", "f"),
            ("Quizabend", "m"),
            ("Flohmarkt", "m"),
            ("Workshop", "m"),
            ("Sommerfest", "n"),
            ("Jazzabend", "m"),
        ),
        items_en=(
            "reading",
            "live music",
            "wine tasting",
            "quiz night",
            "flea market",
            "workshop",
            "summer party",
            "jazz night",
        ),
        remarks_de=("Letztes Mal war es so schön", "Da sind wir auf jeden Fall dabei"),
        remarks_en=("Last time was so much fun", "We'll definitely be there"),
    ),
    "family": Topic(
        keywords=(
            "familie",
            "family",
            "kinder",
            "kids",
            "children",
            "eltern",
            "parents",
            "baby",
            "mama",
            "papa",
            r"\boma\b",
            r"\bopa\b",
        ),
        items_de=(
            ("Kinderecke", "f"),
            ("Familienfrühstück", "n"),
            ("Kinderteller", "m"),
            ("Wickelraum", "m"),
            ("Spielecke", "f"),
            ("Kindergeburtstag", "m"),
        ),
        items_en=("kids corner", "family breakfast", "kids menu", "baby changing room", "play area", "kids party"),
        remarks_de=("Endlich ein Café, in dem Kinder willkommen sind", "Unsere Kleinen lieben es bei euch"),
        remarks_en=("Finally a café where kids are welcome", "Our little ones love it there"),
    ),
    "sustainability": Topic(
        keywords=(
            "nachhaltig",
            "sustainab",
            "regional",
            "local",
            r"\bbio",
            "organic",
            "mehrweg",
            "reusable",
            "plastik",
            "plastic",
            "klima",
            "climate",
            r"\bfair",
            "umwelt",
            "environment",
            "zero waste",
            "saison",
            "season",
            "vegan",
            "vegetar",
        ),
        items_de=(
            ("Mehrwegbecher", "m"),
            ("Bio-Milch", "f"),
            ("regionalen Zutaten", "pl"),
            ("Pfandsystem", "n"),
            ("Lastenrad", "n"),
            ("Hafermilch", "f"),
        ),
        items_en=("reusable cups", "organic milk", "local ingredients", "deposit system", "cargo bike", "oat milk"),
        remarks_de=("Toll, dass ihr so auf Nachhaltigkeit achtet", "Mehr davon, bitte!"),
        remarks_en=("Love that you care about sustainability", "More of this, please!"),
    ),
    "fashion": Topic(
        keywords=(
            r"\bmode\b",
            "fashion",
            "kollektion",
            "collection",
            "shirt",
            "merch",
            "outfit",
            "style",
            "design",
            "jutebeutel",
            "tote",
        ),
        items_de=(("Jutebeutel", "m"), ("Kollektion", "f"), ("Schürzen", "pl"), ("T-Shirts", "pl"), ("Tassen", "pl")),
        items_en=("tote bag", "collection", "aprons", "t-shirts", "merch", "mugs"),
        remarks_de=("Will ich haben!", "Das wäre ein schönes Geschenk"),
        remarks_en=("I want one!", "That would make a lovely gift"),
    ),
    "sports": Topic(
        keywords=(
            "sport",
            "vfb",
            "fußball",
            "football",
            "soccer",
            r"\blauf",
            "stadtlauf",
            r"\brun\b",
            r"\brunning",
            r"\brad\b",
            "radtour",
            "bike",
            "cycling",
            "fitness",
            "yoga",
            r"\bspiel",
            "match",
            "training",
            "marathon",
        ),
        items_de=(
            ("VfB-Spiel", "n"),
            ("Stadtlauf", "m"),
            ("Radtour", "f"),
            ("Public Viewing", "n"),
            ("Lauftreff", "m"),
            ("Yoga-Kurs", "m"),
        ),
        items_en=("VfB match", "city run", "bike tour", "public viewing", "running club", "yoga class"),
        remarks_de=("Nach dem Laufen genau das Richtige", "Auf geht's VfB!"),
        remarks_en=("Exactly what I need after a run", "Come on VfB!"),
    ),
    "tech": Topic(
        keywords=(
            r"\bapps?\b",
            "online",
            "digital",
            "wlan",
            "wifi",
            "website",
            "newsletter",
            "podcast",
            r"\btech",
            "bestell",
            r"\border",
            r"\bqr\b",
        ),
        items_de=(
            ("App", "f"),
            ("WLAN", "n"),
            ("Kartenzahlung", "f"),
            ("Online-Bestellung", "f"),
            ("Newsletter", "m"),
            ("Podcast", "m"),
        ),
        items_en=("app", "wifi", "card payment", "online ordering", "newsletter", "podcast"),
        remarks_de=("Super praktisch, danke!", "Das spart echt Zeit"),
        remarks_en=("Super handy, thanks!", "That saves so much time"),
    ),
    "culture": Topic(
        keywords=(
            "kultur",
            "culture",
            "kunst",
            r"\bart\b",
            "ausstellung",
            "exhibition",
            "museum",
            "theater",
            "theatre",
            "musik",
            "music",
            "vernissage",
            "galerie",
            "gallery",
            "poetry",
            r"\bbuch\b",
            "bücher",
            r"\bbooks?\b",
            "literatur",
            "geschichte",
            "history",
        ),
        items_de=(
            ("Ausstellung", "f"),
            ("Konzert", "n"),
            ("Theaterabend", "m"),
            ("Poetry Slam", "m"),
            ("Vernissage", "f"),
            ("Stadtführung", "f"),
        ),
        items_en=("exhibition", "concert", "theatre night", "poetry slam", "vernissage", "city tour"),
        remarks_de=("So viel Kultur im Viertel, toll", "Die Bilder sind wunderschön"),
        remarks_en=("So much culture in the neighbourhood", "The artwork is beautiful"),
    ),
    "deals": Topic(
        keywords=(
            "rabatt",
            "angebot",
            "sale",
            "% off",
            "prozent",
            "gutschein",
            "voucher",
            "coupon",
            "discount",
            r"\bdeals?\b",
            r"\baktion",
            "sparen",
            "gratis",
            "nur heute",
            "today only",
            "happy hour",
            "reduziert",
            "2 für 1",
            "2 for 1",
        ),
        items_de=(
            ("Angebot", "n"),
            ("Gutschein", "m"),
            ("Happy Hour", "f"),
            ("Stempelkarte", "f"),
            ("Rabatt", "m"),
            ("Mittagsangebot", "n"),
        ),
        items_en=("offer", "voucher", "happy hour", "loyalty card", "discount", "lunch deal"),
        remarks_de=("Da schlag ich zu", "Gleich mal weitersagen"),
        remarks_en=("I'm in!", "Telling all my friends"),
    ),
}

PROMO_PATTERNS = re.compile(
    r"rabatt|angebot|\bsale\b|% ?off|\d+ ?%|prozent|gutschein|voucher|coupon|discount|\bdeals?\b|\baktion"
    r"|sparen|\bsave\b|gratis|jetzt kaufen|buy now|shop now|nur heute|today only|reduziert|2 für 1"
    r"|2 for 1|jetzt bestellen|order now|limitiert|limited",
    re.IGNORECASE,
)
VALUE_PATTERNS = re.compile(
    r"tipp|\btips?\b|rezept|recipe|so geht|how to|hinter den kulissen|behind the scenes|wusstet ihr"
    r"|did you know|geschichte|story|anleitung|guide|fun fact|wie wir|how we|stellen vor|meet ",
    re.IGNORECASE,
)
INVITE_PATTERNS = re.compile(
    r"was meint ihr|was denkt ihr|verratet|erzählt|schreibt uns|kommentier|tell us|what do you think"
    r"|let us know|comment|welche[rsn]?\b|euer lieblings|eure lieblings|your favou?rite|which ",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-zäöüß']+", re.IGNORECASE)
_DE_WORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "wir",
        "ihr",
        "euch",
        "mit",
        "für",
        "auf",
        "ein",
        "eine",
        "bei",
        "uns",
        "heute",
        "noch",
        "auch",
        "schon",
        "zum",
        "zur",
        "vom",
        "im",
        "am",
        "es",
        "gibt",
        "wer",
        "wie",
        "was",
        "wann",
        "unser",
        "unsere",
        "eure",
        "euer",
        "dem",
        "den",
        "sich",
    ]
)
_EN_WORDS = frozenset(
    [
        "the",
        "and",
        "is",
        "are",
        "we",
        "you",
        "our",
        "with",
        "for",
        "on",
        "a",
        "an",
        "at",
        "us",
        "today",
        "still",
        "also",
        "this",
        "that",
        "it's",
        "there",
        "your",
        "of",
        "to",
        "what",
        "when",
        "who",
        "how",
        "come",
        "new",
        "from",
        "just",
    ]
)


def detect_language(text: str) -> str:
    """ "de" or "en" by stop words (umlauts count for German); German when in doubt."""
    words = [w.lower() for w in _WORD.findall(text)]
    de = sum(w in _DE_WORDS for w in words) + sum(ch in "äöüß" for ch in text.lower())
    en = sum(w in _EN_WORDS for w in words)
    return "en" if en > de else "de"


_TOPIC_PATTERNS = {key: re.compile("|".join(t.keywords), re.IGNORECASE) for key, t in TOPICS.items()}


def detect_topics(text: str) -> list[str]:
    """Topic keys whose keywords occur in the text, most matches first."""
    scores = {key: len(pattern.findall(text)) for key, pattern in _TOPIC_PATTERNS.items()}
    return [key for key, score in sorted(scores.items(), key=lambda kv: -kv[1]) if score > 0]


def analyse(text: str, link: str = "", media_count: int = 0) -> dict[str, Any]:
    """What the simulation reads from a post (stored as SandboxPost.features)."""
    promo = bool(PROMO_PATTERNS.search(text))
    topics = detect_topics(text)
    if promo and "deals" not in topics:
        topics.append("deals")
    return {
        "topics": topics[:4],
        "language": detect_language(text),
        "promo": promo,
        "value": bool(VALUE_PATTERNS.search(text)),
        "questions": text.count("?"),
        "invites": bool(INVITE_PATTERNS.search(text)),
        "link": bool(link),
        "media": media_count,
        "length": len(text),
    }


# German articles and verb forms by gender: nominative, accusative, "ist", "war", "sieht".
_DE_FORMS = {
    "m": ("der", "den", "ist", "war", "sieht"),
    "f": ("die", "die", "ist", "war", "sieht"),
    "n": ("das", "das", "ist", "war", "sieht"),
    "pl": ("die", "die", "sind", "waren", "sehen"),
}
DAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WHEN_DE = ("heute Abend", "morgen früh", "am Wochenende", "nächste Woche", "morgen Mittag", "gleich")
WHEN_EN = ("tonight", "tomorrow morning", "this weekend", "next week", "tomorrow at lunch", "later today")
TOWNS = (
    "Esslingen",
    "Ludwigsburg",
    "Böblingen",
    "Fellbach",
    "Waiblingen",
    "Sindelfingen",
    "Leonberg",
    "Bad Cannstatt",
    "Degerloch",
    "Vaihingen",
    "Feuerbach",
    "Zuffenhausen",
)
FRIENDS = (
    "lena",
    "jonas",
    "marie_s",
    "tobi",
    "caro",
    "felix.k",
    "sophie",
    "max_96",
    "anni",
    "ben",
    "emily",
    "jack",
    "sarah_j",
    "tom",
    "nina",
    "chris",
    "steffi",
    "micha",
    "julia.b",
    "paul",
)

OPENERS_DE = (
    "Oh wow!",
    "Boah!",
    "Ach wie schön!",
    "Yes!",
    "Hammer!",
    "Wie cool!",
    "Oh, lecker!",
    "Juhu!",
    "Endlich!",
    "Super!",
    "Hach!",
    "Na endlich!",
)
OPENERS_EN = ("Oh wow!", "Yes!", "Omg!", "Amazing!", "Love it!", "Aww!", "Ooh!", "So good!", "Finally!", "Wow!", "Yay!")
CLOSERS = (" 😍", " 👍", "!!", " ❤️", " 🙌", " 😋", " 🔥", " 😊", " ☕", " 🥨", " 👏", "!")
EMOJI_ONLY = ("😍😍", "🔥🔥🔥", "👏👏", "❤️", "😋😋", "🙌", "😍🙌", "🤤", "👍👍", "☕❤️")

CORES_DE = (
    "Mega lecker, war gestern da",
    "{Nom} {sieht} einfach traumhaft aus",
    "{Nom} {ist} der Hammer",
    "Für {acc} würde ich quer durch Stuttgart fahren",
    "Wir waren am {day} da, {nom} {war} top",
    "Da muss ich {when} unbedingt vorbei",
    "Genau mein Ding",
    "Ich liebe {acc}",
    "Endlich wieder {item}",
    "Sieht super aus, da bekomm ich direkt Hunger",
    "Hab {acc} letzte Woche probiert, kann ich nur empfehlen",
    "Immer wieder schön bei euch",
    "Ihr seid einfach die Besten",
    "So ein tolles Team",
    "Wie gemütlich das aussieht",
    "Ohne euch wäre Stuttgart nur halb so schön",
    "Macht weiter so",
    "Schon gespeichert",
    "Wird am {day} direkt ausprobiert",
    "Mein {day}sritual: {item} bei euch",
    "{Nom} {war} letztes Mal schon so gut",
    "Da läuft mir das Wasser im Mund zusammen",
    "Schöner kann ein {day} nicht anfangen",
    "Was für ein schöner Beitrag",
    "Danke für die Inspiration",
    "Hab ich direkt meiner Schwester geschickt",
    "Bei euch fühlt man sich einfach wohl",
    "Das klingt nach einem perfekten {day}",
    "Ich komme {when} mit der ganzen Familie",
    "{Nom} {ist} jedes Mal ein Genuss",
    "Bin Stammgast und immer wieder begeistert",
    "Klingt toll, bin dabei",
)
CORES_EN = (
    "Love the new {item}",
    "The {item} looks amazing",
    "Best {item} in Stuttgart, hands down",
    "We were there on {day}, the {item} was great",
    "Need to try the {item} {when}",
    "This is exactly my thing",
    "Always a pleasure coming to you",
    "You guys are the best",
    "Such a cosy place",
    "Saving this for later",
    "Had the {item} last week, highly recommend",
    "Can't wait for {day}",
    "Reminds me of home",
    "Keep up the great work",
    "My favourite spot in town",
    "Looks so good, now I'm hungry",
    "Finally, the {item} is back",
    "Great vibes as always",
    "This made my day",
    "Sent this to my sister right away",
    "Such a lovely team",
    "The {item} was the highlight of my {day}",
    "Coming by {when} with friends",
    "Honestly the best {item} I've had in ages",
    "Regular here and never disappointed",
    "Sounds great, count me in",
)
QUESTIONS_DE = (
    "Wann habt ihr am {day} offen?",
    "Gibt es {acc} auch vegan?",
    "{Ist} {nom} glutenfrei?",
    "Kann man bei euch reservieren?",
    "Habt ihr {acc} auch zum Mitnehmen?",
    "Bis wann gibt es {acc} noch?",
    "Was kostet {nom}?",
    "Sind Hunde bei euch erlaubt?",
    "Gibt's {acc} auch am {day}?",
    "Habt ihr am {day} noch Plätze frei?",
    "Kann man bei euch mit Karte zahlen?",
    "Macht ihr auch Catering?",
    "Ist das auch für Kinder geeignet?",
    "Gibt es {acc} jeden Tag oder nur am Wochenende?",
    "Woher bekommt ihr eure Zutaten?",
    "Kann ich {acc} auch vorbestellen?",
    "Habt ihr auch laktosefreie Milch?",
    "Wie lange geht das noch?",
    "Muss man sich dafür anmelden?",
    "Gibt's da auch was ohne Zucker?",
    "Liefert ihr auch nach {town}?",
    "{Ist} {nom} selbst gemacht?",
    "Habt ihr {when} geöffnet?",
    "Gibt es in der Nähe Parkplätze?",
    "Wird es das nochmal geben?",
)
QUESTIONS_EN = (
    "Is the {item} vegan?",
    "Is it gluten-free?",
    "What time do you open on {day}?",
    "Can I book a table for {day}?",
    "Do you have the {item} to go?",
    "How long will the {item} be available?",
    "How much is the {item}?",
    "Are dogs allowed?",
    "Do you take cards?",
    "Do you do catering?",
    "Is it kid-friendly?",
    "Can I pre-order the {item}?",
    "Do you have oat milk?",
    "Do I need to sign up?",
    "Do you deliver to {town}?",
    "Is the {item} made in-house?",
    "Where do you source your ingredients?",
    "Any sugar-free options?",
    "Is there parking nearby?",
    "Will there be more dates?",
    "Are you open {when}?",
    "Is the {item} available every day?",
)
PROMO_QUESTIONS_DE = (
    "Gilt der Rabatt auch {when}?",
    "Kann man das mit der Stempelkarte kombinieren?",
    "Gilt das Angebot auch online?",
    "Bis wann läuft die Aktion?",
    "Gilt das auch für Studierende?",
    "Gilt das auch am {day}?",
)
PROMO_QUESTIONS_EN = (
    "Does the discount apply {when} too?",
    "Can I combine it with my loyalty card?",
    "Is the offer valid online?",
    "When does the sale end?",
    "Is there a student discount too?",
    "Is that valid on {day} as well?",
)
LINK_REMARKS_DE = ("Danke für den Link!", "Hab's gelesen, sehr interessant", "Spannender Artikel")
LINK_REMARKS_EN = ("Thanks for the link!", "Read it, really interesting", "Great article")
TAGS_DE = (
    "@{friend} schau mal, da müssen wir hin!",
    "@{friend} das wär doch was für uns",
    "@{friend} am {day}?",
    "@{friend} guck mal, {nom} {ist} wieder da!",
    "@{friend} 😍",
)
TAGS_EN = (
    "@{friend} we have to go!",
    "@{friend} look at this 😍",
    "@{friend} {day}?",
    "@{friend} this is so us",
    "@{friend} the {item}!!",
)
ANSWERS_DE = (
    "Danke für die schnelle Antwort!",
    "Super, dann komme ich am {day} vorbei",
    "Perfekt, danke euch!",
    "Alles klar, bis {when}!",
    "Danke, das hilft mir sehr",
    "Oh super, ich freu mich!",
    "Top, dann reserviere ich gleich",
    "Ah okay, schade. Dann beim nächsten Mal!",
    "Merci! 🙏",
    "Klasse, danke für die Info",
    "Ihr seid spitze, danke!",
    "Wunderbar, dann bis {day}!",
)
ANSWERS_EN = (
    "Thanks for the quick reply!",
    "Great, I'll come by on {day}",
    "Perfect, thank you!",
    "Got it, see you {when}!",
    "Thanks, that helps a lot",
    "Oh great, can't wait!",
    "Brilliant, I'll book a table then",
    "Ah okay, next time then!",
    "Cheers! 🙏",
    "Awesome, thanks for letting me know",
    "You're the best, thanks!",
    "Lovely, see you on {day}!",
)


def _slots(rng: random.Random, language: str, topic_key: str) -> dict[str, str]:
    topic = TOPICS[topic_key]
    slots = {
        "day": rng.choice(DAYS_DE if language == "de" else DAYS_EN),
        "when": rng.choice(WHEN_DE if language == "de" else WHEN_EN),
        "town": rng.choice(TOWNS),
        "friend": rng.choice(FRIENDS),
    }
    if language == "de":
        noun, gender = rng.choice(topic.items_de)
        nom, acc, ist, war, sieht = _DE_FORMS[gender]
        slots.update(
            item=noun,
            nom=f"{nom} {noun}",
            Nom=f"{nom.capitalize()} {noun}",
            acc=f"{acc} {noun}",
            ist=ist,
            Ist=ist.capitalize(),
            war=war,
            sieht=sieht,
        )
    else:
        slots["item"] = rng.choice(topic.items_en)
    return slots


def _pick_topic(rng: random.Random, post_topics: list[str], interests: list[str]) -> str:
    shared = [t for t in post_topics if t in interests]
    pool = shared or post_topics or interests or ["food"]
    return rng.choice(pool)


def comment(
    rng: random.Random,
    *,
    language: str,
    post_topics: list[str],
    interests: list[str],
    question: bool,
    features: dict[str, Any],
) -> str:
    """One comment (or, with `question`, one question) of a persona on a post."""
    de = language == "de"
    topic_key = _pick_topic(rng, post_topics, interests)
    slots = _slots(rng, language, topic_key)
    if question:
        if features.get("promo") and rng.random() < 0.5:
            template = rng.choice(PROMO_QUESTIONS_DE if de else PROMO_QUESTIONS_EN)
        else:
            template = rng.choice(QUESTIONS_DE if de else QUESTIONS_EN)
        text = template.format_map(slots)
        if rng.random() < 0.25:
            text = f"{rng.choice(OPENERS_DE if de else OPENERS_EN)} {text}"
        return text
    roll = rng.random()
    if roll < 0.06:
        return rng.choice(EMOJI_ONLY)
    if roll < 0.16:
        return rng.choice(TAGS_DE if de else TAGS_EN).format_map(slots)
    if roll < 0.22 and features.get("link"):
        core = rng.choice(LINK_REMARKS_DE if de else LINK_REMARKS_EN)
    elif roll < 0.4:
        topic = TOPICS[topic_key]
        remarks = topic.remarks_de if de else topic.remarks_en
        core = rng.choice(remarks) if remarks else rng.choice(CORES_DE if de else CORES_EN)
    else:
        core = rng.choice(CORES_DE if de else CORES_EN).format_map(slots)
    if rng.random() < 0.3:
        opener = rng.choice(OPENERS_DE if de else OPENERS_EN)
        if core.split()[0].lower().strip("!,") != opener.split()[0].lower().strip("!,"):
            core = f"{opener} {core}"
    if core[-1] not in "!?.":
        core += rng.choice(CLOSERS) if rng.random() < 0.7 else ""
    return core


def answer(rng: random.Random, *, language: str, interests: list[str]) -> str:
    """A persona's answer to our reply."""
    slots = _slots(rng, language, _pick_topic(rng, [], interests))
    text = rng.choice(ANSWERS_DE if language == "de" else ANSWERS_EN).format_map(slots)
    if rng.random() < 0.3 and text[-1] not in "!?🙏":
        text += rng.choice(CLOSERS)
    return text
