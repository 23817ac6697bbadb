"""Writes in the audience domain (STYLE.md §5): each checks the actor's permission and writes the
audit log. Audit entries name people by id only, never by name or handle (an erased person's
name must not survive in the log)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.audience import consume, gdpr, loyalty, referrals
from stammtisch.audience.models import (
    PASSIVE_KINDS,
    AudienceSettings,
    ConversionContact,
    Engagement,
    Identity,
    Kind,
    Person,
    ProfileLink,
    Referral,
    ReferredFollow,
    Segment,
    Stage,
    StageTransition,
    Suppression,
    Tag,
)
from stammtisch.audience.privacy import handle_key, suppression_hash
from stammtisch.core.actions import AUDIT_ACTIONS, ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel

AUDIT_ACTIONS.update(
    {
        "person.create": gettext_lazy("Person added"),
        "person.update": gettext_lazy("Person changed"),
        "person.merge": gettext_lazy("People merged"),
        "person.split": gettext_lazy("Person split"),
        "person.export": gettext_lazy("Person's data exported"),
        "person.erase": gettext_lazy("Person erased"),
        "person.import_csv": gettext_lazy("People imported from a CSV file"),
        "people.retention": gettext_lazy("Retention of people changed"),
        "referral.create": gettext_lazy("Referral link made"),
        "segment.create": gettext_lazy("Segment saved"),
        "segment.delete": gettext_lazy("Segment deleted"),
    }
)

MAX_TAGS = 20


def parse_tags(value: str) -> list[str]:
    """Tags typed as a comma-separated list: trimmed, without duplicates, in typed order."""
    tags: list[str] = []
    for part in value.split(","):
        name = " ".join(part.split())[:60]
        if name and name.lower() not in {t.lower() for t in tags}:
            tags.append(name)
    return tags[:MAX_TAGS]


def set_tags(person: Person, names: Iterable[str]) -> None:
    wanted = list(names)
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(workspace_id=person.workspace_id)}
    tags = []
    for name in wanted:
        tag = existing.get(name.lower())
        if tag is None:
            tag = Tag.objects.create(workspace_id=person.workspace_id, name=name)
            existing[name.lower()] = tag
        tags.append(tag)
    person.tags.set(tags)


@transaction.atomic
def do_update_person(
    actor: Actor,
    person: Person,
    *,
    display_name: str,
    email: str,
    language: str,
    consent: str,
    notes: str,
    tags: list[str],
) -> list[str]:
    """Change what members keep about a person; returns the names of the changed fields."""
    require_perm(actor, person.workspace, Perm.EDIT)
    if person.is_erased:
        raise ActionError(_("This person was erased."))
    changed = []
    for field, value in (
        ("display_name", display_name),
        ("email", email),
        ("language", language),
        ("consent", consent),
        ("notes", notes),
    ):
        if getattr(person, field) != value:
            setattr(person, field, value)
            changed.append(field)
    if changed:
        person.save(update_fields=changed)
    if sorted(t.lower() for t in tags) != sorted(t.name.lower() for t in person.tags.all()):
        set_tags(person, tags)
        changed.append("tags")
    if changed:
        audit(actor, "person.update", workspace=person.workspace, obj=person, data={"fields": changed})
    return changed


def new_person(workspace: Workspace, *, source: str, now: dt.datetime, **fields: Any) -> Person:
    person = Person.objects.create(workspace=workspace, source=source, created_at=now, **fields)
    StageTransition.objects.create(workspace=workspace, person=person, from_stage="", to_stage=person.stage, at=now)
    return person


def offline_identity(person: Person, network: str, handle: str, now: dt.datetime) -> Identity:
    """An identity known by handle only (typed by a member): the consumer replaces the stand-in
    id by the network's when the person appears there."""
    key = handle_key(handle)
    if Identity.objects.filter(workspace_id=person.workspace_id, network=network, remote_id=key).exists():
        raise ActionError(
            _("Someone with the handle @%(handle)s on %(network)s is already known.")
            % {"handle": key[1:], "network": network}
        )
    return Identity.objects.create(
        workspace_id=person.workspace_id,
        person=person,
        network=network,
        remote_id=key,
        handle=handle.strip().lstrip("@"),
        created_at=now,
    )


