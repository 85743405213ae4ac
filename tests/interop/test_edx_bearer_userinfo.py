"""Open edX's own `BearerAuthentication` (edx-drf-extensions) accepts Latchkey's opaque tokens.

A Django service that still accepts opaque tokens sets `OAUTH2_USER_INFO_URL` to the provider's
userinfo endpoint; edx-drf-extensions calls it with the token and makes the Django user from
`preferred_username`, `email`, `given_name` and `family_name`. Here it points at Latchkey's
`/oauth2/userinfo` and the class runs on a DRF view, as in a service.
"""

from __future__ import annotations

import pytest
import requests

# The Django set-up (settings.configure once per process) belongs to that module; its fixture is
# reused so that both modules run in one process in either order.
from test_edx_drf_extensions import edx  # noqa: F401


@pytest.fixture(scope="module")
def people(world):
    """Users of this module alone: other modules disable or lock out the shared ones."""
    for name in ("frank", "gina"):
        world.lk.cli(
            "user", "create", "--username", name, "--email", f"{name}@example.org",
            "--name", f"{name.title()} Tester", "--password-stdin", stdin=f"{name}-Pass-1\n",
        )
    return {name: f"{name}-Pass-1" for name in ("frank", "gina")}


def opaque_token(world, username: str, password: str | None = None) -> str:
    r = requests.post(
        world.lk.token_url,
        data={
            "grant_type": "password",
            "username": username,
            "password": password or world.users[username].password,
            "client_id": world.clients["mobile"].client_id,
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and "." not in body["access_token"]
    return body["access_token"]


@pytest.fixture
def bearer_view(edx, world):  # noqa: F811 (the fixture imported above)
    from django.test import override_settings
    from edx_rest_framework_extensions.auth.bearer.authentication import BearerAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Profile(APIView):
        authentication_classes = [BearerAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request):
            u = request.user
            return Response(
                {"username": u.username, "email": u.email, "first_name": u.first_name, "last_name": u.last_name}
            )

    with override_settings(EDX_DRF_EXTENSIONS={"OAUTH2_USER_INFO_URL": world.lk.url("/oauth2/userinfo")}):
        yield Profile.as_view()


def call(view, token: str):
    from rest_framework.test import APIRequestFactory

    return view(APIRequestFactory().get("/profile", HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_userinfo_answers_an_opaque_token_in_the_shape_edx_reads(world):
    token = opaque_token(world, "alice")
    r = requests.get(world.lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers.get("cache-control") == "no-store"
    info = r.json()
    assert info["sub"] == world.users["alice"].info["sub"]
    assert info["preferred_username"] == "alice"
    assert info["email"] == "alice@example.org"
    assert isinstance(info["given_name"], str) and isinstance(info["family_name"], str)
    assert info["administrator"] is True
    bob = requests.get(
        world.lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {opaque_token(world, 'bob')}"}, timeout=5
    ).json()
    assert bob["preferred_username"] == "bob" and bob["administrator"] is False


def test_bearer_authentication_makes_the_django_user_from_userinfo(bearer_view, world, people):
    token = opaque_token(world, "frank", people["frank"])
    info = requests.get(world.lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    resp = call(bearer_view, token)
    assert resp.status_code == 200, resp.data
    assert resp.data == {
        "username": "frank",
        "email": "frank@example.org",
        "first_name": info["given_name"],
        "last_name": info["family_name"],
    }
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.filter(username="frank").exists(), "the service made its user"


def test_bearer_authentication_refuses_a_revoked_or_unknown_token(bearer_view, world, people):
    token = opaque_token(world, "gina", people["gina"])
    assert call(bearer_view, token).status_code == 200
    r = requests.post(
        world.lk.revoke_url,
        data={"token": token, "client_id": world.clients["mobile"].client_id},
        timeout=5,
    )
    assert r.status_code == 200
    assert call(bearer_view, token).status_code == 401
    assert call(bearer_view, "not-a-token-latchkey-issued").status_code == 401
