"""`stammtisch demo`: a café with history made by the real publisher and the Sandbox simulation."""

from __future__ import annotations

import stat

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from stammtisch.core.management.commands import demo
from stammtisch.core.models import Membership, Workspace
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox.models import SandboxEvent, SandboxFollow, SandboxPost
from stammtisch.publishing.models import Delivery, Post


@pytest.fixture
def short_demo(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(demo, "HISTORY_DAYS", 21)  # the real one covers 90 days; same code path


def test_demo_builds_a_cafe_with_history_made_by_the_simulation(db, short_demo, capsys, settings):
    call_command("demo")

    out = capsys.readouterr().out
    password = (settings.DATA_DIR / "demo_password").read_text().strip()
    assert f"Demo login: alice / {password}" in out
    assert stat.S_IMODE((settings.DATA_DIR / "demo_password").stat().st_mode) == 0o600
    assert authenticate(username="alice", password=password) is not None

    workspace = Workspace.objects.get(is_demo=True)
    assert (workspace.time_zone, workspace.language) == ("Europe/Berlin", "de")
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user__username", "role"))
    assert roles == {"alice": "owner", "bob": "editor", "carol": "reviewer"}
    channels = Channel.objects.filter(workspace=workspace, network="sandbox")
    assert sorted(channels.values_list("stands_in_for", flat=True)) == ["facebook", "instagram", "mastodon"]

    published = Delivery.objects.filter(post__workspace=workspace, state="published")
    assert published.count() >= 6
    assert not Delivery.objects.filter(post__workspace=workspace, state__in=["failed", "unknown", "retry_wait"])
    assert Post.objects.filter(workspace=workspace, status="scheduled", scheduled_at__gt=timezone.now()).exists()
    assert Post.objects.filter(workspace=workspace, status="draft").exists()

    # Every published delivery is a Sandbox post, published at its back-dated time.
    ours = SandboxPost.objects.filter(author_persona__isnull=True, parent__isnull=True)
    assert ours.count() == published.count()
    for delivery in published:
        assert ours.get(idempotency_key=str(delivery.idempotency_key)).published_at == delivery.post.scheduled_at

    happened = SandboxEvent.objects.filter(occurs_at__lte=timezone.now())
    counts = dict(happened.values_list("kind").annotate(n=Sum("count")))
    assert counts.get("like", 0) > 0
    assert counts.get("comment", 0) + counts.get("question", 0) > 0
    assert SandboxFollow.objects.exists()
    assert SandboxPost.objects.filter(author_persona__isnull=True, parent__isnull=False).exists()  # our replies


def test_demo_is_idempotent_and_reset_rebuilds_it(db, short_demo, capsys):
    call_command("demo")
    call_command("demo")
    assert "exists already" in capsys.readouterr().out
    assert Workspace.objects.filter(is_demo=True).count() == 1
    first = Workspace.objects.get(is_demo=True).pk

    call_command("demo", "--reset")

    assert Workspace.objects.filter(is_demo=True).count() == 1
    assert Workspace.objects.get(is_demo=True).pk != first
    assert Channel.objects.filter(network="sandbox").count() == 3


def test_demo_does_not_take_over_a_real_user_called_alice(db, short_demo):
    from django.contrib.auth.models import User
    from django.core.management.base import CommandError

    User.objects.create_user("alice", "alice@real.example", "secret-enough-123")
    with pytest.raises(CommandError):
        call_command("demo")
    assert not Workspace.objects.filter(is_demo=True).exists()
