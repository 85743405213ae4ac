"""tests/openedx/generate_export.py keeps the promises the importer's tests will rely on: the same
options give the same bytes, rows come in dumpdata's shape and model order, every usable password
in the manifest verifies under Django's own check_password against the exported hash (and no
unusable one does), `sub` is the course-less anonymous id with the highest pk, and the manifest's
malformed positions point at the broken rows."""

from __future__ import annotations

import collections
import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
GENERATOR = REPO / "tests" / "openedx" / "generate_export.py"
NOW = "2026-12-01T00:00:00Z"
DUMPDATA_ORDER = [
    "contenttypes.contenttype",
    "student.courseenrollment",
    "auth.user",
    "student.userprofile",
    "student.anonymoususerid",
    "oauth2_provider.application",
    "oauth2_provider.accesstoken",
    "oauth2_provider.refreshtoken",
    "oauth_dispatch.applicationaccess",
    "oauth_dispatch.restrictedapplication",
]


def generate(tmp_path, name, *args) -> tuple[bytes, list, list]:
    out, manifest = tmp_path / f"{name}.json", tmp_path / f"{name}.jsonl"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--now", NOW, "--out", str(out), "--manifest", str(manifest), *args],
        check=True,
        timeout=300,
    )
    raw = out.read_bytes()
    return raw, json.loads(raw), [json.loads(line) for line in manifest.read_text().splitlines()]


def test_fast_exports_are_deterministic_dumpdata_with_located_malformed_rows(tmp_path):
    raw, rows, manifest = generate(tmp_path, "a", "--users", "400", "--fast", "--seed", "11", "--malformed", "4")
    again, _, _ = generate(tmp_path, "b", "--users", "400", "--fast", "--seed", "11", "--malformed", "4")
    assert raw == again
    other, _, _ = generate(tmp_path, "c", "--users", "400", "--fast", "--seed", "12", "--malformed", "4")
    assert raw != other

    broken = {m["position"]: m["model"] for m in manifest if m["kind"] == "malformed"}
    assert len(broken) == 4
    good = [r for i, r in enumerate(rows, start=1) if i not in broken]
    assert all(set(r) == {"model", "pk", "fields"} for r in good)
    shape = {r["model"]: {k: type(v) for k, v in r["fields"].items() if v is not None} for r in good}
    user_pks = {r["pk"] for r in good if r["model"] == "auth.user"}
    for position, model in broken.items():
        row = rows[position - 1]
        fields = row.get("fields")
        assert row["model"] == model
        assert (
            not isinstance(row.get("pk"), int)
            or not isinstance(fields, dict)
            or set(fields) != set(shape[model]) | {k for k in fields if fields[k] is None}
            or any(not isinstance(v, shape[model].get(k, type(v))) for k, v in fields.items() if v is not None)
            or "user" in fields and fields["user"] not in user_pks
        ), row
    order = list(dict.fromkeys(r["model"] for r in good))
    assert order == DUMPDATA_ORDER, order

    users = {r["pk"]: r["fields"] for r in good if r["model"] == "auth.user"}
    assert len(users) == 400
    emails = collections.Counter(u["email"].lower() for u in users.values())
    assert any(n > 1 for n in emails.values()), "emails differing only in case"
    assert any(not u["is_active"] for u in users.values())
    assert any(u["username"].startswith("retired__user_") for u in users.values())
    assert any(not u["username"].isascii() for u in users.values())

    # sub: the course-less anonymous id with the highest pk.
    best: dict[int, tuple[int, str]] = {}
    for r in good:
        if r["model"] == "student.anonymoususerid" and r["fields"]["course_id"] == "":
            user = r["fields"]["user"]
            if r["pk"] > best.get(user, (0, ""))[0]:
                best[user] = (r["pk"], r["fields"]["anonymous_user_id"])
    subs = {m["user"]: m["sub"] for m in manifest if m["kind"] == "sub"}
    assert subs == {user: best.get(user, (0, None))[1] for user in users}

    apps = [m for m in manifest if m["kind"] == "application"]
    kinds = {(a["client_type"], a["grant_type"]) for a in apps}
    for grant in ("password", "authorization-code", "client-credentials", "implicit", "openid-hybrid"):
        assert any(g == grant for _, g in kinds), grant
    assert {a["expected"] for a in apps if a["grant_type"] == "implicit"} == {"skip: implicit"}
    states = collections.Counter(m["expected"] for m in manifest if m["kind"] == "refreshtoken")
    assert states["live"] and states["expired"] and states["revoked"]


def test_every_usable_password_verifies_under_django(tmp_path):
    _, rows, manifest = generate(tmp_path, "real", "--users", "24", "--seed", "5", "--dot", "3")
    hashes = {r["pk"]: r["fields"]["password"] for r in rows if r["model"] == "auth.user"}
    users = [m for m in manifest if m["kind"] == "user"]
    assert {m["hasher"] for m in users} >= {"pbkdf2_sha256", "unusable"}
    checks = [(m["password"], hashes[m["id"]], m["usable"]) for m in users]
    # Django, in a process of its own (djangohash configures Django's settings on import).
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import djangohash; "
        "from djangohash import hashers; "
        "print(json.dumps([hashers.check_password(p, h) if p is not None else "
        "hashers.is_password_usable(h) for p, h, _ in json.load(sys.stdin)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(GENERATOR.parent)],
        input=json.dumps(checks),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    verdicts = json.loads(done.stdout)
    assert verdicts == [usable for _, _, usable in checks]
