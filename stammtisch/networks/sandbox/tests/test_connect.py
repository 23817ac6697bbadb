"""Connecting a workspace to a Sandbox account."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.core.models import AuditEvent
from stammtisch.networks.base import MediaItem, Outgoing
from stammtisch.networks.models import Channel
from stammtisch.networks.sandbox import views
from stammtisch.networks.sandbox.actions import HandleTaken, do_connect_sandbox_channel
from stammtisch.networks.sandbox.forms import ConnectSandboxForm
from stammtisch.networks.sandbox.models import SandboxAccount

FORM = {"handle": "cafe-koenigsbau", "display_name": "Café Königsbau", "stands_in_for": "instagram"}


def url(slug: str) -> str:
    return reverse("sandbox:connect", kwargs={"slug": slug})


def test_it_connects_a_sandbox_channel(cast) -> None:
    response = client_for(cast.alice).post(url(cast.workspace.slug), FORM)

    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox:feed", args=["cafe-koenigsbau"])
    channel = Channel.objects.get(workspace=cast.workspace)
    assert (channel.network, channel.handle, channel.stands_in_for) == ("sandbox", "cafe-koenigsbau", "instagram")
    assert channel.credentials["token"]
    account = SandboxAccount.objects.get(handle="cafe-koenigsbau")
    assert account.workspace == cast.workspace and channel.remote_account_id == account.remote_id
    photo = MediaItem(path="a.jpg", content_type="image/jpeg", url="https://example.org/a.jpg")  # Instagram needs one
    remote = channel.connector.publish(channel, Outgoing(text="Hallo Sandbox!", media=(photo,)), "k1")
    assert remote.id.startswith("post-")


def test_it_audits_the_connection_without_the_token(cast) -> None:
    client_for(cast.adam).post(url(cast.workspace.slug), FORM)
    event = AuditEvent.objects.get(action="channel.connect")
    token = Channel.objects.get().credentials["token"]
    assert event.actor == cast.adam and event.workspace == cast.workspace
    assert token not in str(event.as_dict()) and token not in event.summary


def test_connecting_again_gives_the_channel_a_new_token(cast) -> None:
    first = do_connect_sandbox_channel(Actor.system(), cast.workspace, "cafe", "Café", "")
    old = first.credentials["token"]
    second = do_connect_sandbox_channel(Actor.system(), cast.workspace, "cafe", "Café am Markt", "mastodon")
    assert second.pk == first.pk and second.credentials["token"] != old
    assert second.display_name == "Café am Markt"
    assert SandboxAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action="channel.reconnect").exists()


def test_a_handle_of_another_workspace_is_taken(cast) -> None:
    do_connect_sandbox_channel(Actor.system(), cast.workspace, "cafe", "Café", "")
    form = ConnectSandboxForm({"handle": "cafe", "display_name": "Chili"}, workspace=cast.other_workspace)
    assert not form.is_valid() and "handle" in form.errors
    with pytest.raises(HandleTaken):
        do_connect_sandbox_channel(Actor.system(), cast.other_workspace, "cafe", "Chili", "")


@pytest.mark.parametrize("handle", ["", "a", "Café!", "x" * 41, "-dash"])
def test_it_refuses_a_bad_handle(cast, handle) -> None:
    form = ConnectSandboxForm({"handle": handle, "display_name": "X"}, workspace=cast.workspace)
    assert not form.is_valid() and "handle" in form.errors


def test_it_accepts_a_handle_in_capitals_as_lower_case(cast) -> None:
    form = ConnectSandboxForm({"handle": "CafeKoenigsbau", "display_name": "X"}, workspace=cast.workspace)
    assert form.is_valid() and form.cleaned_data["handle"] == "cafekoenigsbau"


def _call(user, slug: str):
    request = RequestFactory().post(url(slug), FORM)
    request.user = user
    request.session = {}  # type: ignore[assignment]
    return views.connect(request, slug=slug)


def test_it_is_forbidden_for_an_analyst(cast) -> None:
    with pytest.raises(PermissionDenied):
        _call(cast.anna, cast.workspace.slug)
    assert not Channel.objects.exists()


def test_it_is_not_found_for_an_outsider(cast) -> None:
    with pytest.raises(Http404):
        _call(cast.charlie, cast.workspace.slug)
    assert not Channel.objects.exists()


def test_it_answers_403_and_404_as_pages(cast, app_layout) -> None:
    assert client_for(cast.anna).post(url(cast.workspace.slug), FORM).status_code == 403
    assert client_for(cast.carol).post(url(cast.workspace.slug), FORM).status_code == 403
    assert client_for(cast.charlie).post(url(cast.workspace.slug), FORM).status_code == 404
    assert not Channel.objects.exists()


def test_it_shows_the_form_and_its_errors(cast, app_layout) -> None:
    client = client_for(cast.alice)
    page = client.get(url(cast.workspace.slug))
    assert page.status_code == 200 and "Sandbox" in page.content.decode()
    invalid = client.post(url(cast.workspace.slug), {"handle": "", "display_name": ""})
    assert invalid.status_code == 200 and not Channel.objects.exists()
