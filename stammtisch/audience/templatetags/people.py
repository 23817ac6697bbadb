"""`{% load people %}{% person_panel message %}`: the person who wrote `message`, beside the inbox
conversation (audience/panel.py)."""

from __future__ import annotations

from typing import Any

from django import template

from stammtisch.audience.panel import panel_context
from stammtisch.inbox.models import Message

register = template.Library()


@register.inclusion_tag("audience/_person_panel.html", takes_context=True)
def person_panel(context: template.Context, message: Message | None) -> dict[str, Any]:
    return {"workspace": context.get("workspace"), **panel_context(message)}
