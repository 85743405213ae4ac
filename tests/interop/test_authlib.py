"""Every grant through authlib's OAuth2Session (an OAuth2 client we did not write) against the
real server, plus the RFC 6749 §5.2 error shapes a client sees on the wire."""

from __future__ import annotations

import re
import time

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from conftest import AUDIENCE, jwt_claims, jwt_header

DEFAULT_PASSWORD_SCOPE = "read write email profile user_id"


def session_for(client, method: str) -> OAuth2Session:
    return OAuth2Session(
        client.client_id,
        client.client_secret,
        token_endpoint_auth_method=method,
    )


def password_token(world, login: str, password: str, client="mobile", method="none", **extra):
    c = world.clients[client]
    s = session_for(c, method)
    token = s.fetch_token(
        world.lk.token_url, grant_type="password", username=login, password=password, **extra
    )
    return s, token


def assert_rfc6749_error(resp: requests.Response, status: int, error: str):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers.get("cache-control") == "no-store"
    body = resp.json()
    assert body["error"] == error, body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    assert set(body) <= {"error", "error_description", "error_uri"}, body
    return body


# ---------------------------------------------------------------------------------------------
# password grant


@pytest.mark.parametrize("login", ["alice", "alice@example.org"], ids=["username", "email"])
def test_password_grant_jwt_by_username_or_email(world, login):
    alice = world.users["alice"]
    s, token = password_token(world, login, alice.password, token_type="jwt")
    assert token["token_type"] == "JWT"
    assert token["expires_in"] == 3600
    assert token["expires_at"] >= int(time.time()) + 3590  # authlib computed it from expires_in
    assert token["scope"] == DEFAULT_PASSWORD_SCOPE
    assert token["refresh_token"] and "." not in token["refresh_token"]
    assert s.token is token  # the session keeps what it parsed
    header, claims = jwt_header(token["access_token"]), jwt_claims(token["access_token"])
    assert header["alg"] == "RS512" and header["typ"] == "JWT" and header["kid"]
    assert claims["preferred_username"] == "alice"
    assert claims["sub"] == alice.info["sub"]
    assert claims["grant_type"] == "password"
    assert claims["client_id"] == world.clients["mobile"].client_id
    assert claims["iss"] == world.lk.issuer and claims["aud"] == AUDIENCE


def test_password_grant_without_token_type_is_an_opaque_bearer(world):
    s, token = password_token(world, "alice", world.users["alice"].password)
    assert token["token_type"] == "Bearer"
    assert token["access_token"].count(".") == 0
    assert token["refresh_token"]
    assert token["scope"] == DEFAULT_PASSWORD_SCOPE


def test_password_grant_token_type_from_the_x_token_type_header(world):
    c = world.clients["mobile"]
    s = session_for(c, "none")
    token = s.fetch_token(
        world.lk.token_url,
        grant_type="password",
        username="alice",
        password=world.users["alice"].password,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Token-Type": "jwt",
        },
    )
    assert token["token_type"] == "JWT"


def test_password_grant_confidential_client_with_basic_auth(world):
    s, token = password_token(
        world,
        "alice",
        world.users["alice"].password,
        client="partner",
        method="client_secret_basic",
        token_type="jwt",
        scope="read email",
    )
    # Password clients always get user_id added, and RFC 6749 §3.3 wants the scope echoed.
    assert token["scope"] == "read email user_id"
    assert jwt_claims(token["access_token"])["scopes"] == ["read", "email", "user_id"]


def test_unverified_user_signs_in_and_the_token_says_so(world):
    bob = world.users["bob"]
    _, token = password_token(world, "bob", bob.password, token_type="jwt")
    claims = jwt_claims(token["access_token"])
    assert claims["preferred_username"] == "bob"
    assert claims["email_verified"] is False


# ---------------------------------------------------------------------------------------------
# client_credentials


