"""Writes a Django `dumpdata` JSON export of an Open edX LMS, the input of `latchkey import openedx`
and of its benchmark: a JSON list of {"model", "pk", "fields"} rows with the field names of
edx-platform's and django-oauth-toolkit's models. README.md here documents every field and choice.

    python tests/openedx/generate_export.py --users 1000 --seed 7 --now 2026-12-01T00:00:00Z \\
        --out export.json --manifest expected.jsonl
    python tests/openedx/generate_export.py --users 100000 --fast --malformed 20 --out big.json

Run in a venv with tests/openedx/requirements.txt (Django and its argon2/bcrypt libraries).

The output is a function of the options alone (--now defaults to the current hour, so pass it for
byte-identical files). It is written as it is made, one pass over the users per model, each user's
rows drawn from a generator seeded by (seed, user index): nothing grows with --users but the
output.

Passwords are hashed by Django's own hashers (djangohash.py). Without --fast every user gets a
hash of their own at Django's real costs (about a second per user at 600 000 pbkdf2 rounds); with
--fast users share a pool of a few real hashes per kind, made once, so 100 000 users take seconds.

--manifest writes what an importer should make of it, one JSON object per line (see README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import uuid

import djangohash
from djangohash import hashers

COURSES = [
    "course-v1:edX+DemoX+Demo_Course",
    "course-v1:MITx+6.00.1x+2T2024",
    "course-v1:HarvardX+CS50+X",
    "course-v1:Ünï+Bio101+2025_T1",
    "course-v1:OpenCraft+ÉTÉ+2026",
]
ORGS = ["edX", "MITx", "HarvardX"]

# (username stem, first name, last name): ASCII, accented Latin, Greek, Cyrillic, CJK, Arabic.
NAMES = [
    ("learner", "Ada", "Lovelace"),
    ("josé.garcía", "José", "García"),
    ("Ελένη", "Ελένη", "Παπαδοπούλου"),
    ("дмитрий", "Дмитрий", "Иванов"),
    ("学生", "小明", "王"),
    ("مريم", "مريم", "حداد"),
    ("Zoë_Ünal", "Zoë", "Ünal"),
    ("o.brien", "Seán", "O'Brien"),
    ("anna+test", "Anna", ""),
    ("", "", ""),
]

# Password kinds and their shares in per mille. pbkdf2_sha256 dominates, as in any Open edX
# database; older accounts keep their old iteration counts until they next sign in.
KINDS = [
    ("pbkdf2_sha256", 700),
    ("pbkdf2_sha256_old", 120),
    ("pbkdf2_sha1", 40),
    ("argon2", 50),
    ("bcrypt_sha256", 50),
    ("unusable", 40),
]
OLD_PBKDF2_COUNTS = [20000, 36000, 150000, 260000]

# The applications: every grant type and client type DOT knows, and what an importer should do.
# (name, client_type, grant_type, skip_authorization, access (scopes, filters) or None,
#  restricted, expected)
APPLICATIONS = [
    ("login-service", "public", "password", False, ("email,profile,user_id", ""), False, "import"),
    ("mobile-ios", "public", "password", False, ("email,profile,user_id", ""), False, "import"),
    ("mobile-android", "public", "password", False, None, False, "import"),
    ("partner-portal", "confidential", "password", False, ("email,profile", ""), False, "import"),
    ("studio-sso", "confidential", "authorization-code", True, ("email,profile,user_id", ""),
     False, "import"),
    ("spa", "public", "authorization-code", False, ("email,profile", ""), False, "import"),
    ("ecommerce-worker", "confidential", "client-credentials", True,
     ("grades:read,certificates:read,user_id", "content_org:edX"), False, "import"),
    ("insights", "confidential", "client-credentials", False,
     ("grades:read", "content_org:MITx,content_org:HarvardX"), False, "import"),
    ("restricted-partner", "confidential", "client-credentials", False,
     ("grades:read", "content_org:edX"), True, "import"),
    ("restricted-app", "public", "authorization-code", False, ("email,profile", ""), True, "import"),
    ("public-cc", "public", "client-credentials", False, None, False,
     "skip: public client_credentials"),
    ("legacy-implicit", "public", "implicit", False, None, False, "skip: implicit"),
    ("legacy-implicit-conf", "confidential", "implicit", False, None, False, "skip: implicit"),
    ("oidc-hybrid", "confidential", "openid-hybrid", False, None, False, "skip: openid-hybrid"),
]
DEVICE_CODE = ("tv-app", "public", "urn:ietf:params:oauth:grant-type:device_code", False, None,
               False, "skip: device-code")

ACCESS_LIFETIME = dt.timedelta(hours=1)
# oauthlib's generate_token: 30 characters of this alphabet.
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def stamp(when: dt.datetime) -> str:
    """DjangoJSONEncoder's datetime: ISO 8601, milliseconds, Z for UTC."""
    text = when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class Writer:
    """The export as one JSON list, one row per line, with each row's 1-based position."""

    def __init__(self, out):
        self.out = out
        self.position = 0
        out.write("[")

    def row(self, row) -> int:
        self.position += 1
        self.out.write("\n" if self.position == 1 else ",\n")
        self.out.write(json.dumps(row, ensure_ascii=False, separators=(", ", ": ")))
        return self.position

    def close(self):
        self.out.write("\n]\n")


