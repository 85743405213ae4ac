"""Prints the RSA private JWKs that crates/token/tests/private_jwk.rs imports: made by an
independent implementation (pyca/cryptography), in the shapes an Open edX LMS holds them.

Regenerate from the repository root, in a venv with `cryptography` (tests/interop/requirements.txt
pins it):

    python tests/openedx/make_lms_jwks.py > crates/token/tests/fixtures/lms_jwks.json

Keys (new ones on every run; nothing depends on their values):
    lms          2048 bits, n/e/d/p/q only and an 8-character kid: what edx-platform's
                 `generate_jwt_signing_key` writes into JWT_PRIVATE_SIGNING_JWK
    full         2048 bits with dp/dq/qi and alg RS512, as RFC 7518 §6.3.2 spells a private key
    large        4096 bits, full
    small        1024 bits, full: too short to sign with (RFC 7518 §3.3)
"""

import base64
import json
import sys

from cryptography.hazmat.primitives.asymmetric import rsa


def b64(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwk(bits, kid, crt, alg=None):
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).private_numbers()
    out = {"kty": "RSA", "kid": kid}
    if alg:
        out["alg"] = alg
    out.update(
        n=b64(numbers.public_numbers.n),
        e=b64(numbers.public_numbers.e),
        d=b64(numbers.d),
        p=b64(numbers.p),
        q=b64(numbers.q),
    )
    if crt:
        out.update(dp=b64(numbers.dmp1), dq=b64(numbers.dmq1), qi=b64(numbers.iqmp))
    return out


json.dump(
    {
        "lms": jwk(2048, "L9IHZW6G", crt=False),
        "full": jwk(2048, "lms-2026", crt=True, alg="RS512"),
        "large": jwk(4096, "lms-large", crt=True),
        "small": jwk(1024, "lms-small", crt=True),
    },
    sys.stdout,
    indent=1,
)
sys.stdout.write("\n")
