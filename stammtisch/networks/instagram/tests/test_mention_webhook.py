"""A `mentions` webhook carries only ids: the inbox's mapping (inbox/webhooks.py) asks the
connector for the text, and stores the mention without it when Instagram cannot answer."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse

from stammtisch.inbox.models import Message
from stammtisch.networks.meta.tests.graph import APP_SECRET, IG_ID, error, ok

pytestmark = pytest.mark.django_db

COMMENT_ID = "17873440459141021"
MEDIA_ID = "17895695668004550"


def notify(value: dict[str, str]) -> int:
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [{"id": IG_ID, "time": 1795680780, "changes": [{"field": "mentions", "value": value}]}],
        }
    ).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = Client().post(
        reverse("inbox:webhook_meta"), data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )
    return response.status_code


def test_a_mention_in_a_comment_is_stored_with_its_text(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, ok("instagram", "mentioned_comment.json"))

    assert notify({"media_id": MEDIA_ID, "comment_id": COMMENT_ID}) == 200

    message = Message.objects.get(channel=ig_channel)
    assert (message.kind, message.remote_id) == ("mention", COMMENT_ID)
    assert message.text == "@cafe.koenigsbau habt ihr am Sonntag noch einen Tisch für vier?"
    assert message.conversation.root_remote_id == MEDIA_ID


def test_a_mention_in_a_caption_is_stored_with_the_caption_and_author(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, ok("instagram", "mentioned_media.json"))

    assert notify({"media_id": MEDIA_ID}) == 200

    message = Message.objects.get(channel=ig_channel)
    assert message.remote_id == MEDIA_ID
    assert message.text == "Bester Zwiebelkuchen der Stadt bei @cafe.koenigsbau"
    assert message.author_handle == "lena.isst.stuttgart"


def test_when_instagram_cannot_answer_the_mention_is_kept_without_text(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, error("error_2.json", status=500))

    assert notify({"media_id": MEDIA_ID, "comment_id": COMMENT_ID}) == 200

    message = Message.objects.get(channel=ig_channel)
    assert (message.remote_id, message.text) == (COMMENT_ID, "")


def test_a_deleted_mention_is_not_stored(ig_channel, graph) -> None:
    graph.on("GET", IG_ID, error("error_100_33.json"))

    assert notify({"media_id": MEDIA_ID, "comment_id": COMMENT_ID}) == 200

    assert not Message.objects.filter(channel=ig_channel).exists()
