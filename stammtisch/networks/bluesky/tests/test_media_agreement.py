"""The composer's rules for Bluesky and what the connector publishes agree: every media type the
rules allow goes out through the (scripted) PDS, and a video, which the connector cannot publish
yet, is refused by the rules too (rules.py, docs/networks/bluesky.md)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from stammtisch.networks import rules
from stammtisch.networks.base import MediaItem, NetworkError, Outgoing
from stammtisch.networks.bluesky import api
from stammtisch.networks.bluesky.connector import BlueskyNetwork
from stammtisch.networks.bluesky.tests.conftest import ok
from stammtisch.networks.registry import get_network

KEY = "6e2f0c1a-9b7d-4c3e-8f5a-1d2b3c4e5f60"


def connector() -> BlueskyNetwork:
    network = get_network("bluesky")
    assert isinstance(network, BlueskyNetwork)
    return network


def test_every_media_type_the_composer_allows_is_published(pds, bluesky_channel) -> None:
    pds.on(api.UPLOAD_BLOB, ok("uploadBlob.json"))
    pds.on(api.CREATE_RECORD, ok("createRecord.json"))
    allowed = [kind for kind, _limit in rules.RULES["bluesky"].media_types]
    assert allowed

    for number, content_type in enumerate(allowed):
        name = default_storage.save(f"media/bild-{number}", ContentFile(b"picture"))
        item = MediaItem(name, content_type, "Ein Bild", size=7, width=800, height=600)
        assert rules.validate("bluesky", "Bild", [item]).ok
        connector().publish(bluesky_channel, Outgoing(text="Bild", media=(item,)), f"{KEY}-{number}")

    assert [request.headers["Content-Type"] for request in pds.calls(api.UPLOAD_BLOB)] == allowed
    assert len(pds.calls(api.CREATE_RECORD)) == len(allowed)


@pytest.mark.parametrize("content_type", ["video/mp4", "video/quicktime"])
def test_a_video_is_refused_by_the_composer_and_by_the_connector(pds, bluesky_channel, content_type) -> None:
    name = default_storage.save("media/film.mp4", ContentFile(b"fake mp4"))
    clip = MediaItem(name, content_type, size=8, width=1080, height=1920)

    validation = rules.validate("bluesky", "Film", [clip])
    with pytest.raises(NetworkError) as caught:
        connector().publish(bluesky_channel, Outgoing(text="Film", media=(clip,)), KEY)

    assert [problem.code for problem in validation.problems] == ["media_type"]
    assert caught.value.permanent
    assert pds.requests == []
