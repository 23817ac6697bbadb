"""XING: assisted publishing (docs/networks/xing.md).

XING closed its publishing API in 2019; there is no interface through which any tool may post,
read comments or read metrics. So Stammtisch never calls XING: at the due time the publisher
sees `assisted = True`, does not call `publish`, and leaves the delivery waiting for a person
(publishing/publisher.py `_assisted_outcome`). The person copies the prepared text, posts it on
XING and pastes the post's address back (`actions.do_confirm_assisted`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from stammtisch.networks.base import (
    Credentials,
    Cursor,
    Event,
    Metric,
    Network,
    NetworkError,
    Outgoing,
    Remote,
    TextRules,
)
from stammtisch.networks.rules import RULES

if TYPE_CHECKING:
    from stammtisch.networks.models import Channel

NO_API = "XING has no interface for this (its API was shut down in 2019); please do it on xing.com yourself."


class XingNetwork(Network):
    key: ClassVar[str] = "xing"
    label: ClassVar[str] = "XING"
    rules: ClassVar[TextRules] = RULES["xing"]
    assisted: ClassVar[bool] = True

    def publish(self, channel: Channel, outgoing: Outgoing, idempotency_key: str) -> Remote:
        # The publisher never calls this for an assisted network; failing loudly beats pretending.
        raise NetworkError(NO_API, permanent=True)

    def find_published(self, channel: Channel, idempotency_key: str, since: dt.datetime) -> Remote | None:
        """Stammtisch never posts on XING itself, so no post of ours can be there unless a person
        confirmed it (which moves the delivery to `published` without asking us)."""
        return None

    def reply(self, channel: Channel, to: Remote, text: str, idempotency_key: str) -> Remote:
        raise NetworkError(NO_API, permanent=True)

    def delete(self, channel: Channel, remote: Remote) -> None:
        raise NetworkError(NO_API, permanent=True)

    def fetch_activity(self, channel: Channel, cursor: Cursor) -> tuple[list[Event], Cursor]:
        """Nothing can be read from XING: no events, the cursor unchanged."""
        return [], dict(cursor)

    def fetch_metrics(self, channel: Channel, remotes: list[Remote]) -> list[Metric]:
        """XING offers no metrics interface."""
        return []

    def refresh_credentials(self, channel: Channel) -> Credentials:
        """An assisted channel holds no credentials: nothing to refresh."""
        raise NotImplementedError