class Manifest:
    def __init__(self, out):
        self.out = out

    def write(self, **record):
        if self.out is not None:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")


class Hashes:
    """Each user's password and its Django hash: per user (real costs) or from a pool (--fast)."""

    POOL = 3

    def __init__(self, seed: int, fast: bool):
        self.fast = fast
        self.pool = {}
        if fast:
            rng = random.Random(f"{seed}:pool")
            for kind, _ in KINDS:
                self.pool[kind] = [self._make(rng, kind, f"pool-{kind}-{i}-Pässwörd")
                                   for i in range(self.POOL)]

    @staticmethod
    def _make(rng: random.Random, kind: str, password: str):
        if kind == "pbkdf2_sha256":
            return password, djangohash.pbkdf2_sha256(rng, password)
        if kind == "pbkdf2_sha256_old":
            count = rng.choice(OLD_PBKDF2_COUNTS)
            return password, djangohash.pbkdf2_sha256(rng, password, count, salt_chars=12)
        if kind == "pbkdf2_sha1":
            return password, djangohash.pbkdf2_sha1(rng, password)
        if kind == "argon2":
            return password, djangohash.argon2(rng, password)
        if kind == "bcrypt_sha256":
            return password, djangohash.bcrypt_sha256(rng, password)
        return None, djangohash.unusable(rng)

    def for_user(self, rng: random.Random, kind: str, index: int, username: str):
        if self.fast:
            return self.pool[kind][index % self.POOL]
        return self._make(rng, kind, f"{username}-Pässwörd-{index}")


