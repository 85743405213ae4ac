"""PyJWT (and its PyJWKClient) verifies our JWTs against /oauth2/jwks.json, before and after a key
rotation made with `latchkey keys rotate` while the server runs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import jwt
import pytest
import requests

from conftest import AUDIENCE, jwt_header

PRIVATE_PARAMS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def cc_token(lk, client) -> str:
    r = requests.post(
        lk.token_url,
        data={"grant_type": "client_credentials", "token_type": "jwt"},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def verify(token: str, jwks_url: str, issuer: str) -> dict:
    client = jwt.PyJWKClient(jwks_url, cache_keys=False, cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=[jwt_header(token)["alg"]],
        audience=AUDIENCE,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def test_jwks_is_public_keys_only(world):
    r = requests.get(world.lk.jwks_url, timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    keys = r.json()["keys"]
    assert keys
    for k in keys:
        assert not PRIVATE_PARAMS & set(k), f"private material published: {sorted(set(k) & PRIVATE_PARAMS)}"
        assert k["kid"] and k["use"] == "sig" and k["alg"] in {"RS512", "RS256", "ES256", "EdDSA"}
    assert len({k["kid"] for k in keys}) == len(keys)
    # PyJWT can load every key.
    assert len(jwt.PyJWKSet.from_dict(r.json()).keys) == len(keys)


def test_pyjwkclient_verifies_rs512(world):
    token = cc_token(world.lk, world.clients["service"])
    header = jwt_header(token)
    assert header["alg"] == "RS512" and header["typ"] == "JWT"
    claims = verify(token, world.lk.jwks_url, world.lk.issuer)
    assert claims["preferred_username"] == "alice"
    # The JWKS the discovery document names is the same one.
    meta = requests.get(world.lk.url("/.well-known/openid-configuration"), timeout=5).json()
    assert verify(token, meta["jwks_uri"], meta["issuer"]) == claims
    # And PyJWT refuses it with a wrong audience or issuer, or under another algorithm.
    key = jwt.PyJWKClient(world.lk.jwks_url).get_signing_key_from_jwt(token).key
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["RS512"], audience="someone-else")
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, key, algorithms=["RS512"], audience=AUDIENCE, issuer="https://evil.example")
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE)


# ---------------------------------------------------------------------------------------------
# rotation on its own server (it changes the signing key for everyone on that server)


@dataclass
class Rotation:
    lk: object
    client: object
    jwks_before: dict
    old_token: str
    new_token: str
    jwks_right_after_first_new_token: dict
    reload_seconds: float
    keys_listed: list


# How long a running server may take to pick up a rotation made by another process. The server
# is told to reload every second (janitor.interval_secs = 1); the default interval is 60 s.
RELOAD_DEADLINE = 75


@pytest.fixture(scope="module")
def rotation(make_latchkey) -> Rotation:
    lk = make_latchkey("rotation", settings={"janitor": {"interval_secs": 1}})
    lk.create_user("alice", "alice-Pass-1", staff=True)
    client = lk.create_client(
        "service", "alice", "client-credentials", secret="service-secret-0123456789", permissions=("introspect",)
    )
    lk.start()
    old_token = cc_token(lk, client)
    old_kid = jwt_header(old_token)["kid"]

    # Changing algorithm takes two steps: the first only publishes an ES256 `next` key...
    out = lk.cli("keys", "rotate", "--alg", "ES256")
    assert "published" in out and "ES256" in out, out
    staged = next(k["kid"] for k in json.loads(lk.cli("keys", "list", "--json")) if k["alg"] == "ES256")
    started = time.monotonic()
    while staged not in {k["kid"] for k in lk.jwks()["keys"]}:
        assert time.monotonic() - started < RELOAD_DEADLINE, "the staged key was never published"
        time.sleep(0.25)
    assert jwt_header(cc_token(lk, client))["kid"] == old_kid, "a staged key must not sign yet"
    # ...which verifiers (here: this snapshot) learn before the second step makes it sign.
    jwks_before = lk.jwks()
    out = lk.cli("keys", "rotate", "--alg", "ES256")
    assert "now signing with" in out, out
    rotated_at = time.monotonic()
    while True:
        token = cc_token(lk, client)
        if jwt_header(token)["kid"] != old_kid:
            jwks_after = lk.jwks()
            break
        assert time.monotonic() - rotated_at < RELOAD_DEADLINE, (
            f"the server still signs with {old_kid} {RELOAD_DEADLINE} s after `keys rotate`"
        )
        time.sleep(0.25)
    keys_listed = json.loads(lk.cli("keys", "list", "--json"))
    return Rotation(
        lk, client, jwks_before, old_token, token, jwks_after, time.monotonic() - rotated_at, keys_listed
    )


def test_new_tokens_carry_the_new_kid_and_verify_via_the_jwks(rotation):
    header = jwt_header(rotation.new_token)
    assert header["alg"] == "ES256"
    published = {k["kid"]: k for k in rotation.jwks_right_after_first_new_token["keys"]}
    assert header["kid"] in published, "a token was signed with a key the JWKS does not publish"
    assert published[header["kid"]]["kty"] == "EC" and published[header["kid"]]["crv"] == "P-256"
    claims = verify(rotation.new_token, rotation.lk.jwks_url, rotation.lk.issuer)
    assert claims["preferred_username"] == "alice"
    # Every later token too.
    later = cc_token(rotation.lk, rotation.client)
    assert jwt_header(later)["kid"] == header["kid"]
    verify(later, rotation.lk.jwks_url, rotation.lk.issuer)


def test_old_tokens_still_verify_after_rotation(rotation):
    old_kid = jwt_header(rotation.old_token)["kid"]
    assert old_kid in {k["kid"] for k in rotation.lk.jwks()["keys"]}, "the retired key was unpublished"
    claims = verify(rotation.old_token, rotation.lk.jwks_url, rotation.lk.issuer)
    assert jwt_header(rotation.old_token)["alg"] == "RS512"
    assert claims["preferred_username"] == "alice"
    # The server itself still accepts it.
    r = requests.post(
        rotation.lk.introspect_url,
        data={"token": rotation.old_token},
        auth=(rotation.client.client_id, rotation.client.client_secret),
        timeout=10,
    )
    assert r.json()["active"] is True


def test_keys_list_shows_the_rotation(rotation):
    states = {k["kid"]: k["state"] for k in rotation.keys_listed}
    assert states[jwt_header(rotation.old_token)["kid"]] == "retired"
    assert states[jwt_header(rotation.new_token)["kid"]] == "current"
    assert list(states.values()).count("current") == 1


def test_the_new_signing_key_was_published_before_it_signed(rotation):
    """product.md §2: "Key rotation publishes a new key before it signs". A verifier that holds
    the JWKS from before the rotation (Open edX services hold JWT_PUBLIC_SIGNING_JWK_SET as a
    static setting) must be able to verify tokens signed right after it."""
    new_kid = jwt_header(rotation.new_token)["kid"]
    before = {k["kid"] for k in rotation.jwks_before["keys"]}
    assert new_kid in before, (
        f"the key {new_kid} signed tokens but was not in the JWKS published before the rotation "
        f"(it had only {sorted(before)})"
    )
    stale = jwt.PyJWKSet.from_dict(rotation.jwks_before)
    key = next(k for k in stale.keys if k.key_id == new_kid)
    jwt.decode(rotation.new_token, key.key, algorithms=["ES256"], audience=AUDIENCE)
