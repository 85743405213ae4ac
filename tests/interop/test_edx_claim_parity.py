"""Claim parity with Open edX, as a Django service sees it (docs/design/openedx-migration.md,
"Claim parity"): edx-drf-extensions' `JwtAuthentication` syncs the Django user from our JWTs
(username, email, staff flag, and a name field when the service maps `name`), and its
`JwtHasUserFilterForRequestedUser` reads the `user:me` filter a password-grant JWT now carries.

Django is configured once per process by test_edx_drf_extensions.py's `edx` fixture.
"""

from __future__ import annotations

import pytest
import requests

from conftest import jwt_claims
from test_edx_drf_extensions import cc_jwt, edx  # noqa: F401  (`edx` is the fixture)

# What a service that keeps a full name maps; Django's own User has no such field, so
# `first_name` stands in for it.
MAPPING = {"administrator": "is_staff", "email": "email", "name": "first_name"}


@pytest.fixture(scope="module")
def people(world):
    """Two users of the main server: one with a name (staff), one without."""
    lk = world.lk
    return {
        "nadia": lk.create_user("nadia", "nadia-Pass-1", staff=True, name="Nadia Named"),
        "norm": lk.create_user("norm", "norm-Pass-1"),
    }


def password_jwt(world, user) -> str:
    r = requests.post(
        world.lk.token_url,
        data={
            "grant_type": "password",
            "username": user.username,
            "password": user.password,
            "client_id": world.clients["mobile"].client_id,
            "token_type": "jwt",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _views():
    from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
    from edx_rest_framework_extensions.permissions import JwtHasUserFilterForRequestedUser
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Me(APIView):
        authentication_classes = [JwtAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request):
            u = request.user
            return Response(
                {"username": u.username, "email": u.email, "is_staff": u.is_staff, "name": u.first_name}
            )

    class UserResource(APIView):
        """Open edX's pattern for /api/user/v1/accounts/{username}-like routes."""

        authentication_classes = [JwtAuthentication]
        permission_classes = [IsAuthenticated & JwtHasUserFilterForRequestedUser]

        def get(self, request, username):
            return Response({"username": username})

    return Me.as_view(), UserResource.as_view()


def _get(view, token, **kwargs):
    from rest_framework.test import APIRequestFactory

    return view(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"JWT {token}"), **kwargs)


def test_the_user_sync_reads_our_claims_and_keeps_a_stored_name(edx, world, people):  # noqa: F811
    from django.contrib.auth.models import User as DjangoUser
    from django.test import override_settings

    me, _ = _views()
    nadia_jwt = password_jwt(world, people["nadia"])
    norm_jwt = password_jwt(world, people["norm"])
    assert jwt_claims(nadia_jwt)["name"] == "Nadia Named"
    norm_claims = jwt_claims(norm_jwt)
    assert "name" in norm_claims and norm_claims["name"] is None, "null, as Open edX sends it"
    assert norm_claims["given_name"] == "" and norm_claims["family_name"] == ""

    # The service already knows norm, with a full name it got elsewhere and stale facts.
    DjangoUser.objects.create(username="norm", email="stale@example.org", is_staff=True, first_name="Norman Stored")
    with override_settings(EDX_DRF_EXTENSIONS={"JWT_PAYLOAD_USER_ATTRIBUTE_MAPPING": MAPPING}):
        resp = _get(me, nadia_jwt)
        assert resp.status_code == 200, resp.data
        assert resp.data == {
            "username": "nadia",
            "email": "nadia@example.org",
            "is_staff": True,
            "name": "Nadia Named",
        }
        resp = _get(me, norm_jwt)
        assert resp.status_code == 200, resp.data
        assert resp.data == {
            "username": "norm",
            "email": "norm@example.org",  # updated
            "is_staff": False,  # updated
            "name": "Norman Stored",  # kept: `null` is skipped
        }
        # Control: had the claim been "", the same sync would have wiped the stored name.
        from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication

        wiped = JwtAuthentication().authenticate_credentials({**norm_claims, "name": ""})
        assert wiped.first_name == ""


def test_user_me_limits_a_password_jwt_to_its_own_user(edx, world, people):  # noqa: F811
    _, resource = _views()
    token = password_jwt(world, people["norm"])
    assert jwt_claims(token)["filters"] == ["user:me"]
    assert _get(resource, token, username="norm").status_code == 200
    assert _get(resource, token, username="nadia").status_code == 403
    # A client_credentials JWT carries no `user:me`: it reads any user's resource.
    service = cc_jwt(world)
    assert "user:me" not in jwt_claims(service)["filters"]
    assert _get(resource, service, username="nadia").status_code == 200
