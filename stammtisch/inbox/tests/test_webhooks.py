"""Push ingestion: Meta webhooks (Facebook, Instagram, Threads) and Telegram updates by webhook,
into the same idempotent path as the sync job. Payloads: webhook_payloads/ (README there)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stammtisch.inbox import ingest, webhooks
from stammtisch.inbox.models import Conversation, Message
from stammtisch.networks.facebook.connector import FacebookNetwork
from stammtisch.networks.instagram.connector import InstagramNetwork
from stammtisch.networks.models import BotUpdate, Channel
from stammtisch.networks.threads.connector import ThreadsNetwork

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "webhook_payloads"
META_SECRET = "meta-app-secret-for-tests"
THREADS_SECRET = "threads-app-secret-for-tests"
VERIFY = "verify-me-please"


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def signed(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _secrets(settings) -> None:
    settings.META_APP_SECRET = META_SECRET
    settings.THREADS_APP_SECRET = THREADS_SECRET
    settings.STAMMTISCH_META_WEBHOOK_VERIFY_TOKEN = VERIFY


def make(cast: Any, network: str, account: str, handle: str, **extra: Any) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network=network,
        handle=handle,
        display_name=handle,
        remote_account_id=account,
        credentials={"access_token": "t"},
        **extra,
    )


@pytest.fixture
def page(cast) -> Channel:
    return make(cast, "facebook", "1029384756", "cafekoenigsbau")


def post_meta(body: bytes, signature: str | None, url: str = "inbox:webhook_meta") -> Any:
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature is not None else {}
    return Client().post(reverse(url), data=body, content_type="application/json", **headers)


# --- verification ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["inbox:webhook_meta", "inbox:webhook_threads"])
def test_the_subscription_check_echoes_the_challenge_only_for_our_verify_token(url: str) -> None:
    ok = Client().get(
        reverse(url), {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = Client().get(reverse(url), {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    assert wrong.status_code == 403 and b"1" not in wrong.content


def test_without_a_configured_verify_token_the_check_fails(settings) -> None:
    settings.STAMMTISCH_META_WEBHOOK_VERIFY_TOKEN = ""
    answer = Client().get(reverse("inbox:webhook_meta"), {"hub.mode": "subscribe", "hub.verify_token": ""})
    assert answer.status_code == 403


# --- signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha1=abc",
        signed(b"another body"),
        signed(raw("facebook_feed_comment.json"), "x"),
    ],
)
def test_a_bad_or_missing_signature_is_refused_with_403_logged_and_nothing_stored(
    page: Channel, signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stammtisch.inbox.views_webhooks"):
        answer = post_meta(raw("facebook_feed_comment.json"), signature)
    assert answer.status_code == 403
    assert any("signature" in record.getMessage() and "refused" in record.getMessage() for record in caplog.records)
    assert not Message.objects.exists() and not Conversation.objects.exists()
    page.refresh_from_db()
    assert page.last_synced_at is None


def test_threads_deliveries_are_checked_with_the_threads_secret(cast) -> None:
    make(cast, "threads", "25000000000000001", "cafe_koenigsbau")
    body = raw("threads_replies.json")
    assert post_meta(body, signed(body, META_SECRET), "inbox:webhook_threads").status_code == 403
    assert post_meta(body, signed(body, THREADS_SECRET), "inbox:webhook_threads").status_code == 200
    assert Message.objects.count() == 1


def test_signature_check_itself() -> None:
    body = b'{"object": "page"}'
    assert webhooks.signature_ok(body, signed(body), META_SECRET)
    assert webhooks.signature_ok(body, signed(body).upper().replace("SHA256=", "sha256="), META_SECRET)
    assert not webhooks.signature_ok(body, signed(body), "")  # no secret configured: never valid
    assert not webhooks.signature_ok(body + b" ", signed(body), META_SECRET)


# --- Facebook -------------------------------------------------------------------------------------


def test_a_facebook_comment_is_stored_in_its_posts_conversation(page: Channel) -> None:
    body = raw("facebook_feed_comment.json")
    answer = post_meta(body, signed(body))
    assert answer.status_code == 200
    message = Message.objects.get()
    assert (message.remote_id, message.kind, message.text) == ("777_9001", "comment", "Habt ihr morgen offen?")
    assert message.author_name == "Lena Maier" and message.channel == page
    assert message.occurred_at == dt.datetime.fromtimestamp(1767978000, tz=dt.UTC)
    conversation = message.conversation
    assert (conversation.kind, conversation.root_remote_id) == ("comments", "1029384756_777")
    page.refresh_from_db()
    assert page.last_synced_at is not None  # a delivery counts as a successful read


def test_the_same_comment_by_webhook_twice_and_then_by_the_sync_is_stored_once(page: Channel) -> None:
    body = raw("facebook_feed_comment.json")
    assert post_meta(body, signed(body)).status_code == 200
    assert post_meta(body, signed(body)).status_code == 200
    # The sync reads the same comment from GET /{page}/feed (the connector's own parsing):
    graph_comment = {
        "id": "777_9001",
        "message": "Habt ihr morgen offen?",
        "created_time": "2026-01-09T17:00:00+0000",
        "from": {"id": "5550001", "name": "Lena Maier"},
    }
    event = FacebookNetwork._comment_event(graph_comment, "1029384756_777", page.remote_account_id)
    assert event is not None
    stored = ingest.store_events(page, [event], now=timezone.now())
    assert stored.messages == 0
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_the_sync_first_and_the_webhook_later_is_stored_once_too(page: Channel) -> None:
    graph_comment = {"id": "777_9001", "message": "Habt ihr morgen offen?", "created_time": "2026-01-09T17:00:00+0000"}
    event = FacebookNetwork._comment_event(graph_comment, "1029384756_777", page.remote_account_id)
    assert event is not None
    ingest.store_events(page, [event], now=timezone.now())
    body = raw("facebook_feed_comment.json")
    assert json.loads(post_meta(body, signed(body)).content)["stored"] == 0
    assert Message.objects.count() == 1


def test_an_edit_reported_by_webhook_replaces_the_text(page: Channel) -> None:
    for name in ("facebook_feed_comment.json", "facebook_feed_comment_edited.json"):
        body = raw(name)
        assert post_meta(body, signed(body)).status_code == 200
    message = Message.objects.get()
    assert message.text == "Habt ihr morgen und übermorgen offen?" and message.edited_at is not None


def test_a_messenger_message_is_a_conversation_with_the_person_and_echoes_are_skipped(page: Channel) -> None:
    body = raw("messenger_message.json")
    assert post_meta(body, signed(body)).status_code == 200
    message = Message.objects.get()
    assert (message.kind, message.remote_id, message.author_id) == ("message", "m_AbCdEf123", "6660001")
    assert message.conversation.kind == "message" and message.conversation.root_remote_id == "6660001"
    assert message.occurred_at == dt.datetime.fromtimestamp(1767978000, tz=dt.UTC)


def test_a_delivery_for_an_account_we_do_not_have_is_accepted_and_ignored(cast) -> None:
    body = raw("facebook_feed_comment.json")
    answer = post_meta(body, signed(body))
    assert answer.status_code == 200  # Meta would retry anything else for hours
    assert not Message.objects.exists()


def test_the_same_page_in_two_workspaces_gets_the_comment_in_both(cast, page: Channel) -> None:
    other = Channel.objects.create(
        workspace=cast.other_workspace,
        network="facebook",
        handle="cafekoenigsbau",
        display_name="x",
        remote_account_id=page.remote_account_id,
    )
    body = raw("facebook_feed_comment.json")
    post_meta(body, signed(body))
    assert set(Message.objects.values_list("channel_id", flat=True)) == {page.pk, other.pk}


# --- Instagram and Threads ------------------------------------------------------------------------


def test_instagram_comments_and_mentions_are_stored_and_match_the_sync(cast) -> None:
    account = make(cast, "instagram", "17841400000000001", "cafe.koenigsbau")
    body = raw("instagram_comments.json")
    assert post_meta(body, signed(body)).status_code == 200
    comment = Message.objects.get(kind="comment")
    assert (comment.remote_id, comment.author_handle) == ("17865799348089039", "kaffeeliebe")
    assert comment.conversation.root_remote_id == "17920238422030506"
    mention = Message.objects.get(kind="mention")
    assert mention.remote_id == "17894227972186120" and mention.conversation.root_remote_id == "17918195224117851"
    # The sync's reading of the same comment (GET /{ig-user}/media with comments) is the same row.
    events = InstagramNetwork._events(
        account,
        {
            "id": "17865799348089039",
            "text": "Wie lange habt ihr heute auf?",
            "timestamp": "2026-01-09T17:00:00+0000",
            "username": "kaffeeliebe",
            "from": {"id": "1234567890", "username": "kaffeeliebe"},
        },
        "17920238422030506",
        "",
    )
    assert ingest.store_events(account, events, now=timezone.now()).messages == 0
    assert Message.objects.filter(kind="comment").count() == 1


def test_a_threads_reply_is_stored_under_our_post_and_matches_the_sync(cast) -> None:
    profile = make(cast, "threads", "25000000000000001", "cafe_koenigsbau")
    body = raw("threads_replies.json")
    assert post_meta(body, signed(body, THREADS_SECRET), "inbox:webhook_threads").status_code == 200
    message = Message.objects.get()
    assert (message.kind, message.remote_id, message.author_handle) == (
        "comment",
        "18050000000000001",
        "stuttgart_snacks",
    )
    assert message.conversation.root_remote_id == "18040000000000009"
    item = json.loads(body)["values"]["value"]
    event = ThreadsNetwork._reply_event(profile, item, "18040000000000009", message.occurred_at)
    assert event is not None
    assert ingest.store_events(profile, [event], now=timezone.now()).messages == 0


def test_script_and_markup_in_a_webhook_comment_are_stored_as_text(page: Channel) -> None:
    payload = json.loads(raw("facebook_feed_comment.json"))
    payload["entry"][0]["changes"][0]["value"]["message"] = '<script>alert(1)</script><img src=x onerror="x()">\x00'
    body = json.dumps(payload).encode()
    assert post_meta(body, signed(body)).status_code == 200
    assert Message.objects.get().text == '<script>alert(1)</script><img src=x onerror="x()">\ufffd'


# --- Telegram -------------------------------------------------------------------------------------


@pytest.fixture
def telegram(cast) -> Channel:
    return Channel.objects.create(
        workspace=cast.workspace,
        network="telegram",
        handle="cafekoenigsbau",
        display_name="Café Königsbau",
        remote_account_id="-1001111",
        credentials={"bot_token": "123:ABC"},
        network_data={"bot_id": "123", "bot_username": "koenigsbau_bot", "linked_chat_id": "-1002222"},
    )


def post_telegram(channel: Channel, body: bytes, secret: str | None) -> Any:
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    url = reverse("inbox:webhook_telegram", args=[channel.pk])
    return Client().post(url, data=body, content_type="application/json", **headers)


def test_a_telegram_update_goes_through_the_connector_into_the_inbox_once(telegram: Channel) -> None:
    body = raw("telegram_update.json")
    secret = webhooks.telegram_secret(telegram)
    answer = post_telegram(telegram, body, secret)
    assert answer.status_code == 200 and json.loads(answer.content) == {"stored": 1}
    message = Message.objects.get()
    assert (message.remote_id, message.kind, message.author_name) == ("-1002222:55", "comment", "Lena Maier")
    assert message.conversation.root_remote_id == "-1001111:42"  # the channel post, via the automatic forward
    assert BotUpdate.objects.filter(update_id=900001).count() == 1
    telegram.refresh_from_db()
    assert telegram.network_data["webhook"] is True  # the sync no longer calls getUpdates (no socket here)
    assert telegram.last_synced_at is not None
    # Delivered again (Telegram retries when unsure): stored once.
    assert json.loads(post_telegram(telegram, body, secret).content) == {"stored": 0}
    assert Message.objects.count() == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", "0" * 64])
def test_a_telegram_update_with_a_bad_secret_is_refused(
    telegram: Channel, secret: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stammtisch.inbox.views_webhooks"):
        answer = post_telegram(telegram, raw("telegram_update.json"), secret)
    assert answer.status_code == 403
    assert any("secret token" in record.getMessage() for record in caplog.records)
    assert not BotUpdate.objects.exists() and not Message.objects.exists()


def test_the_telegram_secret_depends_on_channel_and_bot_token(telegram: Channel, cast) -> None:
    first = webhooks.telegram_secret(telegram)
    assert len(first) == 64
    telegram.credentials = {"bot_token": "123:NEW"}
    telegram.save()
    assert webhooks.telegram_secret(telegram) != first
    assert post_telegram(telegram, raw("telegram_update.json"), first).status_code == 403


def test_a_webhook_url_of_another_network_is_404(page: Channel) -> None:
    assert post_telegram(page, raw("telegram_update.json"), "x").status_code == 404
