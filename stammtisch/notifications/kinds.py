"""The kinds of notification: one registry, one entry per kind (docs/notifications.md).

A notification stores its kind and plain data (names, an excerpt, an error), never finished
text: the title and body are rendered from the data when someone reads them, in the reader's
language. To add a kind (token expiry, "assigned to you", "mentioned in a note", SLA warnings):
`register(Kind(...))` here with its texts and defaults, then call `notify(kind, ...)` from a
receiver or an action of the app that knows about the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from stammtisch.core.roles import Perm


class EmailMode(models.TextChoices):
    IMMEDIATE = "immediate", gettext_lazy("At once")
    DIGEST = "digest", gettext_lazy("Daily summary")
    OFF = "off", gettext_lazy("Off")


Render = Callable[[Mapping[str, Any], int], str]


class _Params(dict[str, Any]):
    """Template parameters; a value missing from old data shows as an ellipsis, never a crash."""

    def __missing__(self, key: str) -> str:
        return "…"


def fill(template: str, data: Mapping[str, Any], **extra: Any) -> str:
    return template % _Params({**data, **extra})


def _no_body(data: Mapping[str, Any], count: int) -> str:
    return ""


@dataclass(frozen=True)
class Kind:
    key: str
    label: str | Promise  # on the preferences page
    help: str | Promise  # on the preferences page: when it comes and to whom
    # A member whose role has any of these permissions may receive this kind (the preferences
    # page offers it to them). Who actually receives one is decided where `notify` is called.
    perms: tuple[str, ...]
    title: Render
    body: Render = _no_body
    email: str = EmailMode.IMMEDIATE  # default e-mail mode
    in_app: bool = True  # default: shown under the bell


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.key in KINDS:
        raise ValueError(f"notification kind {kind.key!r} is registered twice")
    if kind.email not in EmailMode.values:
        raise ValueError(f"notification kind {kind.key!r}: unknown e-mail default {kind.email!r}")
    KINDS[kind.key] = kind
    return kind


def get_kind(key: str) -> Kind | None:
    return KINDS.get(key)


def render(key: str, data: Mapping[str, Any], count: int) -> tuple[str, str]:
    """Title and body in the active language. A kind no longer registered shows its key."""
    kind = KINDS.get(key)
    if kind is None:
        return key, ""
    return kind.title(data, count), kind.body(data, count)


# --- publishing ---------------------------------------------------------------------------------

PUBLISHING_FAILED = "publishing_failed"
CHANNEL_RECONNECT = "channel_reconnect"
APPROVAL_REQUESTED = "approval_requested"
APPROVAL_DECIDED = "approval_decided"


def _failed_title(data: Mapping[str, Any], count: int) -> str:
    if count > 1:
        template = ngettext(
            "%(count)s post failed on %(channel)s",
            "%(count)s posts failed on %(channel)s",
            count,
        )
        return fill(template, data, count=count)
    return fill(_("A post failed on %(channel)s"), data)


def _failed_body(data: Mapping[str, Any], count: int) -> str:
    if count > 1:
        text = fill(_("The latest: “%(post)s”."), data)
    else:
        text = fill(_("“%(post)s” could not be published."), data)
    if data.get("error"):
        text += " " + fill(_("The network said: %(error)s"), data)
    return text


def _reconnect_title(data: Mapping[str, Any], count: int) -> str:
    return fill(_("%(channel)s needs to be reconnected"), data)


def _reconnect_body(data: Mapping[str, Any], count: int) -> str:
    text = _("Nothing is published on this channel until someone reconnects it on the channels page.")
    if data.get("error"):
        text += " " + fill(_("The network said: %(error)s"), data)
    return text


def _requested_title(data: Mapping[str, Any], count: int) -> str:
    if data.get("actor"):
        return fill(_("%(actor)s asks for your approval"), data)
    return _("A post is waiting for your approval")


def _post_excerpt(data: Mapping[str, Any], count: int) -> str:
    return fill(_("“%(post)s”"), data) if data.get("post") else ""


def _decided_title(data: Mapping[str, Any], count: int) -> str:
    if data.get("decision") == "approved":
        return fill(_("%(actor)s approved your post"), data)
    return fill(_("%(actor)s asked for changes to your post"), data)


def _decided_body(data: Mapping[str, Any], count: int) -> str:
    if data.get("comment"):
        return fill(_("Comment: “%(comment)s”"), data)
    return _post_excerpt(data, count)


register(
    Kind(
        key=PUBLISHING_FAILED,
        label=gettext_lazy("Publishing failed"),
        help=gettext_lazy(
            "A post could not be published, even after retrying. To its author and to the "
            "workspace's owners and admins."
        ),
        perms=(Perm.EDIT, Perm.MANAGE),
        title=_failed_title,
        body=_failed_body,
    )
)
register(
    Kind(
        key=CHANNEL_RECONNECT,
        label=gettext_lazy("Channel needs reconnection"),
        help=gettext_lazy("A network no longer accepts a channel's access. To owners and admins."),
        perms=(Perm.MANAGE,),
        title=_reconnect_title,
        body=_reconnect_body,
    )
)
register(
    Kind(
        key=APPROVAL_REQUESTED,
        label=gettext_lazy("Approval needed"),
        help=gettext_lazy("A post was submitted for approval. To everyone who may approve posts, except its author."),
        perms=(Perm.COMMENT,),
        title=_requested_title,
        body=_post_excerpt,
    )
)
register(
    Kind(
        key=APPROVAL_DECIDED,
        label=gettext_lazy("Approval decided"),
        help=gettext_lazy("Your post was approved, or changes were requested. To the post's author."),
        perms=(Perm.EDIT,),
        title=_decided_title,
        body=_decided_body,
    )
)


# --- channels -----------------------------------------------------------------------------------

CHANNEL_TOKEN_EXPIRING = "channel_token_expiring"
ASSISTED_POST_DUE = "assisted_post_due"


def _expiring_title(data: Mapping[str, Any], count: int) -> str:
    if data.get("threshold") == "1d":
        return fill(_("The access of %(channel)s expires tomorrow"), data)
    return fill(_("The access of %(channel)s expires within a week"), data)


def _expiring_body(data: Mapping[str, Any], count: int) -> str:
    text = fill(
        _(
            "%(network)s stops accepting posts on %(channel)s on %(expires)s. Reconnect the channel "
            "on the connection health page; its posts and history stay."
        ),
        data,
    )
    if data.get("error"):
        text += " " + fill(_("Renewing it automatically failed: %(error)s"), data)
    return text


def _assisted_title(data: Mapping[str, Any], count: int) -> str:
    return fill(_("Time to post on %(channel)s"), data)


def _assisted_body(data: Mapping[str, Any], count: int) -> str:
    return fill(
        _(
            "%(network)s has no interface for publishing, so please post “%(post)s” yourself; the "
            "text is prepared. Then paste the post's address into Stammtisch."
        ),
        data,
    )


register(
    Kind(
        key=CHANNEL_TOKEN_EXPIRING,
        label=gettext_lazy("Channel access expiring"),
        help=gettext_lazy(
            "A channel's access expires within 7 days (and again within 1 day) and could not be "
            "renewed automatically. To owners and admins."
        ),
        perms=(Perm.MANAGE,),
        title=_expiring_title,
        body=_expiring_body,
    )
)
register(
    Kind(
        key=ASSISTED_POST_DUE,
        label=gettext_lazy("Post it yourself (XING)"),
        help=gettext_lazy(
            "A post is due on a network without a publishing interface (XING): post the prepared "
            "text yourself. To the post's author and to the workspace's owners and admins."
        ),
        perms=(Perm.EDIT, Perm.MANAGE),
        title=_assisted_title,
        body=_assisted_body,
    )
)


# --- inbox --------------------------------------------------------------------------------------

INBOX_ASSIGNED = "inbox_assigned"
INBOX_MENTIONED = "inbox_mentioned"
INBOX_REPLY_APPROVAL = "inbox_reply_approval"


def _inbox_assigned_title(data: Mapping[str, Any], count: int) -> str:
    if count > 1:
        return fill(
            ngettext("%(count)s conversation assigned to you", "%(count)s conversations assigned to you", count),
            data,
            count=count,
        )
    if data.get("rule"):
        return fill(_("The rule “%(rule)s” assigned a conversation on %(channel)s to you"), data)
    return fill(_("%(actor)s assigned a conversation on %(channel)s to you"), data)


def _inbox_excerpt(data: Mapping[str, Any], count: int) -> str:
    return fill(_("“%(excerpt)s”"), data) if data.get("excerpt") else ""


def _inbox_mentioned_title(data: Mapping[str, Any], count: int) -> str:
    return fill(_("%(actor)s mentioned you in a note"), data)


def _inbox_note_body(data: Mapping[str, Any], count: int) -> str:
    return fill(_("“%(note)s”"), data) if data.get("note") else ""


def _inbox_approval_title(data: Mapping[str, Any], count: int) -> str:
    return fill(_("%(actor)s asks you to approve a reply on %(channel)s"), data)


def _inbox_reply_body(data: Mapping[str, Any], count: int) -> str:
    return fill(_("“%(reply)s”"), data) if data.get("reply") else ""


register(
    Kind(
        key=INBOX_ASSIGNED,
        label=gettext_lazy("Inbox: assigned to you"),
        help=gettext_lazy("A member or an inbox rule assigned a conversation to you."),
        perms=(Perm.EDIT,),
        title=_inbox_assigned_title,
        body=_inbox_excerpt,
    )
)
register(
    Kind(
        key=INBOX_MENTIONED,
        label=gettext_lazy("Inbox: mentioned in a note"),
        help=gettext_lazy("Someone wrote @your-username in an internal note of the inbox."),
        perms=(Perm.COMMENT,),
        title=_inbox_mentioned_title,
        body=_inbox_note_body,
    )
)
register(
    Kind(
        key=INBOX_REPLY_APPROVAL,
        label=gettext_lazy("Inbox: reply waiting for approval"),
        help=gettext_lazy(
            "The workspace wants inbox replies approved, and an editor wrote one. To reviewers, admins and owners."
        ),
        perms=(Perm.COMMENT,),
        title=_inbox_approval_title,
        body=_inbox_reply_body,
    )
)
