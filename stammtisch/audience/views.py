"""The people pages (docs/people.md "Pages"): the list with filters and the advocates, at-risk
and open-feedback lists; a person's profile; adding, importing, merging, splitting; referrals and
the referral list; export and erasure.

Reading needs `Perm.VIEW`; tags, notes, adding, importing, merging, splitting and making referral
links need `Perm.EDIT`; export, erasure and the retention setting need `Perm.MANAGE` (personal data leaves
the system or is destroyed).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stammtisch.audience import actions, gdpr, imports, loyalty, referrals, search, segments, suggest
from stammtisch.audience.access import get_person_for_member
from stammtisch.audience.forms import (
    FilterForm,
    ImportForm,
    MergeForm,
    NewPersonForm,
    PersonForm,
    ReferralForm,
    RetentionForm,
    SegmentForm,
    SplitForm,
)
from stammtisch.audience.models import AudienceSettings, Engagement, Person, Referral, Segment, Stage, Tag
from stammtisch.core.access import workspace_view
from stammtisch.core.actions import ActionError, Actor
from stammtisch.core.roles import Perm
from stammtisch.inbox.models import Conversation, Intent, Message
from stammtisch.links.actions import qr_url, short_url
from stammtisch.publishing import imports as post_imports

PAGE_SIZE = 50
COUNT_LIMIT = 10_000  # the people list counts, and pages through, at most this many people
TIMELINE = 200
REFERRAL_ROWS = 100  # recommenders shown on the referral list
LISTS = ("advocates", "at_risk", "open_feedback")
FILTER_NAMES = (
    "q",
    "stage",
    "min_score",
    "max_score",
    "network",
    "language",
    "tag",
    "sentiment",
    "seen",
    "segment",
    "show",
)


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    membership = request.membership  # type: ignore[attr-defined]
    return {
        "workspace": request.workspace,  # type: ignore[attr-defined]
        "nav": "people",
        "can_edit": membership.can(Perm.EDIT),
        "can_manage": membership.can(Perm.MANAGE),
        **extra,
    }


def open_feedback(workspace: Any) -> list[int]:
    """The ids of the people with a question or complaint in a conversation we never answered.

    Read from the few unanswered conversations outwards (their messages through the thread
    index, then each message's engagement), once per request: the people list's page and its
    count then filter by this list (`among`) instead of computing it twice, and PostgreSQL
    cannot choose to walk every person by score and test each one's engagements (1.8 s at a
    million people; docs/benchmarks.md)."""
    conversations = Conversation.objects.filter(
        workspace=workspace, first_response_at__isnull=True, incoming_count__gt=0
    ).values("pk")
    unanswered = Message.objects.filter(
        conversation_id__in=conversations,
        direction=Message.Direction.IN,
        intent__in=[Intent.QUESTION, Intent.COMPLAINT],
    ).values("pk")
    engagements = Engagement.objects.filter(
        workspace=workspace, source=Engagement.Source.MESSAGE, answered=False, source_id__in=unanswered
    )
    return sorted(set(engagements.values_list("person_id", flat=True)))


def among(ids: list[int]) -> Q | RawSQL:
    """A filter of people to these ids, sent as one parameter, so any number of ids fits
    (SQLite allows at most 32,766 parameters in a statement). PostgreSQL gets `id = ANY(array)`,
    which it tests while walking the score index (a page of 50 in 2 ms at 38,000 ids, where
    `IN (SELECT unnest(...))` took 220 ms: it looked up and sorted all of them); SQLite reads a
    JSON array into an ephemeral index."""
    if connection.vendor == "postgresql":
        column = f"{connection.ops.quote_name(Person._meta.db_table)}.{connection.ops.quote_name('id')}"
        return RawSQL(f"{column} = ANY(%s::bigint[])", [ids], output_field=BooleanField())  # noqa: S611
    return Q(pk__in=RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)]))


def _filtered(request: HttpRequest, form: FilterForm) -> QuerySet[Person]:
    workspace = request.workspace  # type: ignore[attr-defined]
    rows = Person.objects.filter(workspace=workspace, erased_at__isnull=True)
    show = request.GET.get("show", "")
    if show == "advocates":
        rows = rows.filter(stage=Stage.ADVOCATE)
    elif show == "at_risk":
        rows = rows.filter(stage=Stage.AT_RISK)
    elif show == "open_feedback":
        rows = rows.filter(among(open_feedback(workspace)))
    form.is_valid()
    data = {name: value for name, value in getattr(form, "cleaned_data", {}).items() if name not in form.errors}
    now = timezone.now()
    segment = _segment(request)
    if segment is not None:
        rows = segments.apply(rows, segment.filters or {}, now)
    if data.get("q"):
        rows = rows.filter(search.matching(workspace, data["q"]))
    rows = segments.apply(rows, data, now)
    return rows.order_by("-score", "-pk")


class CappedPaginator(Paginator):
    """Counts at most COUNT_LIMIT people: a COUNT over a million people (and an OFFSET deep into
    them) costs seconds, a bounded count milliseconds (`stammtisch bench people`). Beyond the limit
    the list says so and pages through the COUNT_LIMIT highest scores; a narrower filter finds
    the others."""

    @cached_property
    def counted(self) -> int:
        return int(self.object_list.order_by()[: COUNT_LIMIT + 1].count())  # type: ignore[attr-defined]

    @cached_property
    def count(self) -> int:
        return min(self.counted, COUNT_LIMIT)

    @property
    def capped(self) -> bool:
        return self.counted > COUNT_LIMIT


def _segment(request: HttpRequest) -> Segment | None:
    """The segment named by `?segment=`, if it is one of this workspace's."""
    value = request.GET.get("segment", "")
    if not value.isdigit():
        return None
    return Segment.objects.filter(pk=int(value), workspace=request.workspace).first()  # type: ignore[attr-defined]