def _record(session: OAuth2Session) -> list:
    sent = []
    session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    return sent


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(world, method):
    c = world.clients["service"]
    s = session_for(c, method)
    sent = _record(s)
    token = s.fetch_token(world.lk.token_url, grant_type="client_credentials", token_type="jwt")
    # The client really used the method under test.
    (req,) = sent
    if method == "client_secret_basic":
        assert req.headers["Authorization"].startswith("Basic ")
        assert "client_secret" not in req.body
    else:
        assert "Authorization" not in req.headers
        assert "client_secret=" in req.body
    assert token["token_type"] == "JWT"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token  # RFC 6749 §4.4.3
    assert token["scope"] == "read write email profile user_id"
    claims = jwt_claims(token["access_token"])
    assert claims["grant_type"] == "client-credentials"
    assert claims["preferred_username"] == "alice"  # the owning user
    assert claims["filters"] == ["content_org:MITx"]


def test_client_credentials_narrow_scope_and_opaque(world):
    c = world.clients["service"]
    s = session_for(c, "client_secret_basic")
    token = s.fetch_token(world.lk.token_url, grant_type="client_credentials", scope="grades:read")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "grades:read"
    assert "refresh_token" not in token


# ---------------------------------------------------------------------------------------------
# refresh_token


def test_refresh_rotates_and_a_racing_reuse_in_the_grace_window_gets_the_same_pair(world):
    s, first = password_token(world, "alice", world.users["alice"].password, token_type="jwt")
    r0 = first["refresh_token"]
    second = s.refresh_token(world.lk.token_url, refresh_token=r0, token_type="jwt")
    assert second["token_type"] == "JWT"
    assert second["expires_in"] == 3600
    assert second["scope"] == DEFAULT_PASSWORD_SCOPE
    r1 = second["refresh_token"]
    assert r1 and r1 != r0
    assert second["access_token"] != first["access_token"]
    assert jwt_claims(second["access_token"])["jti"] != jwt_claims(first["access_token"])["jti"]

    # A second tab refreshing with r0 inside the grace window (10 s by default).
    other_tab = session_for(world.clients["mobile"], "none")
    again = other_tab.refresh_token(world.lk.token_url, refresh_token=r0, token_type="jwt")
    assert again["refresh_token"] == r1
    assert again["access_token"] == second["access_token"]

    # The successor works and rotates again.
    third = s.refresh_token(world.lk.token_url, refresh_token=r1, token_type="jwt")
    assert third["refresh_token"] not in (r0, r1)


def test_concurrent_refreshes_of_one_token_all_get_the_same_successor(world):
    """Several tabs refresh with the same token at the same moment: nobody is logged out."""
    from concurrent.futures import ThreadPoolExecutor

    _, first = password_token(world, "alice", world.users["alice"].password, token_type="jwt")
    r0 = first["refresh_token"]

    def refresh(_):
        s = session_for(world.clients["mobile"], "none")
        return s.refresh_token(world.lk.token_url, refresh_token=r0, token_type="jwt")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(refresh, range(8)))
    assert len({r["refresh_token"] for r in results}) == 1
    assert len({r["access_token"] for r in results}) == 1
    assert results[0]["refresh_token"] != r0


def test_refresh_may_narrow_but_not_widen_scope(world):
    s, first = password_token(world, "alice", world.users["alice"].password, scope="read email")
    narrowed = s.refresh_token(world.lk.token_url, refresh_token=first["refresh_token"], scope="read")
    assert narrowed["scope"] == "read"
    with pytest.raises(OAuthError) as e:
        s.refresh_token(world.lk.token_url, refresh_token=narrowed["refresh_token"], scope="read write")
    assert e.value.error == "invalid_scope"


def test_refresh_token_of_another_client_is_invalid_grant(world):
    _, first = password_token(world, "alice", world.users["alice"].password)
    partner = session_for(world.clients["partner"], "client_secret_basic")
    with pytest.raises(OAuthError) as e:
        partner.refresh_token(world.lk.token_url, refresh_token=first["refresh_token"])
    assert e.value.error == "invalid_grant"


