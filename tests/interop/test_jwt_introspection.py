"""Introspection answered as a signed JWT (RFC 9701), checked by PyJWT against the JWK Set the
discovery document names: a gateway asks with `Accept: application/token-introspection+jwt` and
hands the services behind it a JWT they can verify, for an opaque access token or a JWT one."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from conftest import AUDIENCE, jwt_header

JWT_TYPE = "application/token-introspection+jwt"


def access_token(world, token_type: str | None) -> str:
    data = {
        "grant_type": "password",
        "username": "alice",
        "password": world.users["alice"].password,
        "client_id": world.clients["mobile"].client_id,
    }
    if token_type:
        data["token_type"] = token_type
    r = requests.post(world.lk.token_url, data=data, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def introspect(world, token: str, accept: str | None, client: str = "service") -> requests.Response:
    c = world.clients[client]
    headers = {"Accept": accept} if accept else {}
    return requests.post(
        world.lk.introspect_url,
        data={"token": token},
        auth=(c.client_id, c.client_secret),
        headers=headers,
        timeout=10,
    )


def metadata(world) -> dict:
    return requests.get(world.lk.url("/.well-known/oauth-authorization-server"), timeout=5).json()


def verify(world, answer: str) -> dict:
    """The claims of a JWT answer, verified as a resource server would: key from the published JWK
    Set by `kid`, the answer's `alg` among those discovery lists, `iss` and `aud` checked."""
    meta = metadata(world)
    key = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=False, cache_jwk_set=False).get_signing_key_from_jwt(answer)
    return jwt.decode(
        answer,
        key.key,
        algorithms=meta["introspection_signing_alg_values_supported"],
        audience=world.clients["service"].client_id,
        issuer=meta["issuer"],
        options={"require": ["iss", "aud", "iat"]},
    )


@pytest.mark.parametrize("token_type", [None, "jwt"], ids=["opaque", "jwt"])
def test_the_jwt_answer_carries_the_json_answer(world, token_type):
    token = access_token(world, token_type)
    as_json = introspect(world, token, None)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    expected = as_json.json()
    assert expected["active"] is True and expected["username"] == "alice"
    assert expected["token_type"] == ("JWT" if token_type else "Bearer")

    before = int(time.time())
    r = introspect(world, token, JWT_TYPE)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == JWT_TYPE
    assert r.headers["cache-control"] == "no-store"
    header = jwt_header(r.text)
    assert header["typ"] == "token-introspection+jwt"
    claims = verify(world, r.text)
    assert set(claims) == {"iss", "aud", "iat", "token_introspection"}
    assert claims["iss"] == world.lk.issuer
    assert claims["aud"] == world.clients["service"].client_id
    assert before <= claims["iat"] <= int(time.time())
    assert claims["token_introspection"] == expected

    # Addressed to the gateway: a verifier expecting another audience (here that of access
    # tokens) refuses it.
    key = jwt.PyJWKClient(world.lk.jwks_url).get_signing_key_from_jwt(r.text).key
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(r.text, key, algorithms=[header["alg"]], audience=AUDIENCE)


def test_an_inactive_token_is_active_false_alone(world):
    r = introspect(world, "not-a-token", JWT_TYPE)
    assert r.status_code == 200, r.text
    assert verify(world, r.text)["token_introspection"] == {"active": False}


def test_without_the_jwt_type_in_accept_the_answer_is_json(world):
    token = access_token(world, None)
    for accept in (None, "application/json", "*/*"):
        r = introspect(world, token, accept)
        assert r.headers["content-type"] == "application/json", accept
        assert r.json()["active"] is True


def test_discovery_lists_the_algorithm_answers_are_signed_with(world):
    r = introspect(world, access_token(world, None), JWT_TYPE)
    algs = metadata(world)["introspection_signing_alg_values_supported"]
    assert set(algs) == {"RS512", "RS256", "ES256", "EdDSA"}
    assert jwt_header(r.text)["alg"] in algs


def test_a_client_without_the_permission_is_refused_in_json(world):
    r = introspect(world, access_token(world, None), JWT_TYPE, client="restricted")
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "unauthorized_client"
