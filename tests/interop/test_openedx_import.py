"""`latchkey import openedx` on an export made by tests/openedx/generate_export.py, then the real
HTTP API: imported users sign in with the passwords Django hashed and get JWTs whose `user_id` is
their LMS id and whose `sub` is their anonymous id; imported refresh tokens refresh, imported
opaque access tokens answer at userinfo, imported confidential clients authenticate with their old
secrets; a second import changes no row; `--strict` on a file with a malformed row leaves every
table as it was; Open edX's own JwtAuthentication syncs the same user. On SQLite and on the real
PostgreSQL server."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

from conftest import BIN, REPO, jwt_claims

GENERATOR = REPO / "tests" / "openedx" / "generate_export.py"
PG = os.environ.get("LATCHKEY_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432")


def generate(tmp, name, *args):
    """An export made as of this second: its live access tokens have half an hour left."""
    out, manifest = tmp / f"{name}.json", tmp / f"{name}.jsonl"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    subprocess.run(
        [sys.executable, str(GENERATOR), "--fast", "--now", now, "--out", str(out), "--manifest", str(manifest), *args],
        check=True,
        timeout=300,
    )
    return out, [json.loads(line) for line in manifest.read_text().splitlines()]


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", f"{PG}/{db}", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


class Imported:
    def __init__(self, lk, export, manifest, tables):
        self.lk, self.export, self.manifest, self.tables = lk, export, manifest, tables
        self.users = [m for m in manifest if m["kind"] == "user"]
        self.subs = {m["user"]: m["sub"] for m in manifest if m["kind"] == "sub"}
        self.apps = {m["name"]: m for m in manifest if m["kind"] == "application"}
        # The first user with an address keeps it; later ones differing only in case are skipped.
        seen, self.twins = set(), set()
        for u in self.users:
            if u["email"].lower() in seen:
                self.twins.add(u["id"])
            seen.add(u["email"].lower())

    def serve(self):
        if self.lk.proc is None:
            self.lk.start()

    def run(self, *args, check=True):
        done = subprocess.run(
            [BIN, "import", "openedx", *args],
            cwd=self.lk.workdir,
            env=self.lk.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"import exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def summary(self, *args) -> dict:
        return json.loads(self.run(str(self.export), "--json", *args).stdout)

    def user(self, hasher: str, *, active: bool = True) -> dict:
        return next(
            u
            for u in self.users
            if u["hasher"] == hasher and u["usable"] and u["is_active"] == active and u["id"] not in self.twins
        )

    def sign_in(self, user: dict) -> requests.Response:
        return requests.post(
            self.lk.token_url,
            data={
                "grant_type": "password",
                "username": user["username"],
                "password": user["password"],
                "client_id": self.apps["login-service"]["client_id"],
                "token_type": "jwt",
            },
            timeout=30,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def imported(request, make_latchkey, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"export-{request.param}")
    export, manifest = generate(tmp, "lms", "--users", "240", "--seed", "3", "--malformed", "4")
    env, tables = {}, None
    if request.param == "postgres":
        db = f"latchkey_import_{uuid.uuid4().hex[:12]}"
        psql(f"CREATE DATABASE {db}")
        env["LATCHKEY_DATABASE_URL"] = f"{PG}/{db}"
        tables = lambda: pg_tables(f"{PG}/{db}")  # noqa: E731
    # The export's live refresh tokens are 1 to 24 days old: all within a 30-day lifetime.
    lk = make_latchkey(f"import-{request.param}", env=env, settings={"tokens": {"refresh_lifetime": 30 * 86400}})
    if tables is None:
        tables = lambda: sqlite_tables(lk.workdir / "latchkey.db")  # noqa: E731
    found = Imported(lk, export, manifest, tables)
    found.first = found.summary()
    yield found
    if request.param == "postgres":
        lk.stop()
        psql(f"DROP DATABASE IF EXISTS {env['LATCHKEY_DATABASE_URL'].rsplit('/', 1)[1]} WITH (FORCE)")


def pg_tables(url) -> list:
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", url], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    # pg_dump 15.14+ fences its output with a random \restrict key, different every time.
    return [line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))]


def sqlite_tables(path) -> dict:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(map(repr, con.execute(f'SELECT * FROM "{n}"'))) for n in names}
    finally:
        con.close()


def test_the_summary_accounts_for_every_row(imported):
    s, manifest = imported.first, imported.manifest
    assert s["users"]["imported"] == len(imported.users) - len(imported.twins)
    assert s["users"]["skipped"] == ({"email already used by another user": len(imported.twins)} if imported.twins else {})
    malformed = {m["position"] for m in manifest if m["kind"] == "malformed"}
    assert {m["position"] for m in s["malformed"]} == malformed
    expected_apps = [a for a in imported.apps.values() if a["expected"] == "import"]
    assert s["clients"]["imported"] == len(expected_apps)
    skipped = {}
    for a in imported.apps.values():
        if a["expected"] != "import":
            reason = a["expected"].removeprefix("skip: ")
            skipped[reason] = skipped.get(reason, 0) + 1
    assert s["clients"]["skipped"] == skipped
    live = [m for m in manifest if m["kind"] == "refreshtoken" and m["expected"] == "live" and m["user"] not in imported.twins]
    assert s["refresh_tokens"]["imported"] == len(live)
    assert s["ignored"] == {"contenttypes.contenttype": 3, "student.courseenrollment": 50}


@pytest.mark.parametrize("hasher", ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256"])
def test_imported_users_sign_in_with_the_password_django_hashed(imported, hasher):
    imported.serve()
    user = imported.user(hasher)
    r = imported.sign_in(user)
    assert r.status_code == 200, r.text
    claims = jwt_claims(r.json()["access_token"])
    assert claims["user_id"] == user["id"]
    assert claims["preferred_username"] == user["username"]
    assert claims["email"] == user["email"]
    sub = imported.subs[user["id"]]
    if sub is not None:
        assert claims["sub"] == sub
    assert len(claims["sub"]) == 32
    # The Django hash was replaced by argon2id on the way: the same password still works.
    again = imported.sign_in(user)
    assert again.status_code == 200, again.text


def test_inactive_users_sign_in_unverified_and_unusable_passwords_never(imported):
    imported.serve()
    inactive = next(
        (u for u in imported.users if u["usable"] and not u["is_active"] and u["id"] not in imported.twins), None
    )
    assert inactive is not None, "the export has an inactive user with a password"
    r = imported.sign_in(inactive)
    assert r.status_code == 200, r.text
    assert jwt_claims(r.json()["access_token"])["email_verified"] is False
    unusable = next(u for u in imported.users if not u["usable"])
    r = imported.sign_in({**unusable, "password": "anything"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_imported_refresh_tokens_refresh_once_and_dead_ones_never(imported):
    imported.serve()
    by_pk = {a["pk"]: a for a in imported.apps.values()}
    public_password = {pk for pk, a in by_pk.items() if a["client_type"] == "public" and a["grant_type"] == "password"}
    tokens = [
        m
        for m in imported.manifest
        if m["kind"] == "refreshtoken" and m["application"] in public_password and m["user"] not in imported.twins
    ]

    def refresh(m):
        return requests.post(
            imported.lk.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": m["token"],
                "client_id": by_pk[m["application"]]["client_id"],
            },
            timeout=30,
        )

    live = next(m for m in tokens if m["expected"] == "live")
    r = refresh(live)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != live["token"]
    for state in ("expired", "revoked"):
        dead = next(m for m in tokens if m["expected"] == state)
        r = refresh(dead)
        assert (r.status_code, r.json()["error"]) == (400, "invalid_grant"), (state, r.text)


def test_imported_access_tokens_answer_at_userinfo(imported):
    imported.serve()
    users = {u["id"]: u for u in imported.users}
    live = [m for m in imported.manifest if m["kind"] == "accesstoken" and m["expected"] == "live" and m["user"] not in imported.twins]
    assert live, "the export has live access tokens"
    r = requests.get(imported.lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {live[0]['token']}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["preferred_username"] == users[live[0]["user"]]["username"]
    expired = next(m for m in imported.manifest if m["kind"] == "accesstoken" and m["expected"] == "expired")
    r = requests.get(imported.lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {expired['token']}"}, timeout=10)
    assert r.status_code == 401


def test_imported_confidential_clients_authenticate_with_their_old_secret(imported):
    imported.serve()
    insights = imported.apps["insights"]
    ok = requests.post(
        imported.lk.token_url,
        data={"grant_type": "client_credentials", "token_type": "jwt", "scope": "grades:read"},
        auth=(insights["client_id"], insights["client_secret"]),
        timeout=10,
    )
    assert ok.status_code == 200, ok.text
    claims = jwt_claims(ok.json()["access_token"])
    assert "content_org:MITx" in claims["filters"] and "grades:read" in claims["scopes"]
    wrong = requests.post(
        imported.lk.token_url,
        data={"grant_type": "client_credentials"},
        auth=(insights["client_id"], insights["client_secret"] + "x"),
        timeout=10,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


def test_edx_jwt_authentication_syncs_the_imported_user(imported):
    imported.serve()
    user = imported.user("pbkdf2_sha256")
    token = imported.sign_in(user).json()["access_token"]
    staff = next(u for u in imported.users if u["is_staff"] and u["usable"] and u["id"] not in imported.twins)
    staff_token = imported.sign_in(staff).json()["access_token"]
    # Django is configured in a process of its own: JwtAuthentication authenticates a request
    # carrying each JWT and creates (syncs) the Django user from its claims.
    script = r"""
