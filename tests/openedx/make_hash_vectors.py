"""Prints the Django password-hash vectors that crates/core/tests/django_hashes.rs checks Latchkey's
verifier against: every hash is made by Django's own hashers and checked by Django's own
`check_password`, never written by hand.

Regenerate from the repository root, in a venv with tests/openedx/requirements.txt:

    python3 -m venv /tmp/openedx-venv
    /tmp/openedx-venv/bin/pip install -r tests/openedx/requirements.txt
    /tmp/openedx-venv/bin/python tests/openedx/make_hash_vectors.py \\
        > crates/core/tests/fixtures/django_password_hashes.json

Salts come from a seeded generator (djangohash.py), so a rerun with the same pinned packages prints
the same file.

The kinds are the ones an Open edX database holds: Django's default PASSWORD_HASHERS of the
releases Open edX has run. `pbkdf2_sha256` at the iteration counts Django defaulted to over the
years (and a few odd ones), `pbkdf2_sha1`, `argon2` as Django 3.2+ writes it (argon2id,
m=102400, t=2, p=8) and as Django 1.10-3.1 wrote it (argon2i, m=512, t=2, p=2), `bcrypt_sha256`
at Django's cost 12 and cheaper ones, and `make_password(None)`'s unusable marker. The slow
defaults are used for a few vectors only, so that the Rust test stays quick.

Each vector: {"hasher", "params", "password", "wrong", "encoded", "usable"}. `wrong` is a near
miss (case, one character, normalisation form, trailing space) that Django also rejects.
"""

import importlib.metadata
import json
import random
import sys
import unicodedata

import django

import djangohash
from djangohash import hashers

RNG = random.Random(20261206)

PASSWORDS = [
    "edx",
    "correct horse battery staple",
    "",
    "pässwörd",
    "пароль-Секрет",
    "密码123",
    "🔑 key emoji 🗝️",
    "é precomposed",  # NFC; its NFD spelling is a different password to Django
    " leading and trailing ",
    "dollar$signs$in$it",
    "tab\tand\nnewline",
    "x" * 100,  # over bcrypt's 72 bytes: bcrypt_sha256 exists so that it still counts in full
    "ü" * 40,  # 80 UTF-8 bytes
]


def wrong_for(password):
    """A near miss Django must reject."""
    nfd = unicodedata.normalize("NFD", password)
    if nfd != password:
        return nfd
    if password.lower() != password.upper():
        return password.swapcase()
    if password == "":
        return " "
    return password + " "


def vector(hasher, params, password, encoded):
    wrong = wrong_for(password)
    assert hashers.check_password(password, encoded), (hasher, password)
    assert not hashers.check_password(wrong, encoded), (hasher, wrong)
    return {
        "hasher": hasher,
        "params": params,
        "password": password,
        "wrong": wrong,
        "encoded": encoded,
        "usable": True,
    }


def pbkdf2_vectors(algorithm, cls, slow_counts, every_password_count):
    out = []
    for i, iterations in enumerate(slow_counts):
        password = PASSWORDS[i % len(PASSWORDS)]
        encoded = cls().encode(password, djangohash.salt(RNG), iterations)
        out.append(vector(algorithm, {"iterations": iterations}, password, encoded))
    for password in PASSWORDS:
        encoded = cls().encode(password, djangohash.salt(RNG), every_password_count)
        out.append(vector(algorithm, {"iterations": every_password_count}, password, encoded))
    # Salts of older Django releases: 12 characters.
    encoded = cls().encode("edx", djangohash.salt(RNG, 12), 36000)
    out.append(vector(algorithm, {"iterations": 36000, "salt_chars": 12}, "edx", encoded))
    return out


def argon2_vectors():
    out = []
    default = hashers.Argon2PasswordHasher()
    for password in PASSWORDS[:2]:
        out.append(
            vector(
                "argon2",
                {"variety": "argon2id", "m": default.memory_cost, "t": default.time_cost,
                 "p": default.parallelism},
                password,
                default.encode(password, djangohash.salt(RNG)),
            )
        )
    for variety, m, t, p, passwords in [
        ("argon2id", 1024, 2, 2, PASSWORDS),
        ("argon2i", 512, 2, 2, PASSWORDS[:4]),  # Django 1.10-3.1's defaults
        ("argon2id", 65536, 3, 4, PASSWORDS[:1]),
    ]:
        hasher = djangohash.Argon2Configured(variety, m, t, p)
        for password in passwords:
            out.append(
                vector(
                    "argon2",
                    {"variety": variety, "m": m, "t": t, "p": p},
                    password,
                    hasher.encode(password, djangohash.salt(RNG)),
                )
            )
    return out


def bcrypt_vectors():
    out = []
    for rounds, prefix, passwords in [
        (12, "2b", PASSWORDS[:2]),  # Django's default cost
        (4, "2b", PASSWORDS),
        (5, "2a", PASSWORDS[:3]),  # older py-bcrypt releases wrote $2a$
    ]:
        for password in passwords:
            encoded = djangohash.bcrypt_sha256(RNG, password, rounds, prefix)
            out.append(vector("bcrypt_sha256", {"rounds": rounds}, password, encoded))
    return out


def unusable_vectors():
    out = []
    for _ in range(3):
        encoded = djangohash.unusable(RNG)
        # Not even the marker's own text signs in.
        for guess in (encoded, encoded[1:]):
            assert not hashers.check_password(guess, encoded)
        out.append(
            {
                "hasher": "unusable",
                "params": {},
                "password": encoded[1:],
                "wrong": encoded,
                "encoded": encoded,
                "usable": False,
            }
        )
    return out


def main():
    vectors = (
        pbkdf2_vectors(
            "pbkdf2_sha256",
            hashers.PBKDF2PasswordHasher,
            # Odd counts, then the defaults of the Django releases Open edX has run (1.8: 20000,
            # 1.11: 36000, 2.2: 150000, 3.2: 260000, 4.2: 600000) and of Django 5.2 (1000000).
            [1, 2, 1000, 20000, 36000, 150000, 260000, 600000, 1000000],
            1000,
        )
        + pbkdf2_vectors(
            "pbkdf2_sha1", hashers.PBKDF2SHA1PasswordHasher, [1, 20000, 260000], 1000
        )
        + argon2_vectors()
        + bcrypt_vectors()
        + unusable_vectors()
    )
    json.dump(
        {
            "django": django.get_version(),
            "argon2_cffi": importlib.metadata.version("argon2-cffi"),
            "bcrypt": importlib.metadata.version("bcrypt"),
            "vectors": vectors,
        },
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
