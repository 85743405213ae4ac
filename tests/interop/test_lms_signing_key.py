"""An Open edX LMS's signing key taken on with `latchkey keys import --jwk`: a JWT that Latchkey
signs with it verifies, under PyJWT, against the LMS's own public JWK set, the one Django services
pin in JWT_PUBLIC_SIGNING_JWK_SET, so they need no redeploy.

The key is made here by pyca/cryptography in the shape edx-platform's `generate_jwt_signing_key`
writes (n, e, d, p, q and an 8-character kid; no CRT members)."""

from __future__ import annotations

import base64
import json

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import jwt_header


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def lms_key(kid: str) -> tuple[dict, dict]:
    """(JWT_PRIVATE_SIGNING_JWK, JWT_PUBLIC_SIGNING_JWK_SET) as an LMS holds them."""
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    public = {"kty": "RSA", "kid": kid, "e": b64(numbers.public_numbers.e), "n": b64(numbers.public_numbers.n)}
    private = dict(public, d=b64(numbers.d), p=b64(numbers.p), q=b64(numbers.q))
    return private, {"keys": [public]}


def password_jwt(lk, client_id: str, username: str, password: str) -> str:
    r = requests.post(
        lk.token_url,
        data={
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
            "token_type": "jwt",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def verify_with_pinned_set(token: str, pinned: dict, lk) -> dict:
    """What a Django service does with JWT_PUBLIC_SIGNING_JWK_SET: no fetch from Latchkey."""
    keys = jwt.PyJWKSet.from_dict(pinned)
    key = next(k for k in keys.keys if k.key_id == jwt_header(token)["kid"])
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS512"],
        issuer=lk.issuer,
        options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
    )


def test_a_jwt_signed_with_the_imported_lms_key_verifies_against_the_lms_public_set(make_latchkey):
    private, pinned = lms_key("K7Q2ZP4M")
    lk = make_latchkey("lms-key")
    out = lk.cli("keys", "import", "--jwk", "-", "--current", stdin=json.dumps(private))
    assert "imported K7Q2ZP4M (RS512) and signing with it now" in out, out

    # What services could pin from Latchkey instead holds the same public key.
    printed = json.loads(lk.cli("keys", "list", "--jwks"))
    mine = [k for k in printed["keys"] if k["kid"] == "K7Q2ZP4M"]
    assert len(mine) == 1 and mine[0]["n"] == private["n"] and mine[0]["e"] == private["e"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(mine[0])

    lk.create_user("learner", "learner-Pass-1")
    mobile = lk.create_client("mobile", "learner", "password", public=True)
    lk.start()

    token = password_jwt(lk, mobile.client_id, "learner", "learner-Pass-1")
    header = jwt_header(token)
    assert header["kid"] == "K7Q2ZP4M" and header["alg"] == "RS512"
    claims = verify_with_pinned_set(token, pinned, lk)
    assert claims["preferred_username"] == "learner"

    # The same token under another key of the same kid does not verify: the pin is the key itself.
    _, other = lms_key("K7Q2ZP4M")
    try:
        verify_with_pinned_set(token, other, lk)
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a JWT verified against a key that did not sign it")
