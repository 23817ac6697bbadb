"""Hand-written rules: the parts of triage that have no public labelled data here.

Patterns are matched on the cleaned text in lower case. German and English side by side; each list
names what it catches so a wrong hit is easy to trace. See docs/triage.md for how well they do.
"""

from __future__ import annotations

import re
import unicodedata


def _any(*patterns: str) -> re.Pattern[str]:
    # Matched against lower-cased text (no IGNORECASE: it makes these alternations slower).
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|ly|io|biz|info)(?:/\S*)?\b", re.I)

SPAM = _any(
    # self-promotion (YouTube's classic) and follower selling
    r"\b(?:check|chek|visit|see) (?:out )?(?:my|our) (?:new )?(?:channel|vid(?:eo)?s?|page|profile|music|playlist)",
    r"\bsub(?:scribe)?s? (?:to|4|for) (?:my|me|sub)",
    r"\b(?:please |pls |plz )?subscribe\b.*\bmy\b",
    r"\bfollow (?:me|my page|back)\b",
    r"\b(?:free|buy|get) (?:\d+ )?(?:followers|likes|views|subscribers)\b",
    r"\bschau(?:t)? (?:dir |euch )?(?:mal )?(?:meinen|unseren) (?:kanal|account|profil)",
    r"\b(?:folgt|abonniert) (?:mir|meinen kanal)",
    r"\bgratis[- ]?(?:follower|likes)",
    # money-making and crypto
    r"\b(?:bitcoin|btc|crypto|krypto|ethereum|forex|binary options|nft drop|airdrop)\b",
    r"\b(?:make|earn|verdiene?n?) (?:\$|€)?\d[\d,.]*k?\s*(?:\$|€|dollars?|euro)? ?(?:per|a|pro|im|am|in) "
    r"(?:day|week|month|tag|woche|monat)",
    r"\b(?:make money|passive income|work from home|get rich|geld verdienen|nebenverdienst|von zuhause arbeiten)\b",
    r"\b(?:investment|invest) (?:opportunity|with me)\b",
    # contact bait, prizes, adult
    r"\b(?:whatsapp|telegram|dm me|text me|schreib mir)\b.{0,20}\+?\d[\d ]{6,}",
    r"\+\d{2}[\d ]{8,}",
    r"\b(?:you(?:'ve| have)? won|gewonnen|claim your (?:prize|gift)|gewinnspiel-?link)\b",
    r"\b(?:onlyfans|hot singles|sexy girls?|xxx)\b",
    r"\b(?:click|klick) (?:on |auf )?(?:the |this |den |diesen )?link\b",
    r"\bpromo ?code\b.*\b(?:link|bio)\b",
)

COMPLAINT = _any(
    # German
    r"\b(?:leider|enttäusch\w*|unverschämt\w*|frechheit|katastroph\w*|miserabel|grottig|mies\w*)",
    r"\b(?:schlecht\w*|unfreundlich\w*|unzufrieden|nicht zufrieden|ärgerlich|verärgert|sauer)\b",
    r"\b(?:beschwer\w*|reklamation\w*|reklamier\w*|rückerstatt\w*|erstattung|geld zurück)",
    r"\b(?:kaputt|defekt|beschädigt|falsch geliefert|nie angekommen|nicht angekommen|noch nicht angekommen)\b",
    r"\b(?:immer noch nicht|noch immer nicht|nie wieder|keine antwort|keiner antwortet|geht gar nicht)\b",
    r"\b(?:warte|warten|wartet) (?:seit|schon|jetzt schon)\b",
    r"\b(?:kalt|lauwarm|verbrannt|versalzen|dreckig|schmutzig|schimmel\w*|überteuert|abzocke)\b",
    # English
    r"\b(?:disappoint\w*|terrible|awful|horrible|worst|rude|unacceptable|ridiculous|disgusting|appalling)\b",
    r"\b(?:refund|complain\w*|broken|damaged|faulty|defective|wrong (?:order|item|size)|overpriced|ripped off)\b",
    r"\b(?:never (?:again|arrived|received)|(?:hasn't|has not|haven't|have not|still not|didn't|did not) "
    r"(?:arrived|received|come|heard)|still (?:waiting|no|haven't|hasn't)|no (?:response|reply|answer))\b",
    r"\b(?:been waiting|waited (?:for )?(?:over )?(?:an|\d+|two|three) (?:hours?|days?|weeks?))\b",
    r"\b(?:not happy|unhappy|fed up|sick of|cold (?:coffee|food|tea)|stale|dirty)\b",
)

PURCHASE = _any(
    # price and buying
    r"\b(?:was|wie ?viel) (?:kostet|kosten)\b",
    r"\b(?:preis\w*|kosten|kostet|angebot für|kostenvoranschlag|was nehmt ihr)\b",
    r"\b(?:kaufen|bestellen|vorbestell\w*|erhältlich|lieferbar|verfügbar|auf lager|vorrätig|nachschub)\b",
    r"\b(?:liefert|versendet|verschickt) ihr\b",
    r"\b(?:versand(?:kosten)?|gutschein\w*|in größe|größe \w+|zum mitnehmen)\b",
    r"\bhabt ihr (?:noch |auch |heute |morgen )?(?:\w+ )?(?:da|im angebot|vegan\w*|glutenfrei\w*|laktosefrei\w*)\b",
    r"\b(?:how much|price[sd]?|pricing|costs?|quote|buy|purchase|pre-?order|order (?:online|one|some|a|it|this))\b",
    r"\b(?:in stock|available|availability|restock\w*|sold out|gift ?cards?|vouchers?|do you sell)\b",
    r"\b(?:ship|deliver|shipping|delivery) to\b",
    r"\bwhere can i (?:get|buy|find|order)\b",
    r"\b(?:in (?:a )?size|what sizes?|come in)\b",
    # opening hours and reservations
    r"\b(?:öffnungszeit\w*|geöffnet|offen|aufmachen|ruhetag)\b",
    r"\b(?:macht|habt|seid) ihr\b.{0,30}\b(?:auf|zu|offen)\b",
    r"\b(?:reservier\w*|tisch für|einen tisch|buchen|termin\w*)\b",
    r"\b(?:opening (?:hours|times)|are you open|open on|open (?:today|tomorrow|until)|when do you (?:open|close))\b",
    r"\b(?:reserv\w*|book (?:a|an|the)|booking|table for|appointment)\b",
)