def test_reuse_after_the_grace_window_revokes_the_family(world):
    """Inside the default 10 s grace window a reuse gets the same successor pair; after it, the
    reuse is refused and the whole family (successor refresh and access tokens) is revoked."""
    lk, mobile = world.lk, world.clients["mobile"]
    s = session_for(mobile, "none")
    first = s.fetch_token(lk.token_url, grant_type="password", username="alice", password=world.users["alice"].password)
    r0 = first["refresh_token"]
    second = s.refresh_token(lk.token_url, refresh_token=r0)
    rotated_at = time.time()
    r1, a1 = second["refresh_token"], second["access_token"]
    assert introspect(world, r1)["active"] is True
    assert introspect(world, a1)["active"] is True

    # The old token keeps coming back (a stolen copy, or a very slow tab) until it is refused.
    while True:
        resp = requests.post(
            lk.token_url,
            data={"grant_type": "refresh_token", "refresh_token": r0, "client_id": mobile.client_id},
        )
        elapsed = time.time() - rotated_at
        if resp.status_code != 200:
            break
        assert resp.json()["refresh_token"] == r1, "inside the grace window: the same successor"
        assert elapsed < 12, "a rotated refresh token was still accepted 12 s after rotation"
        time.sleep(0.5)
    assert_rfc6749_error(resp, 400, "invalid_grant")
    assert elapsed >= 9.5, f"refused after {elapsed:.1f} s, inside the 10 s grace window"

    # The family is gone: the successor refresh token and its access token are dead too.
    with pytest.raises(OAuthError) as e:
        s.refresh_token(lk.token_url, refresh_token=r1)
    assert e.value.error == "invalid_grant"
    assert introspect(world, r1) == {"active": False}
    assert introspect(world, a1) == {"active": False}


# ---------------------------------------------------------------------------------------------
# revocation (RFC 7009) and introspection (RFC 7662)


def introspect(world, token: str, hint: str | None = None) -> dict:
    rs = session_for(world.clients["service"], "client_secret_basic")
    resp = rs.introspect_token(world.lk.introspect_url, token=token, token_type_hint=hint)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()


@pytest.mark.parametrize("token_type", ["jwt", None], ids=["jwt", "opaque"])
def test_introspect_an_active_access_token(world, token_type):
    alice = world.users["alice"]
    extra = {"token_type": token_type} if token_type else {}
    _, token = password_token(world, "alice", alice.password, **extra)
    info = introspect(world, token["access_token"], "access_token")
    assert info["active"] is True
    assert info["scope"] == DEFAULT_PASSWORD_SCOPE
    assert info["client_id"] == world.clients["mobile"].client_id
    assert info["username"] == "alice"
    assert info["sub"] == alice.info["sub"]
    assert info["token_type"] == ("JWT" if token_type else "Bearer")
    assert info["iss"] == world.lk.issuer
    assert info["aud"] == AUDIENCE
    now = int(time.time())
    assert info["iat"] <= now + 1 and info["exp"] > now
    assert info["exp"] - info["iat"] == (3600 if token_type else 36000)
    assert re.fullmatch(r"[0-9a-f]{32}", info["jti"]), info


def test_introspect_a_refresh_token_and_garbage(world):
    _, token = password_token(world, "alice", world.users["alice"].password)
    info = introspect(world, token["refresh_token"], "refresh_token")
    assert info["active"] is True and info["username"] == "alice"
    assert info["token_type"] == "refresh_token"
    assert introspect(world, "not-a-token") == {"active": False}
    assert introspect(world, "a.b.c") == {"active": False}


def test_introspection_needs_a_confidential_client(world):
    mobile = world.clients["mobile"]
    resp = requests.post(
        world.lk.introspect_url, data={"token": "x", "client_id": mobile.client_id}
    )
    assert_rfc6749_error(resp, 401, "invalid_client")
    resp = requests.post(world.lk.introspect_url, data={"token": "x"})
    assert_rfc6749_error(resp, 401, "invalid_client")


def test_introspection_needs_the_introspect_permission(world):
    """A confidential client that was not granted `introspect` is authenticated but refused: 403
    with an RFC 6749 error body, and nothing about the token."""
    _, token = password_token(world, "alice", world.users["alice"].password)
    assert introspect(world, token["access_token"])["active"] is True
    partner = session_for(world.clients["partner"], "client_secret_basic")
    resp = partner.introspect_token(world.lk.introspect_url, token=token["access_token"])
    body = assert_rfc6749_error(resp, 403, "unauthorized_client")
    assert "introspect" in body["error_description"]


