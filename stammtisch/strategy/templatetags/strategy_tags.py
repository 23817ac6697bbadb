"""`{% pillar_choices %}`: the workspace's content pillars as suggestions for the composer's free
pillar label (`<datalist id="pillar-choices">`; the field has `list="pillar-choices"`)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from stammtisch.strategy.models import ContentPillar

register = template.Library()


@register.simple_tag(takes_context=True)
def pillar_choices(context: dict[str, Any]) -> SafeString | str:
    workspace = context.get("current_workspace")
    if workspace is None:
        return ""
    names = ContentPillar.objects.filter(workspace=workspace).values_list("name", flat=True)
    return format_html(
        '<datalist id="pillar-choices">{}</datalist>',
        format_html_join("", '<option value="{}"></option>', ((name,) for name in names)),
    )