QUESTION_START = _any(
    r"^(?:was|wie|wann|wo|warum|wieso|weshalb|wer|welche\w*|woher|wohin|wozu|womit|worauf)\b(?! für ein)",
    r"^(?:kann|können|könnt|kannst|habt|hast|hat|haben|gibt|ist|sind|seid|bist|darf|dürfen|muss|soll|sollte"
    r"|macht|machen|geht|würde|wäre|wisst|weiß|nehmt|liefert)\b",
    r"^(?:what|how|when|where|why|who|which|whose)\b(?! a\b| an\b)(?!(?: nice| great| cute| lovely| beautiful"
    r"| amazing| cool| sweet| awesome| wonderful)\b)",
    r"^(?:can|could|do|does|did|is|are|will|would|should|may|have|has|any ?(?:one|body)?)\b",
    r"\b(?:weiß jemand|wisst ihr|kann mir jemand|ich frage mich|frage:|does anyone know|anyone know|"
    r"i was wondering|wondering if|quick question|i'd like to know|ich wüsste gern)\b",
)

PRAISE = _any(
    r"\b(?:lecker\w*|köstlich\w*|super|toll\w*|klasse|genial\w*|großartig\w*|wunderbar\w*|wunderschön\w*|schön\w*)",
    r"\b(?:dank\w*|perfekt\w*|top|mega|hammer|beste[nrs]?|empfehle\w*|empfehlenswert|weiter so|gut gemacht)\b",
    r"\b(?:begeistert|traumhaft\w*|fantastisch\w*|spitze|sensationell|ein traum|liebe (?:euch|es|eure[nr]?))\b",
    r"\b(?:love[ds]?|loving|great|amazing|awesome|delicious|best|thanks?|thank you|perfect|beautiful|excellent)\b",
    r"\b(?:fantastic|wonderful|recommend\w*|well done|keep it up|brilliant|lovely|incredible|outstanding)\b",
    r"\b(?:favou?rite|yummy|tasty|gorgeous|stunning|nailed it|kudos|bravo|nice|cool|cute|gefällt mir|schick)\b",
    r"[❤♥💕💖😍🥰👏🙌🤩]",
)

POSITIVE_EMOJI = set("😀😃😄😁😊🙂😍🥰😘🤩👍👏🙌💯🔥✨🎉❤♥💕💖💗💛💚💙💜🧡🤍😋🙏☺")
NEGATIVE_EMOJI = set("😡😠🤬👎😢😭😤💩😞😒🙄😣😖😫😩🤮🤢💔😔😟")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words of nearby languages: a text that uses more of these than German or English ones
# is "other" (the model only knows de and en).
FUNCTION_WORDS = {
    "de": _words(
        "der die das und ist nicht ich ihr wir es ein eine mit auf für den dem zu von sie bei auch noch wie"
        " sehr euch eure euer habt gibt bitte danke schon mal heute"
    ),
    "en": _words("the and is not you we it a an with on for to of they at also this that are was have i my"),
    # Only words that are not also common German or English ones ("die", "des", "do", "is", "no"...).
    "fr": _words("le les et est je vous nous une avec pour dans pas qui sur très merci bonjour êtes sont"),
    "es": _words("el los las y usted nosotros una con para muy gracias pero está qué hola por favor"),
    "it": _words("il lo gli è io voi noi una con per nel non che di molto grazie sono questo della"),
    "nl": _words("het niet ik jij wij een voor zijn ook heel bedankt maar wat"),
    "pt": _words("os você nós uma com para em não muito obrigado mas está"),
    "tr": _words("ve bir bu için çok sen biz değil var yok teşekkürler ama gibi"),
    "pl": _words("jest nie ty że się bardzo dziękuję ale jak tak"),
}


def latin_share(text: str) -> tuple[int, float]:
    """(letters, share of them in the Latin script)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0, 0.0
    latin = sum(1 for ch in letters if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"))
    return len(letters), latin / len(letters)


_LANGUAGES_OF_WORD: dict[str, list[str]] = {}
for _language, _function_words in FUNCTION_WORDS.items():
    for _word in _function_words:
        _LANGUAGES_OF_WORD.setdefault(_word, []).append(_language)


def function_word_hits(tokens: list[str]) -> dict[str, int]:
    hits = dict.fromkeys(FUNCTION_WORDS, 0)
    for token in tokens:
        for language in _LANGUAGES_OF_WORD.get(token, ()):
            hits[language] += 1
    return hits


def emoji_balance(text: str) -> tuple[int, int]:
    return sum(ch in POSITIVE_EMOJI for ch in text), sum(ch in NEGATIVE_EMOJI for ch in text)
