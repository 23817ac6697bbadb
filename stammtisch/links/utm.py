"""UTM templates of a workspace: `utm_campaign` and `utm_content` of the links made for posts.

A template is text with variables in braces: {post_id} {pillar} {channel} {network} {goal}.
`{goal}` is the post's purpose (value or promotion) until goals exist (DESIGN.md `strategy`);
`{channel}` is the channel's handle. An unknown variable is refused with a message.
"""

from __future__ import annotations

import string
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

VARIABLES = ("post_id", "pillar", "channel", "network", "goal")


def check_template(template: str) -> str:
    """The template unchanged, or a ValidationError naming what is wrong."""
    try:
        fields = [field for _text, field, _spec, _conv in string.Formatter().parse(template) if field is not None]
    except ValueError:
        raise ValidationError(_("Braces must come in pairs, as in {post_id}.")) from None
    for field in fields:
        if field not in VARIABLES:
            raise ValidationError(
                _("Unknown variable {%(name)s}. Known: %(known)s.")
                % {"name": field, "known": " ".join(f"{{{v}}}" for v in VARIABLES)}
            )
    return template


def values_for(post: Any, channel: Any) -> dict[str, str]:
    return {
        "post_id": str(post.pk),
        "pillar": slugify(post.pillar) if post.pillar else "",
        "channel": slugify(channel.handle) if channel is not None else "",
        "network": channel.network if channel is not None else "",
        "goal": str(post.purpose),
    }


def render(template: str, values: dict[str, str]) -> str:
    """The template with its variables filled in; a template that is no longer valid (changed
    by hand in the database) gives an empty value instead of an error in the publisher."""
    try:
        return check_template(template).format(**values).strip("-_ ")
    except (ValidationError, KeyError, IndexError, ValueError):
        return ""
