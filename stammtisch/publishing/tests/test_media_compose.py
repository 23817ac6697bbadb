"""Media in the composer: the upload area (htmx partials), the checks per channel with the chosen
files, saving a post with its files in order, and where files are served."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import client_for
from stammtisch.core.actions import Actor
from stammtisch.networks.models import Channel
from stammtisch.publishing import media
from stammtisch.publishing.models import MediaAsset, Post, PostMedia
from stammtisch.publishing.tests.media_samples import image, upload


@pytest.fixture
def as_instagram(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace, network="sandbox", handle="ki", display_name="Königsbau auf Instagram",
        stands_in_for="instagram",
    )  # fmt: skip


def uploaded(cast, name="kuchen.jpg", content=None, alt="") -> MediaAsset:
    content = content if content is not None else image("JPEG", (1080, 1080))
    return media.do_upload_media(Actor(user=cast.bob, label="bob"), cast.workspace, upload(name, content), alt)


def url(cast, name: str, **kwargs) -> str:
    return reverse(f"publishing:{name}", kwargs={"slug": cast.workspace.slug, **kwargs})


def post(cast, name: str, data, user=None, **kwargs):
    return client_for(user or cast.bob).post(url(cast, name, **kwargs), data, HTTP_ACCEPT_LANGUAGE="en")


# --- the upload area ---


def test_uploading_in_the_composer_shows_the_file_with_its_alt_text_field(cast):
    kept = uploaded(cast, "schon-da.jpg", image("JPEG", (600, 600), "#123456"))
    files = [upload("brezel.png", image("PNG", (1080, 1350)), "image/png"), upload("menu.jpg", b"nur Text")]

    response = post(cast, "compose_media_upload", {"media": [kept.pk], "upload": files})

    page = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger-After-Settle"] == "media-changed"  # the checks are asked again
    new = MediaAsset.objects.get(original_name="brezel.png")
    # In order: the one the form had, then the new one; each posts its id with the form.
    assert page.index(f'name="media" value="{kept.pk}"') < page.index(f'name="media" value="{new.pk}"')
    assert f'name="alt_{new.pk}"' in page
    assert url(cast, "media_file", media_id=new.pk) in page
    assert "“menu.jpg” is not a JPEG, PNG, GIF or WebP image or an MP4 video." in page
    assert MediaAsset.objects.count() == 2


def test_files_are_moved_removed_and_added_again(cast):
    first, second = uploaded(cast, "a.jpg"), uploaded(cast, "b.jpg", image("JPEG", (500, 500), "#00ff00"))

    page = post(cast, "compose_media", {"media": [first.pk, second.pk], "media_op": f"up:{second.pk}"}).content
    assert page.decode().index(f'value="{second.pk}"') < page.decode().index(f'value="{first.pk}"')

    page = post(cast, "compose_media", {"media": [first.pk, second.pk], "media_op": f"remove:{first.pk}"}).content
    assert f'name="media" value="{first.pk}"' not in page.decode()
    assert "Recent uploads" in page.decode()  # the removed one can be added again

    page = post(cast, "compose_media", {"media": [second.pk], "media_op": f"add:{first.pk}"}).content.decode()
    assert page.index(f'name="media" value="{second.pk}"') < page.index(f'name="media" value="{first.pk}"')


def test_the_alt_text_is_saved_as_it_is_typed(cast):
    asset = uploaded(cast)

    response = post(
        cast, "compose_media", {"media": [asset.pk], "media_op": f"alt:{asset.pk}", f"alt_{asset.pk}": "Apfelkuchen"}
    )

    assert response.status_code == 204
    asset.refresh_from_db()
    assert asset.alt_text == "Apfelkuchen"


def test_a_file_can_be_deleted_from_the_recent_uploads(cast):
    asset = uploaded(cast)

    page = post(cast, "compose_media", {"media_op": f"delete:{asset.pk}"}).content.decode()

    assert not MediaAsset.objects.exists()
    assert "Recent uploads" not in page


def test_charlie_cannot_touch_alices_files(cast):
    asset = uploaded(cast)
    theirs = reverse("publishing:compose_media", kwargs={"slug": cast.other_workspace.slug})

    assert post(cast, "compose_media", {"media_op": f"delete:{asset.pk}"}, user=cast.charlie).status_code == 404
    response = client_for(cast.charlie).post(theirs, {"media_op": f"delete:{asset.pk}"})
    assert response.status_code == 404  # through his own workspace: not his file
    assert client_for(cast.charlie).get(url(cast, "media_file", media_id=asset.pk)).status_code == 404
    mine = reverse("publishing:media_file", kwargs={"slug": cast.other_workspace.slug, "media_id": asset.pk})
    assert client_for(cast.charlie).get(mine).status_code == 404
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_an_analyst_sees_files_but_cannot_upload(cast):
    asset = uploaded(cast)
    assert post(cast, "compose_media_upload", {"upload": [upload("a.png", image())]}, user=cast.anna).status_code == 403
    response = client_for(cast.anna).get(url(cast, "media_file", media_id=asset.pk))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


# --- serving ---


def test_members_get_the_file_privately_and_networks_at_its_secret_address(cast, client):
    asset = uploaded(cast)
    with asset.file.open("rb") as handle:
        content = handle.read()

    response = client_for(cast.anna).get(url(cast, "media_file", media_id=asset.pk))
    assert b"".join(response.streaming_content) == content
    assert response["Cache-Control"].startswith("private")
    assert "sandbox" in response["Content-Security-Policy"]

    public = media.public_url(asset)
    assert public.startswith("http") and media.public_token(asset) in public
    response = client.get(
        reverse("publishing:media_public", kwargs={"media_id": asset.pk, "token": media.public_token(asset)})
    )
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
    wrong = reverse("publishing:media_public", kwargs={"media_id": asset.pk, "token": "0" * 32})
    assert client.get(wrong).status_code == 404
    assert client.get(url(cast, "media_file", media_id=asset.pk)).status_code == 302  # anonymous: log in


# --- checks ---


def test_instagram_says_it_needs_an_image_until_one_is_chosen(cast, as_instagram):
    data = {"text": "Sonntagsbrunch!", "channels": [as_instagram.pk], "purpose": "value"}

    without = post(cast, "compose_check", data).content.decode()
    assert "Instagram needs at least one image or video" in without and "Fits this network." not in without

    asset = uploaded(cast, alt='Brunch <script>alert("x")</script>')
    with_image = post(cast, "compose_check", {**data, "media": [asset.pk]}).content.decode()
    assert "Fits this network." in with_image
    assert url(cast, "media_file", media_id=asset.pk) in with_image  # the preview shows it
    assert 'alt="Brunch &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in with_image


def test_an_image_of_the_wrong_shape_for_instagram_is_named(cast, as_instagram):
    tall = uploaded(cast, "story.jpg", image("JPEG", (1080, 1920)))

    page = post(
        cast, "compose_check", {"text": "Hallo", "channels": [as_instagram.pk], "media": [tall.pk]}
    ).content.decode()

    assert "Image 1: Instagram needs an aspect ratio between 4:5 and 1.91:1 (this one is 1080 by 1920 pixels)" in page


def test_another_workspaces_file_is_not_checked_or_shown(cast, as_instagram):
    charlie = Actor(user=cast.charlie, label="charlie")
    theirs = media.do_upload_media(charlie, cast.other_workspace, upload("x.jpg", image("JPEG")))

    page = post(
        cast, "compose_check", {"text": "Hallo", "channels": [as_instagram.pk], "media": [theirs.pk]}
    ).content.decode()

    assert "Instagram needs at least one image or video" in page
    assert f"/media/{theirs.pk}/" not in page


# --- saving ---


def test_a_post_is_saved_with_its_files_in_order_and_their_alt_texts(cast, as_instagram):
    first, second = uploaded(cast, "a.jpg"), uploaded(cast, "b.jpg", image("JPEG", (1080, 1350), "#00ff00"))

    response = post(
        cast,
        "compose",
        {
            "text": "Neue Torten!",
            "channels": [as_instagram.pk],
            "purpose": "value",
            "when": "draft",
            "media": [second.pk, first.pk],
            f"alt_{second.pk}": "Erdbeertorte",
        },
    )

    assert response.status_code == 302
    saved = Post.objects.get()
    assert list(PostMedia.objects.filter(post=saved).values_list("asset_id", flat=True)) == [second.pk, first.pk]
    second.refresh_from_db()
    assert second.alt_text == "Erdbeertorte"
    page = client_for(cast.anna).get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert url(cast, "media_file", media_id=second.pk) in page and ">Erdbeertorte<" in page
    assert "No description (alt text)" in page  # the other one has none: the page says so


def test_scheduling_for_instagram_without_an_image_is_refused_a_draft_is_not(cast, as_instagram):
    data = {"text": "Brunch", "channels": [as_instagram.pk], "purpose": "value", "when": "now"}

    page = post(cast, "compose", data).content.decode()
    assert "The images and videos do not suit every channel yet" in page
    assert "Instagram needs at least one image or video" in page
    assert not Post.objects.exists()

    assert post(cast, "compose", {**data, "when": "draft"}).status_code == 302


def test_charlie_cannot_put_alices_file_into_his_post(cast):
    asset = uploaded(cast)
    theirs = reverse("publishing:compose", kwargs={"slug": cast.other_workspace.slug})

    response = client_for(cast.charlie).post(
        theirs, {"text": "Geklaut", "purpose": "value", "when": "draft", "media": [asset.pk]}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    assert "A chosen file was not found" in response.content.decode()
    assert not Post.objects.exists()


def test_editing_a_scheduled_instagram_post_checks_it_with_its_image(cast, as_instagram):
    import datetime as dt

    from django.utils import timezone

    from stammtisch.publishing.actions import do_create_post

    picture = uploaded(cast)
    scheduled = do_create_post(
        Actor(user=cast.bob, label="bob"),
        cast.workspace,
        text="Brunch",
        channels=[as_instagram],
        scheduled_at=timezone.now() + dt.timedelta(days=2),
        media=[picture],
    )
    edit = {"text": "Brunch mit Musik", "purpose": "value", "link": "", "pillar": "", "first_comment": ""}

    check = post(cast, "compose_check", {**edit, "channels": [as_instagram.pk], "editing": scheduled.pk}).content
    assert "Fits this network." in check.decode()
    response = post(cast, "post_edit", edit, post_id=scheduled.pk)

    assert response.status_code == 302, response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.text == "Brunch mit Musik"
