"""Writes of the strategy: goals, pillars, the mix target and cadences. Each checks the actor's
permission (editors and above) and writes the audit log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from stammtisch.analytics.kpis import KPIS
from stammtisch.core.actions import AUDIT_ACTIONS, ActionError, Actor, audit, require_perm
from stammtisch.core.models import Workspace
from stammtisch.core.roles import Perm
from stammtisch.networks.models import Channel
from stammtisch.strategy.models import Cadence, ContentPillar, Goal, MixTarget

AUDIT_ACTIONS.update(
    {
        "goal.create": gettext_lazy("Goal created"),
        "goal.update": gettext_lazy("Goal changed"),
        "goal.delete": gettext_lazy("Goal deleted"),
        "pillar.create": gettext_lazy("Content pillar created"),
        "pillar.update": gettext_lazy("Content pillar changed"),
        "pillar.delete": gettext_lazy("Content pillar deleted"),
        "strategy.mix": gettext_lazy("Value/promotion mix target changed"),
        "strategy.cadence": gettext_lazy("Cadence changed"),
    }
)

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_POSTS_PER_WEEK = 100


def today_in(workspace: Workspace, now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now(), workspace.tz).date()


def _check_goal(workspace: Workspace, values: dict[str, Any], now: dt.datetime | None, *, new: bool) -> None:
    kpi = KPIS.get(values["kpi"])
    if kpi is None or not kpi.available:
        raise ActionError(_("Choose one of the KPIs offered."))
    if values["kind"] not in Goal.Kind.values:
        raise ActionError(_("Choose one of the reasons offered."))
    if values["kind"] not in ("custom", kpi.kind):
        raise ActionError(_("This KPI does not measure this reason; choose a KPI of the reason or “Custom”."))
    if values["deadline"] <= values["start"]:
        raise ActionError(_("The deadline must be after the start."))
    if values["deadline"] < today_in(workspace, now) and new:
        raise ActionError(_("The deadline is in the past: choose a date from today on."))
    if values.get("baseline") is not None and values["baseline"] == values["target"]:
        raise ActionError(_("The target must differ from the baseline."))


GOAL_FIELDS = ("kind", "name", "kpi", "target", "baseline", "start", "deadline")


@transaction.atomic
def do_create_goal(actor: Actor, workspace: Workspace, now: dt.datetime | None = None, **values: Any) -> Goal:
    require_perm(actor, workspace, Perm.EDIT)
    _check_goal(workspace, values, now, new=True)
    goal = Goal.objects.create(
        workspace=workspace,
        created_by_id=actor.user.pk if actor.user is not None and actor.user.pk else None,
        **{name: values.get(name) for name in GOAL_FIELDS},
    )
    audit(actor, "goal.create", workspace=workspace, obj=goal, summary=goal.name[:300], data={"kpi": goal.kpi})
    return goal


@transaction.atomic
def do_update_goal(actor: Actor, goal: Goal, now: dt.datetime | None = None, **values: Any) -> Goal:
    """Change a goal. A deadline moved (or kept) in the past is refused; one that has passed and
    is left as it was may stay (the goal is then shown as ended)."""
    require_perm(actor, goal.workspace, Perm.EDIT)
    moved = values["deadline"] != goal.deadline
    _check_goal(goal.workspace, values, now, new=moved)
    for name in GOAL_FIELDS:
        setattr(goal, name, values.get(name))
    goal.save()
    audit(actor, "goal.update", workspace=goal.workspace, obj=goal, summary=goal.name[:300], data={"kpi": goal.kpi})
    return goal


@transaction.atomic
def do_delete_goal(actor: Actor, goal: Goal) -> None:
    require_perm(actor, goal.workspace, Perm.EDIT)
    audit(actor, "goal.delete", workspace=goal.workspace, obj=goal, summary=goal.name[:300])
    goal.delete()


def _check_pillar(workspace: Workspace, name: str, target_share: int, colour: str, exclude: int | None) -> str:
    name = name.strip()
    if not name:
        raise ActionError(_("Give the pillar a name."))
    if not 0 <= target_share <= 100:
        raise ActionError(_("The target share must be between 0 and 100 %."))
    if not COLOUR.match(colour):
        raise ActionError(_("The colour must look like #2563eb."))
    others = ContentPillar.objects.filter(workspace=workspace)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.filter(name__iexact=name).exists():
        raise ActionError(_("There is a pillar of this name already."))
    total = sum(others.values_list("target_share", flat=True)) + target_share
    if total > 100:
        raise ActionError(
            _("The target shares of all pillars add up to %(total)d %%; at most 100 %% are possible.")
            % {"total": total}
        )
    return name


@transaction.atomic
def do_save_pillar(
    actor: Actor,
    workspace: Workspace,
    *,
    name: str,
    target_share: int,
    colour: str,
    pillar: ContentPillar | None = None,
) -> ContentPillar:
    """Create a pillar, or change `pillar`."""
    require_perm(actor, workspace, Perm.EDIT)
    name = _check_pillar(workspace, name, target_share, colour, pillar.pk if pillar else None)
    action = "pillar.update" if pillar else "pillar.create"
    pillar = pillar or ContentPillar(workspace=workspace)
    pillar.name, pillar.target_share, pillar.colour = name, target_share, colour.lower()
    try:
        with transaction.atomic():
            pillar.save()
    except IntegrityError:  # the same name saved at the same moment by someone else
        raise ActionError(_("There is a pillar of this name already.")) from None
    audit(actor, action, workspace=workspace, obj=pillar, summary=name, data={"target_share": target_share})
    return pillar


@transaction.atomic
def do_delete_pillar(actor: Actor, pillar: ContentPillar) -> None:
    """Delete a pillar; posts keep their pillar label."""
    require_perm(actor, pillar.workspace, Perm.EDIT)
    audit(actor, "pillar.delete", workspace=pillar.workspace, obj=pillar, summary=pillar.name)
    pillar.delete()


def mix_target(workspace: Workspace) -> MixTarget:
    """The workspace's mix target (80 % value until someone changes it); not stored until then."""
    return MixTarget.objects.filter(workspace=workspace).first() or MixTarget(workspace=workspace)


