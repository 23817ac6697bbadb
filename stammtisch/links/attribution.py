"""Clicks, conversions and their value per strategy goal: a click or conversion counts for the
goal of the post it is attributed to (`Post.goal`, docs/links.md "Per goal"). The goal a post
has now counts, also for clicks made before it was given that goal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from stammtisch.core.models import Workspace
from stammtisch.links.models import Click, Conversion
from stammtisch.publishing.models import Post
from stammtisch.strategy.models import Goal


@dataclass
class GoalFigures:
    goal: Goal | None  # None: posts without a goal
    posts: int = 0
    clicks: int = 0  # bots left out
    visits: int = 0  # `visit` conversions
    conversions: int = 0  # every other kind
    value: Decimal | None = None  # of the other kinds, summed as reported (docs/links.md)


def per_goal(workspace: Workspace, goal: Goal | None = None) -> list[GoalFigures]:
    """Every goal of the workspace (or only `goal`) with the figures of its posts, then a row of
    the posts without a goal (left out with `goal`). Four grouped queries."""
    goals = [goal] if goal is not None else list(Goal.objects.filter(workspace=workspace))
    rows: dict[int | None, GoalFigures] = {item.pk: GoalFigures(item) for item in goals}
    if goal is None:
        rows[None] = GoalFigures(None)

    def scoped(queryset: Any, prefix: str) -> Any:
        queryset = queryset.filter(workspace=workspace)
        if goal is not None:
            return queryset.filter(**{f"{prefix}goal": goal})
        return queryset

    for row in scoped(Post.objects.all(), "").values("goal_id").annotate(n=Count("pk")):
        if row["goal_id"] in rows:
            rows[row["goal_id"]].posts = row["n"]
    clicks = scoped(Click.objects.filter(is_bot=False, post__isnull=False), "post__")
    for row in clicks.values("post__goal_id").annotate(n=Count("pk")):
        if row["post__goal_id"] in rows:
            rows[row["post__goal_id"]].clicks = row["n"]
    conversions = scoped(Conversion.objects.filter(post__isnull=False), "post__")
    other = ~Q(kind=Conversion.Kind.VISIT)
    for row in conversions.values("post__goal_id").annotate(
        visits=Count("pk", filter=Q(kind=Conversion.Kind.VISIT)),
        conversions=Count("pk", filter=other),
        value=Sum("value", filter=other),
    ):
        if row["post__goal_id"] in rows:
            figures = rows[row["post__goal_id"]]
            figures.visits, figures.conversions, figures.value = row["visits"], row["conversions"], row["value"]
    return list(rows.values())
