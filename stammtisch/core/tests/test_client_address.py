from django.test import RequestFactory

from stammtisch.core.middleware import ClientAddressMiddleware


def _seen(settings, **meta) -> str:
    request = RequestFactory().get("/", **meta)
    ClientAddressMiddleware(lambda r: r)(request)  # type: ignore[arg-type,return-value]
    return request.META["REMOTE_ADDR"]


def test_it_uses_the_address_our_proxy_appended(settings) -> None:
    settings.BEHIND_PROXY = True
    forged = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9", "REMOTE_ADDR": "10.0.0.2"}
    assert _seen(settings, **forged) == "203.0.113.9"


def test_it_ignores_the_header_without_a_proxy(settings) -> None:
    settings.BEHIND_PROXY = False
    assert _seen(settings, HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="198.51.100.4") == "198.51.100.4"


def test_it_ignores_garbage(settings) -> None:
    settings.BEHIND_PROXY = True
    assert _seen(settings, HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="10.0.0.2") == "10.0.0.2"