@transaction.atomic
def do_set_mix_target(actor: Actor, workspace: Workspace, min_value_share: int) -> MixTarget:
    require_perm(actor, workspace, Perm.EDIT)
    if not 0 <= min_value_share <= 100:
        raise ActionError(_("The share must be between 0 and 100 %."))
    target, _created = MixTarget.objects.update_or_create(
        workspace=workspace, defaults={"min_value_share": min_value_share}
    )
    audit(actor, "strategy.mix", workspace=workspace, obj=target, data={"min_value_share": min_value_share})
    return target


@transaction.atomic
def do_set_cadence(actor: Actor, workspace: Workspace, per_channel: dict[int, int | None]) -> None:
    """Set posts per week per channel id (None or 0: no cadence for that channel)."""
    require_perm(actor, workspace, Perm.EDIT)
    channels = {c.pk: c for c in Channel.objects.filter(workspace=workspace, pk__in=list(per_channel))}
    if len(channels) != len(per_channel):
        raise ActionError(_("One of the channels is not in this workspace."))
    changed = {}
    for channel_id, count in per_channel.items():
        if count is not None and not 0 <= count <= MAX_POSTS_PER_WEEK:
            raise ActionError(_("Posts per week must be between 0 and %(max)d.") % {"max": MAX_POSTS_PER_WEEK})
        current = Cadence.objects.filter(channel_id=channel_id).first()
        before = current.posts_per_week if current else None
        after = count or None
        if before == after:
            continue
        if after is None:
            Cadence.objects.filter(channel_id=channel_id).delete()
        else:
            Cadence.objects.update_or_create(
                channel=channels[channel_id], defaults={"workspace": workspace, "posts_per_week": after}
            )
        changed[str(channel_id)] = after
    if changed:
        audit(actor, "strategy.cadence", workspace=workspace, data={"per_week": changed})