@pytest.mark.parametrize("token_type", ["jwt", None], ids=["jwt", "opaque"])
def test_revoke_access_token(world, token_type):
    extra = {"token_type": token_type} if token_type else {}
    s, token = password_token(world, "alice", world.users["alice"].password, **extra)
    assert introspect(world, token["access_token"])["active"] is True
    resp = s.revoke_token(world.lk.revoke_url, token=token["access_token"], token_type_hint="access_token")
    assert resp.status_code == 200, resp.text
    assert introspect(world, token["access_token"]) == {"active": False}
    # The refresh token was not revoked with it.
    assert introspect(world, token["refresh_token"])["active"] is True


def test_revoke_refresh_token_takes_the_family(world):
    s, token = password_token(world, "alice", world.users["alice"].password, token_type="jwt")
    resp = s.revoke_token(world.lk.revoke_url, token=token["refresh_token"], token_type_hint="refresh_token")
    assert resp.status_code == 200, resp.text
    assert introspect(world, token["refresh_token"]) == {"active": False}
    assert introspect(world, token["access_token"]) == {"active": False}
    with pytest.raises(OAuthError) as e:
        s.refresh_token(world.lk.token_url, refresh_token=token["refresh_token"])
    assert e.value.error == "invalid_grant"


def test_revoke_by_another_client_or_of_garbage_changes_nothing_and_succeeds(world):
    _, token = password_token(world, "alice", world.users["alice"].password, token_type="jwt")
    other = session_for(world.clients["service"], "client_secret_post")
    for t in (token["access_token"], token["refresh_token"], "garbage"):
        assert other.revoke_token(world.lk.revoke_url, token=t).status_code == 200
    assert introspect(world, token["access_token"])["active"] is True
    assert introspect(world, token["refresh_token"])["active"] is True


# The server reuses an active access token's introspection answer for this long (its default
# `tokens.introspection_cache`); a user disabled from the CLI, another process, shows within it.
INTROSPECTION_CACHE_S = 2


def test_disabling_a_user_kills_their_tokens(world):
    erin = world.users["erin"]
    s, token = password_token(world, "erin", erin.password, token_type="jwt")
    assert introspect(world, token["access_token"])["active"] is True
    world.lk.cli("user", "disable", "erin")
    # Refresh tokens are never cached, and a refresh reads the user every time: both refuse at once.
    assert introspect(world, token["refresh_token"]) == {"active": False}
    with pytest.raises(OAuthError) as e:
        s.refresh_token(world.lk.token_url, refresh_token=token["refresh_token"])
    assert e.value.error == "invalid_grant"
    deadline = time.monotonic() + INTROSPECTION_CACHE_S + 3
    while introspect(world, token["access_token"]) != {"active": False}:
        assert time.monotonic() < deadline, "the access token is still active after the cache bound"
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# errors, as authlib reports them and as they are on the wire


def test_wrong_client_secret_is_401_invalid_client(world):
    c = world.clients["service"]
    bad = OAuth2Session(c.client_id, "wrong-secret", token_endpoint_auth_method="client_secret_basic")
    with pytest.raises(OAuthError) as e:
        bad.fetch_token(world.lk.token_url, grant_type="client_credentials")
    assert e.value.error == "invalid_client"

    resp = requests.post(
        world.lk.token_url, data={"grant_type": "client_credentials"}, auth=(c.client_id, "wrong")
    )
    assert_rfc6749_error(resp, 401, "invalid_client")
    assert resp.headers["www-authenticate"].startswith("Basic")

    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": "wrong"},
    )
    assert_rfc6749_error(resp, 401, "invalid_client")

    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "client_credentials", "client_id": "no-such-client", "client_secret": "x"},
    )
    assert_rfc6749_error(resp, 401, "invalid_client")