@transaction.atomic
def do_add_person(
    actor: Actor,
    workspace: Workspace,
    *,
    display_name: str,
    email: str = "",
    language: str = "",
    consent: str = "unknown",
    notes: str = "",
    tags: list[str] | None = None,
    network: str = "",
    handle: str = "",
) -> Person:
    """Add a person met offline (a regular guest, a trade-fair contact)."""
    require_perm(actor, workspace, Perm.EDIT)
    now = timezone.now()
    person = new_person(
        workspace,
        source=Person.Source.MANUAL,
        now=now,
        display_name=display_name,
        email=email,
        language=language,
        consent=consent,
        notes=notes,
    )
    if tags:
        set_tags(person, tags)
    if network and handle:
        offline_identity(person, network, handle, now)
    audit(actor, "person.create", workspace=workspace, obj=person)
    return person


def refresh(person: Person, now: dt.datetime) -> None:
    """Recount a person's figures from their engagements (after a merge or a split)."""
    rows = list(person.engagements.values_list("kind", "weight", "occurred_at"))
    counts: dict[str, int] = {}
    for kind, _weight, _at in rows:
        counts[kind] = counts.get(kind, 0) + 1
    person.counts = counts
    loyalty.recompute(person, [(weight, at) for _kind, weight, at in rows], now)
    active = [at for kind, _weight, at in rows if kind not in PASSIVE_KINDS]
    person.first_seen = min(active) if active else None
    person.last_seen = max(active) if active else None
    consume.save_people([person], now)


@transaction.atomic
def do_merge_people(actor: Actor, target: Person, other: Person) -> Person:
    """Move everything of `other` to `target` and delete `other`."""
    if target.workspace_id != other.workspace_id:
        raise ActionError(_("People of different workspaces cannot be merged."))
    require_perm(actor, target.workspace, Perm.EDIT)
    if target.pk == other.pk:
        raise ActionError(_("Choose another person to merge with."))
    if target.is_erased or other.is_erased:
        raise ActionError(_("This person was erased."))
    now = timezone.now()
    identities = list(other.identities.values_list("pk", flat=True))
    other.identities.update(person=target)
    other.engagements.update(person=target)
    other.referrals.update(person=target)
    # Referred follows: once per (follower, channel), and nobody refers themselves.
    drop_referred_follows(
        ReferredFollow.objects.filter(person=other, channel_id__in=target.referred_follows.values("channel_id")), now
    )
    other.referred_follows.update(person=target)
    drop_referred_follows(ReferredFollow.objects.filter(person=target, referral__person=target), now)
    tags = {t.name for t in target.tags.all()} | {t.name for t in other.tags.all()}
    set_tags(target, sorted(tags))
    for field in ("display_name", "email", "language"):
        if not getattr(target, field):
            setattr(target, field, getattr(other, field))
    if other.notes:
        target.notes = f"{target.notes}\n\n{other.notes}".strip()
    if target.consent == "unknown":
        target.consent = other.consent
    target.save(update_fields=["display_name", "email", "language", "notes", "consent"])
    other_id = other.pk
    other.delete()
    refresh(target, now)
    audit(
        actor,
        "person.merge",
        workspace=target.workspace,
        obj=target,
        summary=f"#{other_id} -> #{target.pk}",
        data={"merged": other_id, "into": target.pk, "identities": identities},
    )
    return target


@transaction.atomic
def do_split_person(actor: Actor, person: Person, identity_ids: list[int]) -> Person:
    """Move the chosen identities (with their engagements) to a new person."""
    require_perm(actor, person.workspace, Perm.EDIT)
    if person.is_erased:
        raise ActionError(_("This person was erased."))
    mine = set(person.identities.values_list("pk", flat=True))
    chosen = set(identity_ids) & mine
    if not chosen or set(identity_ids) - mine:
        raise ActionError(_("Choose identities of this person to move."))
    if chosen == mine:
        raise ActionError(_("At least one identity must stay with this person."))
    now = timezone.now()
    first = Identity.objects.filter(pk__in=chosen).order_by("pk").first()
    assert first is not None
    new = new_person(
        person.workspace, source=Person.Source.NETWORK, now=now, display_name=first.display_name or first.handle
    )
    Identity.objects.filter(pk__in=chosen).update(person=new)
    Engagement.objects.filter(person=person, identity_id__in=chosen).update(person=new)
    refresh(person, now)
    refresh(new, now)
    audit(
        actor,
        "person.split",
        workspace=person.workspace,
        obj=person,
        summary=f"#{person.pk} -> #{new.pk}",
        data={"from": person.pk, "to": new.pk, "identities": sorted(chosen)},
    )
    return new


