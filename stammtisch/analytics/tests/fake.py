"""The publisher tests' scripted network (publishing/tests/fake.py) with metrics: it reports
figures for the posts it "published" and fails on cue. Registered as network "fake" by the
`fake_network` fixture (conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from stammtisch.networks.base import Metric, Remote
from stammtisch.publishing.tests import fake
from stammtisch.publishing.tests.fake import FakeNetwork


@dataclass
class MetricsState:
    # remote id -> what the network reports for it (default: DEFAULT_VALUES)
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    followers: int = 120
    gone: set[str] = field(default_factory=set)  # remote ids deleted on the network
    script: list[BaseException] = field(default_factory=list)  # raised by the next calls, in order
    calls: list[tuple[int, list[str]]] = field(default_factory=list)  # (channel id, remote ids)
    during_call: list[object] = field(default_factory=list)  # callables run inside the next call


DEFAULT_VALUES = {"likes": 7, "comments": 2, "shares": 1, "views": 300, "quotes": 1}
METRICS = MetricsState()


class MetricsFakeNetwork(FakeNetwork):
    def fetch_metrics(self, channel: object, remotes: list[Remote]) -> list[Metric]:
        METRICS.calls.append((channel.pk, [remote.id for remote in remotes]))  # type: ignore[attr-defined]
        now = timezone.now()  # the network's answer is as of the start of the call
        if METRICS.during_call:
            hook = METRICS.during_call.pop(0)
            hook()  # type: ignore[operator]
        if METRICS.script:
            raise METRICS.script.pop(0)
        published = {remote.id for remote in fake.STATE.posts.values()}
        metrics = [
            Metric(remote.id, now, dict(METRICS.values.get(remote.id, DEFAULT_VALUES)))
            for remote in remotes
            if remote.id in published and remote.id not in METRICS.gone
        ]
        account = channel.remote_account_id  # type: ignore[attr-defined]
        metrics.append(Metric(account, now, {"followers": METRICS.followers, "posts": len(published)}))
        return metrics
