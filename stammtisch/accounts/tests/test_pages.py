"""Every accounts page renders for the people who may see it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from stammtisch.accounts.tests.utils import enable_two_factor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["login", "signup", "password_reset", "password_reset_done", "password_reset_complete"]
)
def test_public_pages_render(client, name: str) -> None:
    response = client.get(reverse(f"accounts:{name}"))
    assert response.status_code == 200
    assert 'for="id_' in response.content.decode() or name.startswith("password_reset_")


@pytest.mark.parametrize("name", ["profile", "password_change", "two_factor", "two_factor_setup", "sessions"])
def test_account_pages_render(cast, alice_client, name: str) -> None:
    assert alice_client.get(reverse(f"accounts:{name}")).status_code == 200


def test_the_two_factor_page_has_distinct_field_ids(cast, alice_client) -> None:
    enable_two_factor(cast.alice)
    html = alice_client.get(reverse("accounts:two_factor")).content.decode()
    assert 'id="id_recovery-password"' in html and 'id="id_disable-password"' in html


@pytest.mark.parametrize("name", ["profile", "sessions", "two_factor"])
def test_account_pages_need_a_login(client, name: str) -> None:
    url = reverse(f"accounts:{name}")
    assert client.get(url)["Location"] == f"{reverse('accounts:login')}?next={url}"