def do_export_person(actor: Actor, person: Person) -> dict[str, Any]:
    """The person's data (GDPR Art. 15); the export is logged."""
    require_perm(actor, person.workspace, Perm.MANAGE)
    data = gdpr.export_data(person)
    audit(actor, "person.export", workspace=person.workspace, obj=person)
    return data


@transaction.atomic
def do_erase_person(actor: Actor, person: Person) -> bool:
    """Erase a person (GDPR Art. 17): identities, engagements and personal fields removed, their
    inbox texts replaced by "[erased]", a suppression entry per identity so a later sync does not
    create them again. Returns False when the person was erased already (nothing to do)."""
    require_perm(actor, person.workspace, Perm.MANAGE)
    person = Person.objects.select_for_update().get(pk=person.pk)
    identities = list(person.identities.all())
    if person.is_erased and not identities:
        return False
    hashes = set()
    for identity in identities:
        hashes.add(suppression_hash(identity.network, identity.remote_id))
        if identity.handle:
            hashes.add(suppression_hash(identity.network, handle_key(identity.handle)))
    Suppression.objects.bulk_create(
        [Suppression(workspace_id=person.workspace_id, hash=value) for value in sorted(hashes)],
        ignore_conflicts=True,
    )
    counts = gdpr.erase_inbox_rows(person.workspace_id, identities)
    counts.update(unlink_referrals_and_conversions(person, identities))
    # Follows they made on someone's recommendation go; follows their referrals brought stay
    # with the referrals (which have no person any more), their credits go with their engagements.
    counts["referred_follows"] = drop_referred_follows(person.referred_follows.all(), timezone.now())
    person.identities.all().delete()
    person.engagements.all().delete()
    person.transitions.all().delete()
    tags = list(person.tags.values_list("pk", flat=True))
    person.tags.clear()
    Tag.objects.filter(pk__in=tags, people__isnull=True).delete()  # a tag only they had may name them
    person.display_name = person.email = person.language = person.notes = ""
    person.consent = "unknown"
    person.counts, person.score, person.score_at = {}, 0.0, None
    person.first_seen = person.last_seen = None
    person.stage = Stage.LAPSED
    person.erased_at = person.erased_at or timezone.now()
    person.save()
    audit(
        actor,
        "person.erase",
        workspace=person.workspace,
        obj=person,
        data={"identities": len(identities), **counts},
    )
    return True


def drop_referred_follows(rows: Any, now: dt.datetime) -> int:
    """Delete these referred follows (a queryset) and the engagements that credited them to the
    recommenders, whose figures are recounted. Returns how many were deleted."""
    ids = list(rows.values_list("pk", flat=True))
    if not ids:
        return 0
    credits = Engagement.objects.filter(source=Engagement.Source.REFERRED_FOLLOW, source_id__in=ids)
    credited = set(credits.values_list("person_id", flat=True))
    credits.delete()
    ReferredFollow.objects.filter(pk__in=ids).delete()
    for recommender in Person.objects.filter(pk__in=credited, erased_at__isnull=True):
        refresh(recommender, now)
    return len(ids)


def unlink_referrals_and_conversions(person: Person, identities: list[Identity]) -> dict[str, int]:
    """Erasure's part in the links' data: the person's referrals lose their person and personal
    code (the short link keeps working; its clicks and conversions stay, anonymous), the
    conversions that reported the person's e-mail lose its hash, and the links in the profiles
    of the person's accounts are deleted. Returns counts for the audit log."""
    referral_count = Referral.objects.filter(person=person).update(person=None, code="")
    emails = 0
    if person.email_hash:
        emails = ConversionContact.objects.filter(
            workspace_id=person.workspace_id, email_hash=person.email_hash
        ).update(email_hash="")
    ConversionContact.objects.filter(workspace_id=person.workspace_id, email_hash="", referral__isnull=True).delete()
    accounts = Q(pk__in=[])
    for identity in identities:
        accounts |= Q(network=identity.network, remote_id=identity.remote_id)
    links, _by_kind = ProfileLink.objects.filter(accounts, workspace_id=person.workspace_id).delete()
    return {"referrals": referral_count, "conversion_emails": emails, "profile_links": links}


