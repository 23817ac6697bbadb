"""Bad input: targets other than http(s) and UTM templates with unknown variables are refused."""

from __future__ import annotations

import pytest
from django.utils import translation

from conftest import client_for
from stammtisch.core.actions import ActionError, Actor
from stammtisch.links.actions import do_update_link_settings, settings_for
from stammtisch.links.models import ShortLink
from stammtisch.links.tests.helpers import make_link


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "ftp://example.org/file",
        "/relative/path",
        "https://",
        "https://user:secret@example.org/",
        "https://exa mple.org/",
        "",
    ],
)
def test_only_http_and_https_targets_are_linked(cast, target: str) -> None:
    with pytest.raises(ActionError):
        make_link(cast, target=target)
    assert not ShortLink.objects.exists()


def test_the_builder_refuses_a_javascript_target_with_a_message(cast) -> None:
    response = client_for(cast.bob).post(
        f"/w/{cast.workspace.slug}/links/new/", {"target": "javascript:alert(1)"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "Only http:// and https:// addresses can be linked." in response.content.decode()
    assert not ShortLink.objects.exists()


def test_the_builder_makes_a_link_with_utm(cast) -> None:
    response = client_for(cast.bob).post(
        f"/w/{cast.workspace.slug}/links/new/",
        {"target": "https://cafe-koenigsbau.example/", "utm_source": "flyer", "utm_medium": "print", "in_bio": "on"},
    )
    link = ShortLink.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/links/{link.pk}/")
    assert link.destination == "https://cafe-koenigsbau.example/?utm_source=flyer&utm_medium=print"
    assert link.in_bio and link.created_by == cast.bob


def test_a_template_with_an_unknown_variable_is_refused(cast) -> None:
    with translation.override("en"), pytest.raises(ActionError, match=r"Unknown variable \{postid\}"):
        do_update_link_settings(Actor.system("test"), cast.workspace, utm_content_template="post-{postid}")
    assert settings_for(cast.workspace).utm_content_template == "post-{post_id}"


def test_the_settings_page_shows_why_a_template_is_refused(cast) -> None:
    response = client_for(cast.alice).post(
        f"/w/{cast.workspace.slug}/links/settings/",
        {
            "utm_campaign_template": "{goal}-{weather}",
            "utm_content_template": "post-{post_id}",
            "qr_dark": "#112233",
            "qr_light": "#ffffff",
            "attribution_days": "30",
            "bio_public": "on",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Unknown variable {weather}" in response.content.decode()
    assert settings_for(cast.workspace).utm_campaign_template == "{goal}"


def test_editors_make_links_but_reviewers_do_not(cast) -> None:
    from django.core.exceptions import PermissionDenied

    from stammtisch.links.actions import do_create_link

    with pytest.raises(PermissionDenied):
        do_create_link(Actor(user=cast.carol), cast.workspace, target="https://example.org/")
    assert do_create_link(Actor(user=cast.bob), cast.workspace, target="https://example.org/").pk