@require_GET
@workspace_view()
def people_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    tags = list(Tag.objects.filter(workspace=workspace).values_list("name", flat=True))
    form = FilterForm(request.GET or None, tags=tags)
    rows = _filtered(request, form)
    segment = _segment(request)
    page = CappedPaginator(rows.prefetch_related("identities", "tags"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({name: request.GET[name] for name in FILTER_NAMES if request.GET.get(name) and name != "show"})
    return render(
        request,
        "audience/list.html",
        _context(
            request,
            filter_form=form,
            page=page,
            show=request.GET.get("show", ""),
            query=query,
            segment=segment,
            segment_form=SegmentForm(),
            segment_filters=_filter_values(request, form, segment),
            lists=[
                ("", _("Everyone")),
                ("advocates", _("Advocates")),
                ("at_risk", _("At risk")),
                ("open_feedback", _("Open feedback")),
            ],
        ),
    )


def _filter_values(request: HttpRequest, form: FilterForm, segment: Segment | None) -> list[tuple[str, str]]:
    """The list's valid filter values (a chosen segment's first), as the hidden fields of the
    "save as segment" form."""
    values = {name: str(value) for name, value in (segment.filters if segment else {}).items()}
    values.update({name: request.GET[name] for name in segments.FIELDS if request.GET.get(name)})
    return [(name, value) for name, value in values.items() if name not in form.errors]


def _sentiment_by_month(person: Person) -> list[dict[str, Any]]:
    months: dict[str, dict[str, Any]] = defaultdict(lambda: {"positive": 0, "neutral": 0, "negative": 0})
    for at, sentiment in person.engagements.exclude(sentiment="").values_list("occurred_at", "sentiment"):
        months[timezone.localtime(at).strftime("%Y-%m")][sentiment] += 1
    return [{"month": month, **counts} for month, counts in sorted(months.items(), reverse=True)]


def explanation(person: Person, now: dt.datetime) -> str:
    since = now - dt.timedelta(days=loyalty.EXPLAIN_DAYS)
    counts = dict(
        person.engagements.filter(occurred_at__gte=since)
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return loyalty.explain(counts)


def _profile(request: HttpRequest, person: Person, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    engagements = list(
        person.engagements.select_related("channel", "identity").order_by("-occurred_at", "-pk")[:TIMELINE]
    )
    texts = Message.objects.in_bulk(
        [e.source_id for e in engagements if e.source == Engagement.Source.MESSAGE and e.kind != "answered"]
    )
    timeline = [
        {"engagement": e, "message": texts.get(e.source_id) if e.source == Engagement.Source.MESSAGE else None}
        for e in engagements
    ]
    identities = list(person.identities.select_related("channel").order_by("network", "pk"))
    links_by_account: dict[tuple[str, str], list[str]] = defaultdict(list)
    for link in gdpr.profile_links(identities):
        links_by_account[(link.network, link.remote_id)].append(link.url)
    workspace = request.workspace  # type: ignore[attr-defined]
    referral_rows = _referral_rows(list(person.referrals.select_related("link", "channel")))
    initial = {
        "display_name": person.display_name,
        "email": person.email,
        "language": person.language,
        "consent": person.consent,
        "notes": person.notes,
        "tags": ", ".join(t.name for t in person.tags.all()),
    }
    return _context(
        request,
        person=person,
        identities=identities,
        timeline=timeline,
        score=loyalty.current_score(person, now),
        explanation=explanation(person, now),
        sentiment=_sentiment_by_month(person),
        transitions=list(person.transitions.all()),
        form=extra.pop("form", None) or PersonForm(initial=initial),
        merge_form=extra.pop("merge_form", None) or MergeForm(),
        split_choices=[(i.pk, f"{i.network}: @{i.handle or i.remote_id}") for i in identities],
        profile_links=[(i, links_by_account.get((i.network, i.remote_id), [])) for i in identities],
        referrals=referral_rows,
        referred_follows=sum(row["figures"].follows for row in referral_rows),
        follow_days=referrals.FOLLOW_WINDOW.days,
        referral_form=extra.pop("referral_form", None) or ReferralForm(workspace=workspace),
        email_conversions=gdpr.email_conversions(person),
        **extra,
    )


def _referral_rows(items: list[Referral]) -> list[dict[str, Any]]:
    """Each referral with its short link, QR address and figures (referrals.figures)."""
    found = referrals.figures(items)
    return [
        {
            "referral": referral,
            "short_url": short_url(referral.link.code),
            "qr_url": qr_url(referral.link.code),
            "figures": found[referral.pk],
        }
        for referral in items
    ]


@require_GET
@workspace_view()
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    return render(request, "audience/person.html", _profile(request, person))


@require_POST
@workspace_view(Perm.EDIT)
def person_edit(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    form = PersonForm(request.POST)
    if form.is_valid():
        try:
            changed = actions.do_update_person(Actor.from_request(request), person, **form.cleaned_data)
        except ActionError as exc:
            messages.error(request, exc.message)
        else:
            if changed:
                messages.success(request, _("Saved."))
        return redirect("audience:person", slug=person.workspace.slug, person_id=person.pk)
    response = render(request, "audience/person.html", _profile(request, person, form=form))
    response.status_code = 400
    return response


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.EDIT)
def person_new(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = NewPersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            person = actions.do_add_person(Actor.from_request(request), workspace, **form.cleaned_data)
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Person added."))
            return redirect("audience:person", slug=workspace.slug, person_id=person.pk)
    response = render(request, "audience/new.html", _context(request, form=form))
    if request.method == "POST":
        response.status_code = 400
    return response


@require_POST
@workspace_view(Perm.EDIT)
def person_merge(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    form = MergeForm(request.POST)
    if not form.is_valid():
        response = render(request, "audience/person.html", _profile(request, person, merge_form=form))
        response.status_code = 400
        return response
    # Only people of this workspace can be named: another workspace's number is "not found".
    other = Person.objects.filter(pk=form.cleaned_data["other"], workspace=person.workspace).first()
    if other is None:
        form.add_error("other", _("There is no person with this number here."))
        response = render(request, "audience/person.html", _profile(request, person, merge_form=form))
        response.status_code = 400
        return response
    try:
        actions.do_merge_people(Actor.from_request(request), person, other)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Merged."))
    return redirect("audience:person", slug=person.workspace.slug, person_id=person.pk)


@require_POST
@workspace_view(Perm.EDIT)
def person_split(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    choices = [(i.pk, str(i)) for i in person.identities.all()]
    form = SplitForm(request.POST, choices=choices)
    if not form.is_valid():
        messages.error(request, _("Choose identities of this person to move."))
        return redirect("audience:person", slug=person.workspace.slug, person_id=person.pk)
    try:
        new = actions.do_split_person(Actor.from_request(request), person, form.cleaned_data["identities"])
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("audience:person", slug=person.workspace.slug, person_id=person.pk)
    messages.success(request, _("Split: the chosen identities are a person of their own now."))
    return redirect("audience:person", slug=person.workspace.slug, person_id=new.pk)


@require_POST
@workspace_view(Perm.EDIT)
def referral_new(request: HttpRequest, person_id: int) -> HttpResponse:
    """Make a referral link (and personal code) for the person."""
    person = get_person_for_member(request, person_id)
    form = ReferralForm(request.POST, workspace=person.workspace)
    if form.is_valid():
        try:
            referral = actions.do_create_referral(
                Actor.from_request(request),
                person,
                target_kind=form.cleaned_data["target_kind"],
                target=form.cleaned_data.get("target") or "",
                channel=form.cleaned_data.get("channel"),
            )
        except ActionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Referral link made. Personal code: %(code)s") % {"code": referral.code})
            url = reverse("audience:person", kwargs={"slug": person.workspace.slug, "person_id": person.pk})
            return redirect(f"{url}#referrals")
    response = render(request, "audience/person.html", _profile(request, person, referral_form=form))
    response.status_code = 400
    return response


@require_GET
@workspace_view()
def referral_list(request: HttpRequest) -> HttpResponse:
    """The recommenders: each person's referrals added up, most conversions first, then most
    follows, then most clicks (docs/people.md "Referrals"). Referrals of erased people are only counted in a total."""
    workspace = request.workspace  # type: ignore[attr-defined]
    items = list(Referral.objects.filter(workspace=workspace).select_related("person", "link", "channel"))
    found = referrals.figures(items)
    people: dict[int, dict[str, Any]] = {}
    anonymous = []
    for referral in items:
        if referral.person is None:
            anonymous.append(found[referral.pk])
            continue
        row = people.setdefault(referral.person_id or 0, {"person": referral.person, "figures": [], "referrals": 0})
        row["figures"].append(found[referral.pk])
        row["referrals"] += 1
    rows = [{**row, "total": referrals.totals(row["figures"])} for row in people.values()]
    rows.sort(
        key=lambda row: (-row["total"].conversions, -row["total"].follows, -row["total"].clicks, row["person"].pk)
    )
    return render(
        request,
        "audience/referrals.html",
        _context(
            request,
            rows=rows[:REFERRAL_ROWS],
            more=max(0, len(rows) - REFERRAL_ROWS),
            anonymous=referrals.totals(anonymous) if anonymous else None,
            follow_days=referrals.FOLLOW_WINDOW.days,
        ),
    )


@require_GET
@workspace_view()
def suggestions(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    return render(request, "audience/suggestions.html", _context(request, suggestions=suggest.suggestions(workspace)))


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.EDIT)
def people_import(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    user_id = int(request.user.pk or 0)
    if request.method == "POST" and request.POST.get("token"):
        token = request.POST["token"]
        stored = post_imports.load_upload(workspace, user_id, token)
        if stored is None:
            messages.error(request, _("The uploaded file has expired. Upload it again."))
            return redirect("audience:import", slug=workspace.slug)
        try:
            people = imports.do_import_people(Actor.from_request(request), workspace, stored[0])
        except ActionError as exc:
            messages.error(request, exc.message)
            return redirect("audience:import", slug=workspace.slug)
        post_imports.discard_upload(workspace, user_id, token)
        messages.success(
            request, ngettext("%(n)d person imported.", "%(n)d people imported.", len(people)) % {"n": len(people)}
        )
        return redirect("audience:list", slug=workspace.slug)
    form = ImportForm(request.POST or None, request.FILES or None)
    context = _context(request, form=form, columns=list(imports.ALIASES))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            preview = imports.read_csv(workspace, data)
        except ActionError as exc:
            form.add_error("file", exc.message)
        else:
            token = post_imports.store_upload(
                workspace, user_id, data, filename=form.cleaned_data["file"].name or "people.csv", queue=False
            )
            context.update(preview=preview, token=token)
            return render(request, "audience/import.html", context)
    response = render(request, "audience/import.html", context)
    if request.method == "POST":
        response.status_code = 400
    return response


@require_GET
@workspace_view(Perm.MANAGE)
def person_export_json(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    data = actions.do_export_person(Actor.from_request(request), person)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="person-{person.pk}.json"'
    return response


@require_GET
@workspace_view(Perm.MANAGE)
def person_export_html(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    data = actions.do_export_person(Actor.from_request(request), person)
    return render(
        request,
        "audience/export.html",
        _context(request, person=person, data=data, raw=json.dumps(data, ensure_ascii=False, indent=2)),
    )


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.MANAGE)
def person_erase(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_person_for_member(request, person_id)
    if request.method == "POST":
        if actions.do_erase_person(Actor.from_request(request), person):
            messages.success(request, _("The person was erased."))
        else:
            messages.info(request, _("This person was erased already."))
        return redirect("audience:list", slug=person.workspace.slug)
    return render(request, "audience/erase.html", _context(request, person=person))


@require_http_methods(["GET", "POST"])
@workspace_view(Perm.MANAGE)
def people_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    current = AudienceSettings.objects.filter(workspace=workspace).first()
    form = RetentionForm(request.POST or None, initial={"retention_months": current and current.retention_months})
    if request.method == "POST" and form.is_valid():
        actions.do_set_retention(Actor.from_request(request), workspace, form.cleaned_data["retention_months"])
        messages.success(request, _("Saved."))
        return redirect(reverse("audience:settings", kwargs={"slug": workspace.slug}))
    response = render(request, "audience/settings.html", _context(request, form=form))
    if request.method == "POST":
        response.status_code = 400
    return response


@require_http_methods(["GET", "POST"])
@workspace_view()
def segment_list(request: HttpRequest) -> HttpResponse:
    """The segments with their current count and their counts per day; POST (editors) saves the
    people list's filters as a new segment."""
    workspace = request.workspace  # type: ignore[attr-defined]
    if request.method == "POST":
        if not request.membership.can(Perm.EDIT):  # type: ignore[attr-defined]
            raise PermissionDenied
        tags = list(Tag.objects.filter(workspace=workspace).values_list("name", flat=True))
        filters = FilterForm(request.POST, tags=tags)
        form = SegmentForm(request.POST)
        if form.is_valid() and filters.is_valid():
            try:
                segment = actions.do_save_segment(
                    Actor.from_request(request),
                    workspace,
                    name=form.cleaned_data["name"],
                    filters=segments.saved_filters(filters.cleaned_data),
                )
            except ActionError as exc:
                messages.error(request, exc.message)
                return redirect("audience:segments", slug=workspace.slug)
            messages.success(request, _("Segment saved."))
            return redirect(f"{reverse('audience:segments', kwargs={'slug': workspace.slug})}#segment-{segment.pk}")
        messages.error(request, _("Give the segment a name, and use only valid filters."))
        return redirect("audience:segments", slug=workspace.slug)
    now = timezone.now()
    rows = [
        {
            "segment": segment,
            "count": segments.people(segment, now).count(),
            "history": segments.history(segment),
            "filters": _describe(segment.filters or {}),
        }
        for segment in segments.for_workspace(workspace)
    ]
    return render(request, "audience/segments.html", _context(request, rows=rows))


def _describe(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """The segment's filters as (label, value) pairs for people to read."""
    form = FilterForm(tags=[])
    described = []
    for name, value in filters.items():
        field = form.fields.get(name)
        if field is None:
            continue
        choices = dict(getattr(field, "choices", []) or [])
        described.append((str(field.label), str(choices.get(value, value))))
    return described


@require_POST
@workspace_view(Perm.EDIT)
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    segment = get_object_or_404(Segment, pk=segment_id, workspace=workspace)
    actions.do_delete_segment(Actor.from_request(request), segment)
    messages.success(request, _("Segment deleted."))
    return redirect("audience:segments", slug=workspace.slug)