@transaction.atomic
def do_create_referral(
    actor: Actor,
    person: Person,
    *,
    target_kind: str,
    target: str = "",
    channel: Channel | None = None,
) -> Referral:
    """A personal referral for `person`: a short link (made by the links app, so it is counted,
    listed and has a QR code like any other) to the website (`target`), a channel's profile page
    or the link-in-bio page, and a personal code. The link's title and UTM parameters name the
    person by number only."""
    from stammtisch.links import embeds
    from stammtisch.links.actions import do_create_link

    workspace = person.workspace
    require_perm(actor, workspace, Perm.EDIT)
    if person.is_erased:
        raise ActionError(_("This person was erased."))
    if target_kind == Referral.Target.CHANNEL:
        if channel is None or channel.workspace_id != workspace.pk:
            raise ActionError(_("Choose one of this workspace's channels."))
        target = embeds.profile_url(channel)
        if not target:
            raise ActionError(_("This channel has no public profile page to link to."))
    elif target_kind == Referral.Target.BIO:
        channel = None
        target = django_settings.BASE_URL + reverse("links:bio", kwargs={"slug": workspace.slug})
    elif target_kind == Referral.Target.WEBSITE:
        channel = None
    else:
        raise ActionError(_("Choose where the link leads."))
    link = do_create_link(
        actor,
        workspace,
        target=target,
        title=_("Referral of person #%(id)d") % {"id": person.pk},
        utm_source="referral",
        utm_medium="referral",
        utm_campaign="personal",
    )
    for _attempt in range(10):
        code = referrals.new_code(person.display_name)
        if not Referral.objects.filter(workspace=workspace, code=code).exists():
            break
    else:
        raise ActionError(_("No free personal code was found. Please try again."))
    referral = Referral.objects.create(
        workspace=workspace, person=person, code=code, link=link, target_kind=target_kind, channel=channel
    )
    audit(
        actor,
        "referral.create",
        workspace=workspace,
        obj=person,
        summary=f"#{person.pk}",
        data={"referral": referral.pk, "link": link.code, "target": target_kind},
    )
    return referral


def do_set_retention(actor: Actor, workspace: Workspace, months: int | None) -> None:
    require_perm(actor, workspace, Perm.MANAGE)
    settings, _created = AudienceSettings.objects.get_or_create(workspace=workspace)
    if settings.retention_months != months:
        old = settings.retention_months
        settings.retention_months = months
        settings.save(update_fields=["retention_months"])
        audit(actor, "people.retention", workspace=workspace, data={"months": [old, months]})


def inactive_since(person: Person) -> dt.datetime:
    return person.last_seen or person.created_at


def apply_retention(now: dt.datetime) -> int:
    """Erase the people inactive longer than their workspace's retention; returns how many."""
    erased = 0
    actor = Actor.system("retention")
    for settings in AudienceSettings.objects.filter(retention_months__isnull=False).select_related("workspace"):
        assert settings.retention_months is not None
        limit = now - dt.timedelta(days=30 * settings.retention_months)
        # A conversion or a follow through their referral is not them being active ("last seen"),
        # but it is a living relationship: such people are kept.
        recommending = Engagement.objects.filter(
            person=OuterRef("pk"), kind__in=[Kind.REFERRAL, Kind.REFERRED_FOLLOW], occurred_at__gte=limit
        )
        stale = Person.objects.filter(
            Q(last_seen__lt=limit) | Q(last_seen__isnull=True, created_at__lt=limit),
            ~Exists(recommending),
            workspace=settings.workspace,
            erased_at__isnull=True,
        )
        for person in list(stale):
            erased += do_erase_person(actor, person)
    return erased


@transaction.atomic
def do_save_segment(actor: Actor, workspace: Workspace, *, name: str, filters: dict[str, Any]) -> Segment:
    """Save filters of the people list as a segment; names are unique per workspace."""
    require_perm(actor, workspace, Perm.EDIT)
    name = " ".join(name.split())
    if not name:
        raise ActionError(_("Give the segment a name."))
    if Segment.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise ActionError(_("A segment with this name exists already."))
    segment = Segment.objects.create(workspace=workspace, name=name, filters=filters)
    audit(actor, "segment.create", workspace=workspace, obj=segment, summary=name, data={"filters": filters})
    return segment


@transaction.atomic
def do_delete_segment(actor: Actor, segment: Segment) -> None:
    require_perm(actor, segment.workspace, Perm.EDIT)
    audit(actor, "segment.delete", workspace=segment.workspace, obj=segment, summary=segment.name)
    segment.delete()
