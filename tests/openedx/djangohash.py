"""Django's own password hashers, set up once for the scripts here, with salts drawn from a seeded
generator so that a script's output depends on its seed only.

Every hash these helpers return is made by Django's hasher classes (`encode` with a salt we pick,
as `make_password` does with a random one); nothing here computes a hash itself.
"""

from __future__ import annotations

import random

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    ],
    USE_I18N=False,
)
django.setup()

from django.contrib.auth import hashers  # noqa: E402
from django.utils.crypto import RANDOM_STRING_CHARS  # noqa: E402

BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def salt(rng: random.Random, length: int = 22) -> str:
    """A salt like Django's own (22 characters since 4.x, 12 in older releases)."""
    return "".join(rng.choice(RANDOM_STRING_CHARS) for _ in range(length))


def bcrypt_salt(rng: random.Random, rounds: int, prefix: str = "2b") -> bytes:
    """bcrypt.gensalt's format from seeded bytes: 16 bytes in bcrypt's base64, 22 characters."""
    bits = rng.getrandbits(128) << 4  # 132 bits: 22 six-bit characters
    chars = "".join(BCRYPT_B64[(bits >> (6 * (21 - i))) & 63] for i in range(22))
    return f"${prefix}${rounds:02d}${chars}".encode("ascii")


class Argon2Configured(hashers.Argon2PasswordHasher):
    """Django's argon2 hasher with other costs, as a settings override would give it."""

    def __init__(self, variety: str = "argon2id", memory_cost: int = 102400, time_cost: int = 2,
                 parallelism: int = 8):
        self.variety = variety
        self.memory_cost = memory_cost
        self.time_cost = time_cost
        self.parallelism = parallelism

    def params(self):
        argon2 = self._load_library()
        params = super().params()
        params.type = {
            "argon2id": argon2.low_level.Type.ID,
            "argon2i": argon2.low_level.Type.I,
        }[self.variety]
        return params


class BCryptConfigured(hashers.BCryptSHA256PasswordHasher):
    def __init__(self, rounds: int = 12):
        self.rounds = rounds


def pbkdf2_sha256(rng: random.Random, password: str, iterations: int = 600000,
                  salt_chars: int = 22) -> str:
    return hashers.PBKDF2PasswordHasher().encode(password, salt(rng, salt_chars), iterations)


def pbkdf2_sha1(rng: random.Random, password: str, iterations: int = 600000) -> str:
    return hashers.PBKDF2SHA1PasswordHasher().encode(password, salt(rng), iterations)


def argon2(rng: random.Random, password: str, **costs) -> str:
    return Argon2Configured(**costs).encode(password, salt(rng))


def bcrypt_sha256(rng: random.Random, password: str, rounds: int = 12, prefix: str = "2b") -> str:
    return BCryptConfigured(rounds).encode(password, bcrypt_salt(rng, rounds, prefix))


def unusable(rng: random.Random) -> str:
    """What `make_password(None)` writes (Django's prefix and suffix length), with the suffix
    drawn from the seed instead of the OS; Django itself confirms that no password matches it."""
    encoded = hashers.UNUSABLE_PASSWORD_PREFIX + salt(rng, hashers.UNUSABLE_PASSWORD_SUFFIX_LENGTH)
    assert not hashers.is_password_usable(encoded)
    return encoded