import json, sys
from django.conf import settings
issuer, jwks, tokens = json.loads(sys.stdin.read())
settings.configure(
    SECRET_KEY="import-test", USE_TZ=True, ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    JWT_AUTH={
        "JWT_ISSUERS": [{"ISSUER": issuer, "AUDIENCE": "latchkey", "SECRET_KEY": "unused"}],
        "JWT_PUBLIC_SIGNING_JWK_SET": json.dumps(jwks), "JWT_ALGORITHM": "RS512",
        "JWT_VERIFY_AUDIENCE": True, "JWT_SUPPORTED_VERSION": "1.2.0",
        "JWT_DECODE_HANDLER": "edx_rest_framework_extensions.auth.jwt.decoder.jwt_decode_handler",
        "JWT_AUTH_HEADER_PREFIX": "JWT",
    },
)
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from rest_framework.test import APIRequestFactory
from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
out = []
for token in tokens:
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION="JWT " + token)
    user, _ = JwtAuthentication().authenticate(request)
    out.append([user.username, user.email, user.is_staff, user.is_superuser])
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([imported.lk.issuer, imported.lk.jwks(), [token, staff_token]]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    synced = json.loads(done.stdout)
    assert synced[0] == [user["username"], user["email"], False, False]
    assert synced[1][:3] == [staff["username"], staff["email"], True]


def test_a_second_import_changes_no_row(imported):
    imported.lk.stop()
    before = imported.tables()
    again = imported.summary()
    assert again["users"]["imported"] == 0 and again["users"]["updated"] == 0
    assert again["users"]["unchanged"] == imported.first["users"]["imported"]
    assert again["clients"]["imported"] == 0 and again["clients"]["updated"] == 0
    assert again["refresh_tokens"]["imported"] == 0 and again["access_tokens"]["imported"] == 0
    assert imported.tables() == before


def test_strict_refuses_a_malformed_file_and_writes_nothing(imported, tmp_path):
    imported.lk.stop()
    before = imported.tables()
    # A new export: every row would be new, and one malformed row comes after many good ones.
    export, manifest = generate(tmp_path, "bad", "--users", "60", "--seed", "9", "--malformed", "1")
    position = next(m["position"] for m in manifest if m["kind"] == "malformed")
    done = imported.run("--strict", str(export), check=False)
    assert done.returncode == 1, done.stdout
    assert f"malformed row {position}" in done.stderr and "nothing was written" in done.stderr
    assert imported.tables() == before
    # A dry run of the same file without --strict: reported, nothing kept.
    dry = json.loads(imported.run("--dry-run", "--json", str(export)).stdout)
    assert dry["dry_run"] is True and dry["users"]["updated"] > 0
    assert imported.tables() == before


def test_what_is_not_an_export_is_refused_with_its_reason(imported, tmp_path):
    not_export = tmp_path / "x.json"
    not_export.write_text('{"users": []}')
    done = imported.run(str(not_export), check=False)
    assert done.returncode == 1 and "not a Django dumpdata export" in done.stderr, done.stderr
    done = imported.run(str(tmp_path / "missing.json"), check=False)
    assert done.returncode == 1 and "missing.json" in done.stderr, done.stderr


def test_secrets_newer_django_oauth_toolkit_hashed_still_authenticate(make_latchkey, tmp_path):
    """`--dot 3`: every other application's secret is a Django pbkdf2 hash (hash_client_secret)."""
    export, manifest = generate(tmp_path, "dot3", "--users", "30", "--seed", "4", "--dot", "3")
    lk = make_latchkey("import-dot3")
    found = Imported(lk, export, manifest, tables=None)
    summary = found.summary()
    hashed = [a for a in found.apps.values() if a["secret_stored_hashed"] and a["expected"] == "import"]
    assert summary["clients"]["imported"] == sum(a["expected"] == "import" for a in found.apps.values())
    partner = next(a for a in hashed if a["grant_type"] == "client-credentials")
    lk.start()

    def cc(secret):
        return requests.post(
            lk.token_url,
            data={"grant_type": "client_credentials", "token_type": "jwt"},
            auth=(partner["client_id"], secret),
            timeout=30,
        )

    assert cc(partner["client_secret"] + "x").status_code == 401
    for _ in range(2):  # the first check pays Django's cost and stores Latchkey's hash instead
        r = cc(partner["client_secret"])
        assert r.status_code == 200, r.text