class Export:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.now = args.now
        self.hashes = Hashes(args.seed, args.fast)
        self.writer = Writer(args.out)
        self.manifest = Manifest(args.manifest)
        self.malformed_left = args.malformed
        self.ticks = 0
        self.malformed_step = max(1, (args.users * 4) // (args.malformed + 1))
        self.next_pk = {}

    # -- per-user facts, recomputed identically in every pass ---------------------------------

    def rng(self, index: int, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{index}:{purpose}")

    def user_pk(self, index: int) -> int:
        # Deleted accounts leave gaps: every ninth id is skipped.
        return index + index // 9 + 1

    def kind(self, index: int) -> str:
        roll = self.rng(index, "kind").randrange(1000)
        for kind, share in KINDS:
            if roll < share:
                return kind
            roll -= share
        return KINDS[0][0]

    def identity(self, index: int):
        """(username, email, first, last, retired)."""
        rng = self.rng(index, "identity")
        if self.kind(index) == "unusable" and rng.random() < 0.5:
            # Open edX's retirement: hashed username and email, unusable password.
            tag = "%032x" % rng.getrandbits(128)
            return f"retired__user_{tag}", f"retired__user_{tag}@retired.invalid", "", "", True
        stem, first, last = NAMES[index % len(NAMES)]
        username = f"{stem or 'user'}{self.user_pk(index)}"
        local = f"user{self.user_pk(index)}"
        email = f"{local}@example.org"
        if index % 97 == 96:
            # The same address as the previous user, in other case: the importer keeps the first.
            prev = self.identity(index - 1)
            if not prev[4]:
                email = prev[1].upper()
        return username, email, first, last, False

    # -- rows ------------------------------------------------------------------------------

    def pk(self, model: str) -> int:
        self.next_pk[model] = self.next_pk.get(model, 0) + 1
        return self.next_pk[model]

    def emit(self, model: str, pk, fields: dict) -> int:
        return self.writer.row({"model": model, "pk": pk, "fields": fields})

    def maybe_malformed(self, model: str, index: int):
        """Called once per user of each of five passes; spreads --malformed broken rows evenly
        over them, each after a real row of its model."""
        self.ticks += 1
        if self.malformed_left <= 0 or self.ticks % self.malformed_step:
            return
        self.malformed_left -= 1
        broken = {
            "auth.user": ({"model": "auth.user", "pk": "not-a-number",
                           "fields": {"username": "broken", "password": "x"}}, "pk is not an integer"),
            "student.userprofile": ({"model": "student.userprofile", "pk": 10**9,
                                     "fields": {"user": 10**9, "name": "nobody"}},
                                    "user does not exist"),
            "student.anonymoususerid": ({"model": "student.anonymoususerid", "pk": 10**9,
                                         "fields": {"user": self.user_pk(index),
                                                    "anonymous_user_id": 42, "course_id": ""}},
                                        "anonymous_user_id is not a string"),
            "oauth2_provider.refreshtoken": ({"model": "oauth2_provider.refreshtoken", "pk": 10**9,
                                              "fields": {"user": self.user_pk(index)}},
                                             "fields missing"),
        }.get(model, ({"model": model, "pk": 10**9}, "no fields"))
        row, problem = broken
        position = self.writer.row(row)
        self.manifest.write(kind="malformed", position=position, model=model, problem=problem)

    def users(self):
        joined_base = self.now - dt.timedelta(days=3650)
        for index in range(self.args.users):
            rng = self.rng(index, "user")
            pk = self.user_pk(index)
            username, email, first, last, retired = self.identity(index)
            kind = self.kind(index)
            password, encoded = self.hashes.for_user(self.rng(index, "hash"), kind, index, username)
            active = not retired and rng.random() > 0.03
            staff = index % 1000 == 1
            superuser = index % 5000 == 1
            joined = joined_base + dt.timedelta(seconds=rng.randrange(3650 * 86400))
            last_login = None if rng.random() < 0.2 else stamp(
                joined + (self.now - joined) * rng.random())
            self.emit("auth.user", pk, {
                "password": encoded,
                "last_login": last_login,
                "is_superuser": superuser,
                "username": username,
                "first_name": first,
                "last_name": last,
                "email": email,
                "is_staff": staff,
                "is_active": active,
                "date_joined": stamp(joined),
                "groups": [],
                "user_permissions": [],
            })
            self.manifest.write(kind="user", id=pk, username=username, email=email,
                                password=password, hasher=kind.removesuffix("_old"),
                                usable=password is not None, is_active=active, is_staff=staff,
                                is_superuser=superuser, retired=retired)
            self.maybe_malformed("auth.user", index)

    def profiles(self):
        for index in range(self.args.users):
            rng = self.rng(index, "profile")
            username, _, first, last, retired = self.identity(index)
            if rng.random() < 0.02:
                continue  # a few accounts have no profile (made by a script, not registration)
            # Some names are empty: the importer falls back to first + last.
            name = "" if retired or rng.random() < 0.1 else f"{first} {last}".strip() or username
            self.emit("student.userprofile", self.pk("student.userprofile"), {
                "user": self.user_pk(index),
                "name": name,
                "meta": "",
                "courseware": "course.xml",
                "language": "",
                "location": "",
                "year_of_birth": None if rng.random() < 0.5 else rng.randrange(1940, 2010),
                "gender": rng.choice([None, "m", "f", "o"]),
                "level_of_education": rng.choice([None, "p", "m", "b", "a", "hs", "jhs", "el", "none", "other"]),
                "mailing_address": None,
                "city": None,
                "country": rng.choice(["", "US", "FR", "IN", "BR", "GR", "CN"]),
                "state": None,
                "goals": None,
                "allow_certificate": True,
                "bio": None,
                "profile_image_uploaded_at": None,
                "phone_number": None,
            })
            self.maybe_malformed("student.userprofile", index)

    def anonymous_ids(self):
        for index in range(self.args.users):
            rng = self.rng(index, "anon")
            if rng.random() < 0.02:
                self.manifest.write(kind="sub", user=self.user_pk(index), sub=None)
                continue  # no anonymous id yet: the importer makes one
            course_less = rng.randint(1, 2)
            with_course = rng.randint(0, 3)
            rows = [""] * course_less + rng.sample(COURSES, with_course)
            rng.shuffle(rows)
            sub = None
            for course_id in rows:
                pk = self.pk("student.anonymoususerid")
                anon = "%032x" % rng.getrandbits(128)
                if course_id == "":
                    sub = anon  # the highest pk wins, as anonymous_id_for_user(user, None) does
                self.emit("student.anonymoususerid", pk, {
                    "user": self.user_pk(index),
                    "anonymous_user_id": anon,
                    "course_id": course_id,
                })
            self.manifest.write(kind="sub", user=self.user_pk(index), sub=sub)
            self.maybe_malformed("student.anonymoususerid", index)

    def applications(self):
        rng = random.Random(f"{self.seed}:applications")
        owner = self.user_pk(1)  # a staff user
        apps = APPLICATIONS + ([DEVICE_CODE] if self.args.dot == "3" else [])
        for number, (name, client_type, grant, skip, access, restricted, expected) in enumerate(apps):
            pk = number + 1
            client_id = "".join(rng.choice(TOKEN_CHARS) for _ in range(40))
            secret = "".join(rng.choice(TOKEN_CHARS) for _ in range(128))
            stored_secret, hashed = secret, False
            if self.args.dot == "3" and number % 2 == 0:
                # Newer DOT hashes the secret with Django's default hasher before saving it.
                stored_secret, hashed = djangohash.pbkdf2_sha256(rng, secret), True
            redirect = "" if grant in ("password", "client-credentials") else \
                f"https://{name}.example.org/complete/edx-oauth2/ http://localhost:1997/callback"
            app_owner = owner if number % 3 else None
            if app_owner is None and grant == "client-credentials" and expected == "import":
                # Its tokens would be its owner's: Open edX cannot issue them, nor will Latchkey.
                expected = "skip: client_credentials without owner"
            fields = {
                "client_id": client_id,
                "user": app_owner,
                "redirect_uris": redirect,
                "client_type": client_type,
                "authorization_grant_type": grant,
                "client_secret": stored_secret,
                "name": name,
                "skip_authorization": skip,
                "created": stamp(self.now - dt.timedelta(days=900 - number)),
                "updated": stamp(self.now - dt.timedelta(days=30 - number)),
                "algorithm": "RS256" if grant == "openid-hybrid" else "",
            }
            if self.args.dot == "3":
                fields.update(post_logout_redirect_uris="", hash_client_secret=hashed,
                              allowed_origins="")
            self.emit("oauth2_provider.application", pk, fields)
            self.manifest.write(kind="application", pk=pk, name=name, client_id=client_id,
                                client_secret=secret, secret_stored_hashed=hashed,
                                client_type=client_type, grant_type=grant, expected=expected,
                                scopes=access[0] if access else None,
                                filters=access[1] if access else None, restricted=restricted)
            yield pk, name, grant, access, restricted

    def token_plan(self, apps):
        """The tokens of the password applications for about a fifth of the users, in order:
        (user index, application, access token, refresh token, access pk, created, state,
        access token still live). Live, expired and revoked refresh tokens, each with its access
        token. Recomputed for each pass, so that access and refresh tokens each stay together
        as dumpdata writes them, without holding either."""
        password_apps = [pk for pk, _, grant, _, _ in apps if grant == "password"]
        access_pk = 0
        for index in range(self.args.users):
            rng = self.rng(index, "tokens")
            if self.kind(index) == "unusable" or rng.random() > 0.2:
                continue
            for _ in range(rng.randint(1, 3)):
                app = rng.choice(password_apps)
                state = rng.choices(["live", "expired", "revoked"], [6, 2, 2])[0]
                age = dt.timedelta(days=rng.randrange(1, 25)) if state != "expired" else \
                    dt.timedelta(days=rng.randrange(400, 900))
                access = "".join(rng.choice(TOKEN_CHARS) for _ in range(30))
                refresh = "".join(rng.choice(TOKEN_CHARS) for _ in range(30))
                access_pk += 1
                live_access = state == "live" and rng.random() < 0.3
                yield index, app, access, refresh, access_pk, self.now - age, state, live_access

    def access_tokens(self, apps):
        restricted = {pk for pk, _, _, _, r in apps if r}
        last = None
        for index, app, access, _, pk, created, _, live in self.token_plan(apps):
            expires = self.now + dt.timedelta(minutes=30) if live else created + ACCESS_LIFETIME
            if app in restricted:
                expires = EPOCH  # Open edX issues a restricted application's tokens expired
            fields = {
                "user": self.user_pk(index),
                "source_refresh_token": None,
                "token": access,
                "id_token": None,
                "application": app,
                "expires": stamp(expires),
                "scope": "read write email profile",
                "created": stamp(created),
                "updated": stamp(created),
            }
            if self.args.dot == "3":
                fields["token_checksum"] = hashlib.sha256(access.encode()).hexdigest()
            self.emit("oauth2_provider.accesstoken", pk, fields)
            self.manifest.write(kind="accesstoken", pk=pk, token=access, user=self.user_pk(index),
                                expected="live" if live else "expired")
            if index != last:
                self.maybe_malformed("oauth2_provider.accesstoken", index)
                last = index
        # Client-credentials tokens: no user, short-lived.
        rng = random.Random(f"{self.seed}:cc")
        next_pk = pk + 1 if last is not None else 1
        for app in [pk for pk, _, grant, _, _ in apps if grant == "client-credentials"]:
            created = self.now - dt.timedelta(minutes=10)
            self.emit("oauth2_provider.accesstoken", next_pk, {
                "user": None,
                "source_refresh_token": None,
                "token": "".join(rng.choice(TOKEN_CHARS) for _ in range(30)),
                "id_token": None,
                "application": app,
                "expires": stamp(created + ACCESS_LIFETIME),
                "scope": "read write",
                "created": stamp(created),
                "updated": stamp(created),
            })
            next_pk += 1

    def refresh_tokens(self, apps):
        for pk, (index, app, _, token, access_pk, created, state, _) in enumerate(
                self.token_plan(apps), start=1):
            fields = {
                "user": self.user_pk(index),
                "token": token,
                "application": app,
                "access_token": access_pk,
                "created": stamp(created),
                "updated": stamp(created),
                "revoked": stamp(created + dt.timedelta(hours=2)) if state == "revoked" else None,
            }
            if self.args.dot == "3":
                fields["token_family"] = str(uuid.UUID(int=random.Random(token).getrandbits(128)))
            self.emit("oauth2_provider.refreshtoken", pk, fields)
            self.manifest.write(kind="refreshtoken", pk=pk, token=token, user=self.user_pk(index),
                                application=app, expected=state)
            self.maybe_malformed("oauth2_provider.refreshtoken", index)

    def dispatch(self, apps):
        for pk, _, _, access, restricted in apps:
            if access is not None:
                scopes, filters = access
                self.emit("oauth_dispatch.applicationaccess", self.pk("applicationaccess"), {
                    "application": pk,
                    "scopes": scopes,
                    "filters": filters,
                })
            if restricted:
                self.emit("oauth_dispatch.restrictedapplication", self.pk("restricted"), {
                    "application": pk,
                })

    def others(self):
        """Rows of models the importer ignores (and counts)."""
        for pk, (app, model) in enumerate([("auth", "user"), ("student", "userprofile"),
                                           ("oauth2_provider", "application")], start=1):
            self.emit("contenttypes.contenttype", pk, {"app_label": app, "model": model})
        for index in range(min(self.args.users, 50)):
            self.emit("student.courseenrollment", index + 1, {
                "user": self.user_pk(index),
                "course": COURSES[index % len(COURSES)],
                "created": stamp(self.now - dt.timedelta(days=index)),
                "is_active": True,
                "mode": "audit",
            })

    def write(self):
        self.others()
        self.users()
        self.profiles()
        self.anonymous_ids()
        apps = list(self.applications())
        self.access_tokens(apps)
        self.refresh_tokens(apps)
        self.dispatch(apps)
        self.writer.close()


def parse_now(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fast", action="store_true",
                        help="reuse a pool of precomputed hashes (seconds for 100 000 users)")
    parser.add_argument("--malformed", type=int, default=0,
                        help="add this many malformed rows of known models")
    parser.add_argument("--dot", choices=["1.7", "3"], default="1.7",
                        help="django-oauth-toolkit's model shape: 1.7 (edx-platform's pin for "
                             "years) or 3 (hashed secrets, token families, device code)")
    now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    parser.add_argument("--now", type=parse_now, default=now,
                        help="the export's moment, ISO 8601 (default: this hour)")
    parser.add_argument("--out", type=argparse.FileType("w", encoding="utf-8"), default=sys.stdout)
    parser.add_argument("--manifest", type=argparse.FileType("w", encoding="utf-8"))
    args = parser.parse_args(argv)
    Export(args).write()
    args.out.close()
    if args.manifest:
        args.manifest.close()


if __name__ == "__main__":
    main()
