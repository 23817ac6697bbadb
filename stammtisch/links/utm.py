"""UTM templates of a workspace: `utm_campaign` and `utm_content` of the links made for posts.

A template is text with variables in braces: {post_id} {pillar} {channel} {network} {goal}
{purpose}. `{goal}` is the post's strategy goal, its name as a slug ("Mehr Besuche aus Social" →
`mehr-besuche-aus-social`); a post without a goal gets the campaign its address was tagged with
already (a blog feed's `utm_campaign`, as it is), else its purpose (`value` or `promotion`), so a template
is never left empty and the templates written before goals existed keep working. `{purpose}` is
always the purpose; `{channel}` is the channel's handle. An unknown variable is refused with a
message (docs/links.md).
"""

from __future__ import annotations

import string
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

VARIABLES = ("post_id", "pillar", "channel", "network", "goal", "purpose")
MAX_LENGTH = 200  # ShortLink.utm_campaign and utm_content


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


def goal_value(post: Any, tagged_campaign: str = "") -> str:
    """What `{goal}` becomes for `post` (its `goal` should be loaded: `auto._create` loads the
    goals of a batch in one query)."""
    goal = post.goal if post.goal_id else None
    if goal is not None:
        return slugify(goal.name) or f"goal-{goal.pk}"
    return tagged_campaign.strip() or str(post.purpose)


def values_for(post: Any, channel: Any, *, tagged_campaign: str = "") -> dict[str, str]:
    """The variables for `post` on `channel`; `tagged_campaign`: the `utm_campaign` the post's
    address already carries in the channel's text (a blog feed tags its links)."""
    return {
        "post_id": str(post.pk),
        "pillar": slugify(post.pillar) if post.pillar else "",
        "channel": slugify(channel.handle) if channel is not None else "",
        "network": channel.network if channel is not None else "",
        "goal": goal_value(post, tagged_campaign),
        "purpose": str(post.purpose),
    }


def render(template: str, values: dict[str, str]) -> str:
    """The template with its variables filled in; a template that is no longer valid (changed
    by hand in the database) gives an empty value instead of an error in the publisher."""
    try:
        return check_template(template).format(**values).strip("-_ ")[:MAX_LENGTH]
    except (ValidationError, KeyError, IndexError, ValueError):
        return ""
