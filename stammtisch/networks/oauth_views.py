"""The steps every network's OAuth connect views share, once.

A network describes its flow in a `ConnectFlow` (where the flow waits in the session, which
switches turn it on, what to tell the person) and its `callback` view goes:

    answer = FLOW.answer(request)          # state, permission, "no", missing code, switch
    if isinstance(answer, HttpResponse):
        return answer
    try:
        ...                                # the network's code exchange
    except NetworkError as error:
        return FLOW.exchange_failed(request, answer.slug, error)
    ...                                    # the network's connect action

The network's own parts (the exchange, the action, a choice page after it) stay in its views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from stammtisch.core.access import get_membership
from stammtisch.core.models import Membership
from stammtisch.core.roles import Perm
from stammtisch.networks import oauth_flow
from stammtisch.networks.base import NetworkError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise as Text  # a message, usually gettext_lazy at module level

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A callback that passed the shared checks: the flow it belongs to, the member's
    (re-checked) membership of the flow's workspace and the authorization code."""

    flow: dict[str, Any]
    membership: Membership
    code: str

    @property
    def slug(self) -> str:
        return str(self.flow["workspace"])


@dataclass(frozen=True)
class ConnectFlow:
    """One network's OAuth connect flow and what it tells the person along the way."""

    network: str  # for the log; after a failed exchange the person goes back to `<network>:connect`
    session_key: str  # where the pending flows wait in the session (oauth_flow)
    switches: tuple[str, ...]  # keys of settings.NETWORKS_ENABLED; the flow is on while any is on
    not_connected: Text  # heading of the error page: "X was not connected"
    declined: Text  # the person said no on the network
    no_code: Text  # the network came back without a code
    switched_off: Text
    failed: Text  # the code exchange failed; %(error)s is the network's reason

    def enabled(self) -> bool:
        return any(settings.NETWORKS_ENABLED.get(switch, False) for switch in self.switches)

    def start(self, request: HttpRequest, data: dict[str, Any]) -> str:
        """Remember a new flow (`data` names at least the workspace); returns its `state`."""
        return oauth_flow.start_flow(request.session, self.session_key, data)

    def off(self, request: HttpRequest, slug: str) -> HttpResponse:
        """Back to the channel page, saying that the network is switched off."""
        messages.error(request, self.switched_off)
        return redirect("networks:channels", slug=slug)

    def error_page(self, request: HttpRequest, message: Text) -> HttpResponse:
        """The callback cannot lead anywhere (no flow, no code): a page of its own, 400."""
        context = {"title": self.not_connected, "message": message}
        return render(request, "networks/callback_error.html", context, status=400)

    def answer(
        self,
        request: HttpRequest,
        *,
        refused: Callable[[HttpRequest, str, str], HttpResponse] | None = None,
    ) -> Answer | HttpResponse:
        """The checks before the code exchange, or the response that ends the callback here.

        Only a `state` this session issued (used once, fresh) is accepted; the person must still
        be allowed to manage the flow's workspace (404/403 otherwise). An `error` from the network
        goes to `refused(request, slug, error)`, by default the `declined` note on the channel page.
        """
        flow = oauth_flow.take_flow(request.session, self.session_key, request.GET.get("state", ""))
        if flow is None:
            return self.error_page(
                request,
                _(
                    "This sign-in answer does not belong to a connection you started here, or it is too old. "
                    "Please start again."
                ),
            )
        slug = str(flow["workspace"])
        membership = get_membership(request, slug, Perm.MANAGE)  # still allowed? 404/403 otherwise
        error = request.GET.get("error", "")
        if error:
            if refused is not None:
                return refused(request, slug, error)
            messages.info(request, self.declined)
            return redirect("networks:channels", slug=slug)
        code = request.GET.get("code", "")
        if not code:
            return self.error_page(request, self.no_code)
        if not self.enabled():
            return self.off(request, slug)
        return Answer(flow=flow, membership=membership, code=code)

    def exchange_failed(self, request: HttpRequest, slug: str, error: NetworkError, *, back: str = "") -> HttpResponse:
        """The network refused the code or could not be reached: say why, offer to start again
        (at `back`, by default this network's connect page)."""
        log.info("%s: connecting failed: %s", self.network, error.message)
        messages.error(request, str(self.failed) % {"error": error.message})
        return redirect(back or f"{self.network}:connect", slug=slug)
