"""Writes of the links domain: link settings, short links. Every write is audited; roles are
checked here as well as in the views."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from stammtisch.core.actions import ActionError, Actor, audit, require_perm
from stammtisch.core.crypto import decrypt, encrypt
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.links import tracking, utm
from stammtisch.links.models import UTM_FIELDS, LinkSettings, ShortLink, new_code
from stammtisch.publishing.models import Post

MAX_TARGET = 2000


def short_base() -> str:
    """Where short links live: STAMMTISCH_SHORT_URL_BASE, else STAMMTISCH_BASE_URL."""
    return (settings.SHORT_URL_BASE or settings.BASE_URL).rstrip("/")


def short_url(code: str) -> str:
    return f"{short_base()}{reverse('links:go', kwargs={'code': code})}"


def qr_url(code: str) -> str:
    """What a QR code holds: the short link marked as a scan."""
    return f"{short_url(code)}?qr=1"


def check_target(url: str) -> str:
    """An http(s) address with a host and without credentials; anything else (javascript:,
    data:, relative paths) is refused with a message."""
    url = (url or "").strip()
    if not url:
        raise ActionError(_("Enter the address the link leads to."))
    if len(url) > MAX_TARGET:
        raise ActionError(_("The address is too long (at most %(max)d characters).") % {"max": MAX_TARGET})
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise ActionError(_("This is not a valid web address.")) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ActionError(_("Only http:// and https:// addresses can be linked."))
    if not host or any(char.isspace() for char in url):
        raise ActionError(_("This is not a valid web address."))
    if parts.username is not None or parts.password is not None:
        raise ActionError(_("Addresses with a user name or password cannot be linked."))
    return url


def settings_for(workspace: Workspace) -> LinkSettings:
    """The workspace's link settings, made with defaults on first use."""
    found = LinkSettings.objects.filter(workspace=workspace).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return LinkSettings.objects.create(workspace=workspace, conversion_secret=encrypt(secrets.token_hex(32)))
    except IntegrityError:
        return LinkSettings.objects.get(workspace=workspace)


def conversion_secret(link_settings: LinkSettings) -> str:
    return decrypt(link_settings.conversion_secret) if link_settings.conversion_secret else ""


@transaction.atomic
def do_update_link_settings(actor: Actor, workspace: Workspace, **values: Any) -> LinkSettings:
    """Change UTM templates, QR colours, attribution window, click ids and link-in-bio texts.
    A template with an unknown variable is refused with a message."""
    require_perm(actor, workspace, Perm.MANAGE)
    link_settings = settings_for(workspace)
    for name in ("utm_campaign_template", "utm_content_template"):
        if name in values:
            try:
                utm.check_template(values[name])
            except ValidationError as exc:
                raise ActionError(" ".join(exc.messages)) from None
    allowed = {
        "utm_campaign_template",
        "utm_content_template",
        "qr_dark",
        "qr_light",
        "attribution_days",
        "append_click_id",
        "bio_title",
        "bio_intro",
        "bio_public",
    }
    changed = [name for name, value in values.items() if name in allowed and getattr(link_settings, name) != value]
    for name in changed:
        setattr(link_settings, name, values[name])
    link_settings.save()
    tracking.forget_all()  # `append_click_id` is kept with each link
    audit(actor, "links.settings", workspace=workspace, data={"changed": changed})
    return link_settings


@transaction.atomic
def do_rotate_conversion_secret(actor: Actor, workspace: Workspace) -> str:
    """A new server-to-server secret; the old one stops working at once."""
    require_perm(actor, workspace, Perm.MANAGE)
    link_settings = settings_for(workspace)
    secret = secrets.token_hex(32)
    link_settings.conversion_secret = encrypt(secret)
    link_settings.save(update_fields=["conversion_secret"])
    audit(actor, "links.rotate_secret", workspace=workspace)
    return secret


def _utm_values(values: dict[str, Any]) -> dict[str, str]:
    return {name: str(values.get(name) or "").strip()[:200] for name in UTM_FIELDS}


@transaction.atomic
def do_create_link(
    actor: Actor,
    workspace: Workspace,
    *,
    target: str,
    title: str = "",
    expires_at: dt.datetime | None = None,
    in_bio: bool = False,
    in_promo: bool = False,
    post: Post | None = None,
    **utm_values: Any,
) -> ShortLink:
    """A short link made by hand (UTM builder). `post`: a post of the workspace it promotes."""
    require_perm(actor, workspace, Perm.EDIT)
    target = check_target(target)
    if post is not None and post.workspace_id != workspace.pk:
        raise ActionError(_("The post does not belong to this workspace."))
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValueError("expires_at must be timezone-aware")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                link = ShortLink.objects.create(
                    workspace=workspace,
                    code=new_code(),
                    title=title.strip()[:200],
                    target=target,
                    post=post,
                    in_bio=in_bio,
                    in_promo=in_promo,
                    expires_at=expires_at,
                    created_by=cast(Any, actor.user) if actor.user is not None and actor.user.pk else None,
                    **_utm_values(utm_values),
                )
            break
        except IntegrityError:  # the random code was taken
            continue
    else:
        raise ActionError(_("No free short code was found. Please try again."))
    tracking.forget(link.code)
    audit(actor, "link.create", workspace=workspace, obj=link, summary=link.code, data={"target": target})
    return link


@transaction.atomic
def do_update_link(
    actor: Actor,
    link: ShortLink,
    *,
    target: str,
    title: str = "",
    expires_at: dt.datetime | None = None,
    in_bio: bool = False,
    in_promo: bool = False,
    **utm_values: Any,
) -> ShortLink:
    """Change target, title, UTM parameters, expiry and placement; the code stays the same, so
    printed QR codes and published posts lead to the new target."""
    require_perm(actor, link.workspace, Perm.EDIT)
    target = check_target(target)
    old_target = link.target
    link.target = target
    link.title = title.strip()[:200]
    link.expires_at = expires_at
    link.in_bio = in_bio
    link.in_promo = in_promo
    for name, value in _utm_values(utm_values).items():
        setattr(link, name, value)
    link.updated_at = timezone.now()
    link.save()
    tracking.forget(link.code)
    transaction.on_commit(lambda: tracking.forget(link.code))  # a request may have cached it meanwhile
    audit(
        actor,
        "link.update",
        workspace=link.workspace,
        obj=link,
        summary=link.code,
        data={"target": target, "old_target": old_target},
    )
    return link


@transaction.atomic
def do_delete_link(actor: Actor, link: ShortLink) -> None:
    """Remove a link made by hand and its clicks; the code then answers 404."""
    require_perm(actor, link.workspace, Perm.EDIT)
    if link.delivery_id is not None:
        raise ActionError(_("This link belongs to a published post: let it expire instead."))
    code = link.code
    audit(actor, "link.delete", workspace=link.workspace, obj=link, summary=code)
    link.delete()
    tracking.forget(code)
    transaction.on_commit(lambda: tracking.forget(code))
