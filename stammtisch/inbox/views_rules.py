"""The inbox rules page (docs/inbox.md "Rules"): every member who reads the inbox sees the rules;
owners and admins (`Perm.MANAGE`) create, change, switch on or off and delete them, and set
whether replies need approval. Rules act for the whole workspace (they assign work to members
and hide messages), so changing them is a setting, not everyday inbox work.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.models import Membership
from stammtisch.core.roles import Perm
from stammtisch.inbox import rules
from stammtisch.inbox.actions_team import do_set_settings, replies_need_approval
from stammtisch.inbox.forms_team import InboxSettingsForm, RuleForm
from stammtisch.inbox.models import Rule
from stammtisch.networks.models import Channel


def _rule_form(request: HttpRequest, data: Any = None, initial: dict[str, Any] | None = None) -> RuleForm:
    workspace = request.workspace  # type: ignore[attr-defined]
    channels = list(Channel.objects.filter(workspace=workspace).order_by("display_name", "pk"))
    members = list(Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__username"))
    return RuleForm(data, initial=initial, channels=channels, members=members)


def _page(request: HttpRequest, form: RuleForm, status: int = 200, rule: Rule | None = None) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    can_manage = request.membership.can(Perm.MANAGE)  # type: ignore[attr-defined]
    context = {
        "workspace": workspace,
        "nav": "inbox",
        "can_manage": can_manage,
        "rules": list(Rule.objects.filter(workspace=workspace).select_related("channel", "assign_to")),
        "form": form,
        "editing": rule,
        "settings_form": InboxSettingsForm(initial={"replies_need_approval": replies_need_approval(workspace)}),
    }
    return render(request, "inbox/rules.html", context, status=status)


def _require_manage(request: HttpRequest) -> None:
    if not request.membership.can(Perm.MANAGE):  # type: ignore[attr-defined]
        raise PermissionDenied


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.VIEW)
def rule_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    if request.method != "POST":
        return _page(request, _rule_form(request))
    _require_manage(request)
    form = _rule_form(request, request.POST)
    if form.is_valid():
        try:
            rules.do_create_rule(Actor.from_request(request), workspace, form.values())
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Rule added."))
            return redirect("inbox:rules", workspace.slug)
    return _page(request, form, 400)


def _get_rule(request: HttpRequest, rule_id: int) -> Rule:
    workspace = request.workspace  # type: ignore[attr-defined]
    return get_object_or_404(Rule.objects.select_related("workspace"), pk=rule_id, workspace=workspace)


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.MANAGE)
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _get_rule(request, rule_id)
    if request.method != "POST":
        initial = {
            "name": rule.name,
            "enabled": rule.enabled,
            "intent": rule.intent,
            "sentiment": rule.sentiment,
            "language": rule.language,
            "channel": rule.channel_id or "",
            "assign_to": rule.assign_to_id or "",
            "hide": rule.hide,
            "label": rule.label,
        }
        return _page(request, _rule_form(request, initial=initial), rule=rule)
    form = _rule_form(request, request.POST)
    if form.is_valid():
        try:
            rules.do_update_rule(Actor.from_request(request), rule, form.values())
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("inbox:rules", rule.workspace.slug)
    return _page(request, form, 400, rule=rule)


@require_POST
@workspace_view(Perm.MANAGE)
def rule_enable(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _get_rule(request, rule_id)
    rules.do_set_rule_enabled(Actor.from_request(request), rule, request.POST.get("enabled") == "1")
    return redirect("inbox:rules", rule.workspace.slug)


@require_POST
@workspace_view(Perm.MANAGE)
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _get_rule(request, rule_id)
    rules.do_delete_rule(Actor.from_request(request), rule)
    messages.success(request, _("Rule deleted."))
    return redirect("inbox:rules", rule.workspace.slug)


@require_POST
@workspace_view(Perm.MANAGE)
def inbox_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = InboxSettingsForm(request.POST)
    form.is_valid()
    do_set_settings(
        Actor.from_request(request),
        workspace,
        replies_need_approval=bool(form.cleaned_data.get("replies_need_approval")),
    )
    messages.success(request, _("Inbox settings saved."))
    return redirect("inbox:rules", workspace.slug)
