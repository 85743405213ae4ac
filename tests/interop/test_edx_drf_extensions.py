"""Open edX's own JWT code (PyPI `edx-drf-extensions`) accepts our JWTs.

Django is configured the way an Open edX service is: JWT_AUTH with our issuer and audience in
JWT_ISSUERS and our JWKS (as a JSON string) in JWT_PUBLIC_SIGNING_JWK_SET. We call its decoder
(`jwt_decode_handler`) directly, and run its DRF authentication class, cookie middleware and
permission classes on DRF views, as a course or grades API would.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests

from conftest import AUDIENCE

SIGNATURE_COOKIE = "edx-jwt-cookie-signature"
HEADER_PAYLOAD_COOKIE = "edx-jwt-cookie-header-payload"


@pytest.fixture(scope="module")
def edx(world):
    """Configures Django once for this process, returns the module namespace we need."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="interop-test-not-secret",
            DEBUG=False,
            ALLOWED_HOSTS=["testserver"],
            USE_TZ=True,
            INSTALLED_APPS=[
                "django.contrib.auth",
                "django.contrib.contenttypes",
                "django.contrib.sessions",
                "rest_framework",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
            MIDDLEWARE=[],
            ROOT_URLCONF=__name__,
            JWT_AUTH={
                "JWT_ISSUERS": [
                    {"ISSUER": world.lk.issuer, "AUDIENCE": AUDIENCE, "SECRET_KEY": "unused-symmetric-key"}
                ],
                "JWT_PUBLIC_SIGNING_JWK_SET": json.dumps(world.lk.jwks()),
                "JWT_ALGORITHM": "RS512",
                "JWT_VERIFY_AUDIENCE": True,
                "JWT_SUPPORTED_VERSION": "1.2.0",
                "JWT_DECODE_HANDLER": "edx_rest_framework_extensions.auth.jwt.decoder.jwt_decode_handler",
                "JWT_AUTH_HEADER_PREFIX": "JWT",
                "JWT_AUTH_COOKIE": "edx-jwt-cookie",
                "JWT_AUTH_COOKIE_HEADER_PAYLOAD": HEADER_PAYLOAD_COOKIE,
                "JWT_AUTH_COOKIE_SIGNATURE": SIGNATURE_COOKIE,
            },
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
    from edx_rest_framework_extensions.auth.jwt import decoder

    return decoder


@pytest.fixture
def jwt_auth(edx):
    """settings.JWT_AUTH, restored after a test that changes it."""
    from django.conf import settings

    saved = json.loads(json.dumps(settings.JWT_AUTH))
    yield settings.JWT_AUTH
    settings.JWT_AUTH.clear()
    settings.JWT_AUTH.update(saved)


def cc_jwt(world, client="service", scope=None) -> str:
    c = world.clients[client]
    data = {"grant_type": "client_credentials", "token_type": "jwt"}
    if scope:
        data["scope"] = scope
    r = requests.post(world.lk.token_url, data=data, auth=(c.client_id, c.client_secret), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def password_jwt(world, username="alice") -> str:
    u = world.users[username]
    r = requests.post(
        world.lk.token_url,
        data={
            "grant_type": "password",
            "username": u.username,
            "password": u.password,
            "client_id": world.clients["mobile"].client_id,
            "token_type": "jwt",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def assert_common_claims(payload: dict, world) -> None:
    assert payload["iss"] == world.lk.issuer
    assert payload["aud"] == AUDIENCE
    assert payload["version"] == "1.2.0"
    assert re.fullmatch(r"[0-9a-f]{32}", payload["sub"])
    assert isinstance(payload["exp"], int) and isinstance(payload["iat"], int)
    assert payload["exp"] - payload["iat"] == 3600
    assert isinstance(payload["is_restricted"], bool)
    assert isinstance(payload["filters"], list)
    assert isinstance(payload["scopes"], list)
    assert isinstance(payload["email_verified"], bool)


# ---------------------------------------------------------------------------------------------
# the decoder


def test_decoder_accepts_a_client_credentials_jwt(edx, world):
    payload = edx.jwt_decode_handler(cc_jwt(world))
    assert_common_claims(payload, world)
    assert payload["grant_type"] == "client-credentials"
    assert payload["preferred_username"] == "alice"  # the client's owner
    assert payload["email"] == "alice@example.org"
    assert payload["administrator"] is True
    assert payload["user_id"] == world.users["alice"].info["id"]
    assert payload["scopes"] == ["read", "write", "email", "profile", "user_id"]
    assert payload["filters"] == ["content_org:MITx"]
    assert payload["is_restricted"] is False
    assert payload["email_verified"] is True
    assert payload["client_id"] == world.clients["service"].client_id


def test_decoder_accepts_a_password_grant_jwt(edx, world):
    alice = world.users["alice"]
    payload = edx.jwt_decode_handler(password_jwt(world))
    assert_common_claims(payload, world)
    assert payload["grant_type"] == "password"
    assert payload["preferred_username"] == "alice"
    assert payload["user_id"] == alice.info["id"]
    assert payload["sub"] == alice.info["sub"]
    assert payload["email"] == alice.email
    assert payload["administrator"] is True
    assert payload["superuser"] is False
    assert payload["email_verified"] is True
    assert payload["is_restricted"] is False
    assert payload["filters"] == ["user:me"]
    assert payload["scopes"] == ["read", "write", "email", "profile", "user_id"]
    for claim in ("given_name", "family_name"):
        assert isinstance(payload[claim], str)
    assert payload["name"] is None  # alice has no name: `null`, as Open edX sends it


def test_decoder_reads_unverified_and_non_staff(edx, world):
    payload = edx.jwt_decode_handler(password_jwt(world, "bob"))
    assert payload["preferred_username"] == "bob"
    assert payload["email_verified"] is False
    assert payload["administrator"] is False


def test_scopes_filters_and_restriction_helpers(edx, world):
    # configured_jwt_decode_handler goes through JWT_DECODE_HANDLER, as the permission classes do.
    token = cc_jwt(world, "restricted", scope="grades:read")
    assert edx.decode_jwt_is_restricted(token) is True
    assert edx.decode_jwt_scopes(token) == ["grades:read"]
    assert edx.decode_jwt_filters(token) == [["content_org", "HarvardX"]]
    assert edx.get_asymmetric_only_jwt_decode_handler(token)["preferred_username"] == "bob"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_decoder_rejects_a_tampered_token(edx, world):
    import jwt

    token = password_jwt(world, "bob")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["preferred_username"] = "alice"
    claims["administrator"] = True
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(forged)
    # One flipped bit in the signature.
    sig = bytearray(base64.urlsafe_b64decode(signature + "=="))
    sig[-1] ^= 1
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(".".join([header, payload, _b64(bytes(sig))]))
    # alg=none with the signature dropped.
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(".".join([none_header, payload, ""]))


@pytest.fixture(scope="module")
def stranger(make_latchkey, world):
    """Another Latchkey installation (its own keys) that even claims the same issuer."""
    lk = make_latchkey("stranger", issuer=world.lk.issuer)
    lk.create_user("alice", "alice-Pass-1", staff=True)
    svc = lk.create_client("service", "alice", "client-credentials", secret="service-secret-0123456789")
    lk.start()
    return lk, svc


def test_decoder_rejects_a_token_from_another_installation(edx, world, stranger, jwt_auth):
    import jwt

    lk, svc = stranger
    r = requests.post(
        lk.token_url,
        data={"grant_type": "client_credentials", "token_type": "jwt"},
        auth=(svc.client_id, svc.client_secret),
        timeout=10,
    )
    token = r.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] not in {k["kid"] for k in world.lk.jwks()["keys"]}
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(token)
    # Control: with the stranger's keys published as well, the same token is accepted, so the
    # refusal above was about the keys and nothing else.
    both = {"keys": world.lk.jwks()["keys"] + lk.jwks()["keys"]}
    jwt_auth["JWT_PUBLIC_SIGNING_JWK_SET"] = json.dumps(both)
    assert edx.jwt_decode_handler(token)["preferred_username"] == "alice"


def test_decoder_rejects_another_audience_or_issuer(edx, world, jwt_auth):
    import jwt

    token = cc_jwt(world)
    issuer = jwt_auth["JWT_ISSUERS"][0]
    issuer["AUDIENCE"] = "some-other-service"
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(token)
    issuer["AUDIENCE"] = AUDIENCE
    issuer["ISSUER"] = "https://elsewhere.example.org/oauth2"
    with pytest.raises(jwt.InvalidTokenError):
        edx.jwt_decode_handler(token)


# ---------------------------------------------------------------------------------------------
# DRF: authentication class, cookie middleware, permission classes

urlpatterns: list = []  # ROOT_URLCONF points here; the views are called directly.


def _views():
    from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
    from edx_rest_framework_extensions.permissions import (
        JwtHasContentOrgFilterForRequestedCourse,
        JwtHasScope,
        JwtRestrictedApplication,
        NotJwtRestrictedApplication,
    )
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class WhoAmI(APIView):
        authentication_classes = [JwtAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request):
            u = request.user
            return Response({"username": u.username, "email": u.email, "is_staff": u.is_staff})

    class CourseGrades(APIView):
        """Open edX's pattern: restricted applications need the scope and an org filter that
        matches the course; other clients need only be authenticated."""

        authentication_classes = [JwtAuthentication]
        permission_classes = [
            IsAuthenticated
            & ((JwtRestrictedApplication & JwtHasScope & JwtHasContentOrgFilterForRequestedCourse) | NotJwtRestrictedApplication)
        ]
        required_scopes = ["grades:read"]

        def get(self, request, course_id):
            return Response({"course_id": course_id, "username": request.user.username})

    return WhoAmI.as_view(), CourseGrades.as_view()


def test_jwt_authentication_maps_our_claims_onto_the_django_user(edx, world):
    from rest_framework.test import APIRequestFactory

    whoami, _ = _views()
    factory = APIRequestFactory()
    resp = whoami(factory.get("/whoami", HTTP_AUTHORIZATION=f"JWT {password_jwt(world)}"))
    assert resp.status_code == 200, resp.data
    # preferred_username -> username, email -> email, administrator -> is_staff
    assert resp.data == {"username": "alice", "email": "alice@example.org", "is_staff": True}
    resp = whoami(factory.get("/whoami", HTTP_AUTHORIZATION=f"JWT {password_jwt(world, 'bob')}"))
    assert resp.data == {"username": "bob", "email": "bob@example.org", "is_staff": False}
    resp = whoami(factory.get("/whoami", HTTP_AUTHORIZATION="JWT not.a.jwt"))
    assert resp.status_code == 401


def test_jwt_cookie_pair_is_reassembled_by_the_edx_middleware(edx, world):
    """An MFE sends the JWT split in two cookies; edx's middleware puts it back together."""
    from edx_rest_framework_extensions.auth.jwt.middleware import JwtAuthCookieMiddleware
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.test import APIRequestFactory

    whoami, _ = _views()
    header, payload, signature = password_jwt(world).split(".")
    request = APIRequestFactory().get("/whoami")
    request.COOKIES[HEADER_PAYLOAD_COOKIE] = f"{header}.{payload}"
    request.COOKIES[SIGNATURE_COOKIE] = signature
    request.session = {}
    request.user = AnonymousUser()
    JwtAuthCookieMiddleware(get_response=lambda r: None).process_view(request, whoami, (), {})
    resp = whoami(request)
    assert resp.status_code == 200, resp.data
    assert resp.data["username"] == "alice"


@pytest.mark.parametrize(
    "client, scope, course, allowed",
    [
        ("restricted", "grades:read", "course-v1:HarvardX+CS50+2026", True),
        ("restricted", "grades:read", "course-v1:MITx+6.002x+2026", False),  # org filter
        ("restricted", "read", "course-v1:HarvardX+CS50+2026", False),  # scope missing
        ("service", None, "course-v1:MITx+6.002x+2026", True),  # not restricted
    ],
)
def test_open_edx_permission_classes_read_our_scopes_filters_and_restriction(
    edx, world, client, scope, course, allowed
):
    from rest_framework.test import APIRequestFactory

    _, grades = _views()
    token = cc_jwt(world, client, scope=scope)
    resp = grades(APIRequestFactory().get("/grades", HTTP_AUTHORIZATION=f"JWT {token}"), course_id=course)
    assert resp.status_code == (200 if allowed else 403), resp.data
