"""A second independent client: oauthlib builds the requests and parses our responses with its own
RFC 6749 validation (`parse_request_body_response`), sent with plain `requests`."""

from __future__ import annotations

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient
from oauthlib.oauth2.rfc6749 import errors

from conftest import jwt_claims

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


@pytest.fixture(autouse=True)
def strict_oauthlib(monkeypatch):
    # Missing token_type is an error; a changed scope is reported (not relaxed).
    monkeypatch.setenv("OAUTHLIB_STRICT_TOKEN_TYPE", "1")
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    # oauthlib refuses http:// endpoints only when it builds URIs; we pass bodies, but be explicit.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def post(url, body, auth=None):
    return requests.post(url, data=body, headers=FORM, auth=auth, timeout=10)


def test_legacy_application_client_password_grant(world):
    mobile, alice = world.clients["mobile"], world.users["alice"]
    client = LegacyApplicationClient(mobile.client_id)
    body = client.prepare_request_body(
        username=alice.email, password=alice.password, include_client_id=True, token_type="jwt"
    )
    resp = post(world.lk.token_url, body)
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store" and resp.headers["pragma"] == "no-cache"
    token = client.parse_request_body_response(resp.text)
    assert token["token_type"] == "JWT"
    assert token["expires_in"] == 3600 and token["expires_at"] > 0
    assert set(token.scopes) == {"read", "write", "email", "profile", "user_id"}
    assert client.access_token == token["access_token"]
    assert client.refresh_token == token["refresh_token"]
    assert jwt_claims(client.access_token)["preferred_username"] == "alice"

    # Refresh through oauthlib as well.
    body = client.prepare_refresh_body(refresh_token=client.refresh_token, client_id=mobile.client_id, token_type="jwt")
    resp = post(world.lk.token_url, body)
    refreshed = client.parse_request_body_response(resp.text)
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert refreshed["token_type"] == "JWT"
    assert set(refreshed.scopes) == set(token.scopes)


def test_legacy_client_opaque_bearer_token_is_usable_by_oauthlib(world):
    mobile, alice = world.clients["mobile"], world.users["alice"]
    client = LegacyApplicationClient(mobile.client_id)
    body = client.prepare_request_body(username="alice", password=alice.password, include_client_id=True)
    token = client.parse_request_body_response(post(world.lk.token_url, body).text)
    assert token["token_type"] == "Bearer"
    # oauthlib knows what to do with a Bearer token: it puts it in the Authorization header.
    _, headers, _ = client.add_token("https://api.example.org/x", headers={})
    assert headers["Authorization"] == f"Bearer {token['access_token']}"


def test_scope_change_is_reported_as_rfc6749_section_3_3_says(world):
    """A password client always gets user_id added; the server must then say which scope it
    granted, and oauthlib raises its scope-changed Warning with the granted scope."""
    mobile, alice = world.clients["mobile"], world.users["alice"]
    client = LegacyApplicationClient(mobile.client_id)
    body = client.prepare_request_body(
        username="alice", password=alice.password, scope=["read"], include_client_id=True
    )
    resp = post(world.lk.token_url, body)
    with pytest.raises(Warning) as w:
        client.parse_request_body_response(resp.text, scope=["read"])
    assert set(w.value.new_scope) == {"read", "user_id"}
    assert set(w.value.old_scope) == {"read"}


def test_backend_application_client_credentials(world):
    svc = world.clients["service"]
    client = BackendApplicationClient(svc.client_id)
    body = client.prepare_request_body(scope=["grades:read", "user_id"], token_type="jwt")
    resp = post(world.lk.token_url, body, auth=(svc.client_id, svc.client_secret))
    token = client.parse_request_body_response(resp.text, scope=["grades:read", "user_id"])
    assert token["token_type"] == "JWT"
    assert set(token.scopes) == {"grades:read", "user_id"}
    assert "refresh_token" not in token
    claims = jwt_claims(token["access_token"])
    assert claims["scopes"] == ["grades:read", "user_id"]
    assert claims["grant_type"] == "client-credentials"


def test_backend_application_client_secret_in_body(world):
    svc = world.clients["service"]
    client = BackendApplicationClient(svc.client_id)
    body = client.prepare_request_body(include_client_id=True, client_secret=svc.client_secret)
    token = client.parse_request_body_response(post(world.lk.token_url, body).text)
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong_secret", errors.InvalidClientError),
        ("wrong_password", errors.InvalidGrantError),
        ("disabled_user", errors.InvalidGrantError),
        ("unknown_scope", errors.InvalidScopeError),
        ("unsupported_grant", errors.UnsupportedGrantTypeError),
        ("wrong_grant_for_client", errors.UnauthorizedClientError),
        ("bad_refresh_token", errors.InvalidGrantError),
    ],
)
def test_oauthlib_maps_our_errors_to_its_exceptions(world, case, expected):
    svc, mobile = world.clients["service"], world.clients["mobile"]
    legacy = LegacyApplicationClient(mobile.client_id)
    backend = BackendApplicationClient(svc.client_id)
    auth = (svc.client_id, svc.client_secret)
    if case == "wrong_secret":
        client, resp = backend, post(world.lk.token_url, backend.prepare_request_body(), auth=(svc.client_id, "x"))
    elif case == "wrong_password":
        body = legacy.prepare_request_body(username="dave", password="wrong", include_client_id=True)
        client, resp = legacy, post(world.lk.token_url, body)
    elif case == "disabled_user":
        carol = world.users["carol"]
        body = legacy.prepare_request_body(username="carol", password=carol.password, include_client_id=True)
        client, resp = legacy, post(world.lk.token_url, body)
    elif case == "unknown_scope":
        client, resp = backend, post(world.lk.token_url, backend.prepare_request_body(scope=["nope"]), auth=auth)
    elif case == "unsupported_grant":
        client, resp = backend, post(world.lk.token_url, "grant_type=implicit", auth=auth)
    elif case == "wrong_grant_for_client":
        body = legacy.prepare_request_body(username="alice", password=world.users["alice"].password)
        client, resp = legacy, post(world.lk.token_url, body, auth=auth)
    else:
        body = legacy.prepare_refresh_body(refresh_token="not-a-refresh-token", client_id=mobile.client_id)
        client, resp = legacy, post(world.lk.token_url, body)
    assert resp.status_code in (400, 401)
    with pytest.raises(expected) as e:
        client.parse_request_body_response(resp.text)
    assert e.value.description  # error_description made it through


def test_open_edx_mobile_request_shape(world):
    """What the Open edX mobile apps send: trailing slashes, token_type=jwt, asymmetric_jwt."""
    mobile, alice = world.clients["mobile"], world.users["alice"]
    client = LegacyApplicationClient(mobile.client_id)
    body = client.prepare_request_body(
        username="alice", password=alice.password, include_client_id=True, token_type="jwt", asymmetric_jwt="true"
    )
    token = client.parse_request_body_response(post(world.lk.token_url + "/", body).text)
    assert token["token_type"] == "JWT"
    svc = world.clients["service"]
    r = post(world.lk.introspect_url + "/", f"token={token['access_token']}", auth=(svc.client_id, svc.client_secret))
    assert r.status_code == 200 and r.json()["active"] is True
    r = post(world.lk.revoke_url + "/", f"token={token['refresh_token']}&client_id={mobile.client_id}")
    assert r.status_code == 200
    r = post(world.lk.introspect_url + "/", f"token={token['refresh_token']}", auth=(svc.client_id, svc.client_secret))
    assert r.json() == {"active": False}
