from __future__ import annotations

from stammtisch.core.actions import Actor
from stammtisch.links import spool
from stammtisch.links.actions import do_create_link
from stammtisch.links.models import ShortLink

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def make_link(cast, target: str = "https://cafe-koenigsbau.example/karte", **values) -> ShortLink:
    return do_create_link(Actor.system("test"), cast.workspace, target=target, **values)


def drain() -> int:
    """Import the clicks the redirector spooled (what the worker's "click import" job does)."""
    return spool.import_spool()