def test_wrong_password_is_400_invalid_grant(world):
    dave = world.users["dave"]
    with pytest.raises(OAuthError) as e:
        password_token(world, "dave", dave.password + "x")
    assert e.value.error == "invalid_grant"
    mobile = world.clients["mobile"]
    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "password", "username": "dave", "password": "nope", "client_id": mobile.client_id},
    )
    wrong = assert_rfc6749_error(resp, 400, "invalid_grant")
    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "password", "username": "nobody", "password": "nope", "client_id": mobile.client_id},
    )
    unknown = assert_rfc6749_error(resp, 400, "invalid_grant")
    # The answer must not tell whether the account exists.
    assert unknown == wrong
    # And the right password still works after a couple of failures.
    _, token = password_token(world, "dave", dave.password)
    assert token["access_token"]


def test_disabled_user_is_400_invalid_grant(world):
    carol = world.users["carol"]
    with pytest.raises(OAuthError) as e:
        password_token(world, "carol", carol.password)
    assert e.value.error == "invalid_grant"
    mobile = world.clients["mobile"]
    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "password", "username": carol.email, "password": carol.password, "client_id": mobile.client_id},
    )
    assert_rfc6749_error(resp, 400, "invalid_grant")


def test_unknown_or_unallowed_scope_is_400_invalid_scope(world):
    c = world.clients["service"]
    s = session_for(c, "client_secret_basic")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(world.lk.token_url, grant_type="client_credentials", scope="read no-such-scope")
    assert e.value.error == "invalid_scope"
    # Registered, but not allowed for this client.
    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "client_credentials", "scope": "certificates:read"},
        auth=(c.client_id, c.client_secret),
    )
    assert_rfc6749_error(resp, 400, "invalid_scope")
    resp = requests.post(
        world.lk.token_url,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": world.users["alice"].password,
            "client_id": world.clients["mobile"].client_id,
            "scope": "no-such-scope",
        },
    )
    assert_rfc6749_error(resp, 400, "invalid_scope")


@pytest.mark.parametrize(
    "grant_type", ["implicit", "urn:ietf:params:oauth:grant-type:device_code", "client_credential"]
)
def test_unsupported_grant_type(world, grant_type):
    c = world.clients["service"]
    s = session_for(c, "client_secret_basic")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(world.lk.token_url, grant_type=grant_type)
    assert e.value.error == "unsupported_grant_type"
    resp = requests.post(world.lk.token_url, data={"grant_type": grant_type}, auth=(c.client_id, c.client_secret))
    assert_rfc6749_error(resp, 400, "unsupported_grant_type")


def test_grant_the_client_is_not_registered_for_is_unauthorized_client(world):
    c = world.clients["service"]
    resp = requests.post(
        world.lk.token_url,
        data={"grant_type": "password", "username": "alice", "password": world.users["alice"].password},
        auth=(c.client_id, c.client_secret),
    )
    assert_rfc6749_error(resp, 400, "unauthorized_client")
    p = world.clients["partner"]
    resp = requests.post(
        world.lk.token_url, data={"grant_type": "client_credentials"}, auth=(p.client_id, p.client_secret)
    )
    assert_rfc6749_error(resp, 400, "unauthorized_client")


def test_missing_parameters_are_invalid_request(world):
    mobile = world.clients["mobile"]
    resp = requests.post(world.lk.token_url, data={"client_id": mobile.client_id})
    assert_rfc6749_error(resp, 400, "invalid_request")
    resp = requests.post(
        world.lk.token_url, data={"grant_type": "password", "username": "alice", "client_id": mobile.client_id}
    )
    assert_rfc6749_error(resp, 400, "invalid_request")


def test_discovery_names_the_endpoints_the_clients_used(world):
    meta = requests.get(world.lk.url("/.well-known/openid-configuration")).json()
    assert meta["issuer"] == world.lk.issuer
    assert meta["token_endpoint"] == world.lk.token_url
    assert meta["revocation_endpoint"] == world.lk.revoke_url
    assert meta["introspection_endpoint"] == world.lk.introspect_url
    assert meta["jwks_uri"] == world.lk.jwks_url
    assert {"password", "client_credentials", "refresh_token"} <= set(meta["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(meta["token_endpoint_auth_methods_supported"])
    assert requests.get(world.lk.url("/.well-known/oauth-authorization-server")).json() == meta
