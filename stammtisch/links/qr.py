"""QR codes of short links (PyPI `segno`), in the workspace's colours. The code holds the short
link with `?qr=1`, so scans are counted apart from other clicks."""

from __future__ import annotations

import io

import segno

from stammtisch.links.actions import qr_url
from stammtisch.links.models import LinkSettings, ShortLink


def make(link: ShortLink, link_settings: LinkSettings, kind: str) -> bytes:
    """`kind`: "svg" or "png". Error correction M survives a coffee stain on a menu."""
    code = segno.make(qr_url(link.code), error="m", micro=False)
    buffer = io.BytesIO()
    scale = 4 if kind == "svg" else 12
    code.save(buffer, kind=kind, scale=scale, border=4, dark=link_settings.qr_dark, light=link_settings.qr_light)
    return buffer.getvalue()
