"""Three `latchkey serve` nodes on one PostgreSQL database act as one, and a resource server that
verifies JWTs locally (latchkey-guard's example service, following node A's revocation feed)
refuses a revoked token or a disabled user's within seconds (docs/design/change-notices.md,
docs/design/revocation-feed.md).

The caches that a change could leave stale are set long (introspection answers for a minute, the
janitor's reloads hourly), so that only the change notices can explain what the tests see. The
bounds asserted are generous; the propagation times are printed (median, p99 over 200
revocations) for BENCHMARKS.md.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import requests

from cluster import GuardService, distribution, refresh, revoke, running, sign_in, token_hash
from conftest import jwt_claims

# Every bound here is far above what notices take (milliseconds) and far below what the caches
# would take without them (a minute for introspection answers, an hour for the rest).
BOUND = 10.0
REVOCATIONS = 200


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running(tmp_path_factory.mktemp("cluster"), ("alice", "dave", "erin", "frank"), staff=("alice",)) as made:
        made.clients["authz"] = made["A"].create_client(
            "authz-admin", "alice", "client-credentials", secret="authz-secret-0123456789",
            permissions=("authz:read", "authz:write"),
        )
        resource = made.clients["resource"]
        made.guard = GuardService.start(made["A"].workdir, made.issuer, resource.client_id, resource.client_secret)
        try:
            yield made
        finally:
            made.guard.stop()


def live_refresh_tokens(cluster, family: str) -> int:
    rows = cluster.pg.query(
        "SELECT count(*) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id "
        f"WHERE f.id = '{family}' AND f.revoked_at IS NULL AND t.rotated_at IS NULL")
    return int(rows[0][0])


def family_of(cluster, refresh_token: str) -> str:
    digest = token_hash(cluster.master, refresh_token).hex()
    rows = cluster.pg.query(f"SELECT family_id FROM refresh_tokens WHERE hash = '\\x{digest}'")
    assert rows, "the refresh token is not in the database"
    return rows[0][0]


def test_nodes_started_at_once_publish_one_key_set(cluster):
    """Three replicas started together on an empty database agree on the signing keys: whichever
    node signs, the resource server verifies."""
    jwks = [cluster[name].jwks() for name in "ABC"]
    assert jwks[0] == jwks[1] == jwks[2]
    for name in "ABC":
        token = sign_in(cluster[name], cluster.clients["mobile"], cluster.users["frank"])["access_token"]
        assert jwt_claims(token)["iss"] == cluster.issuer
        assert cluster.guard.status(token) == 200, f"a token signed by node {name} was refused"


def test_a_token_from_a_refreshed_on_b_races_on_all_then_revoked_on_c(cluster):
    mobile = cluster.clients["mobile"]
    first = sign_in(cluster["A"], mobile, cluster.users["dave"])

    second = refresh(cluster["B"], mobile, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert cluster.guard.status(second["access_token"]) == 200

    # 18 racing refreshes of one token, spread over the three nodes, give exactly one pair.
    barrier = threading.Barrier(18)
    answers: list[requests.Response] = [None] * 18  # type: ignore[list-item]

    def racer(i: int) -> None:
        barrier.wait()
        answers[i] = refresh(cluster["ABC"[i % 3]], mobile, second["refresh_token"])

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(18)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [200] * 18, [r.text for r in answers if r.status_code != 200]
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in answers}
    assert len(pairs) == 1, f"{len(pairs)} successor pairs"
    (access, refresh_token), = pairs
    family = family_of(cluster, refresh_token)
    assert family == family_of(cluster, first["refresh_token"])
    assert live_refresh_tokens(cluster, family) == 1

    # Revoked on C: the guard, following A's feed, refuses the access token, and the family is
    # gone on every node.
    assert cluster.guard.status(access) == 200
    revoke(cluster["C"], mobile, refresh_token)
    cluster.guard.refused_within(access, BOUND)
    for name in "AB":
        r = refresh(cluster[name], mobile, refresh_token)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert live_refresh_tokens(cluster, family) == 0


def test_a_user_disabled_on_b_is_refused_by_the_service(cluster):
    erin = cluster.users["erin"]
    token = sign_in(cluster["A"], cluster.clients["mobile"], erin)["access_token"]
    assert cluster.guard.status(token) == 200
    # There is no admin HTTP API yet: node B's operator disables erin with B's own CLI and
    # configuration (the same database).
    cluster["B"].cli("user", "disable", "erin")
    took = cluster.guard.refused_within(token, BOUND)
    r = requests.post(cluster["C"].token_url, data={
        "grant_type": "password", "client_id": cluster.clients["mobile"].client_id,
        "username": erin.username, "password": erin.password,
    }, timeout=10)
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_grant", "account_disabled"), r.text
    print(f"\ndisabled on B, refused by the service following A in {took * 1000:.1f} ms")


def test_a_role_assigned_on_c_is_seen_by_a_check_on_a(cluster):
    admin = cluster.clients["authz"]
    auth = (admin.client_id, admin.client_secret)
    check = {"subject": "user^frank", "action": "act^content_libraries.view_library",
             "scope": "lib^lib:MITx:physics"}

    def allowed_on_a() -> bool:
        r = requests.post(cluster["A"].url("/authz/v1/check"), json=check, auth=auth, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["allowed"]

    assert not allowed_on_a()
    r = requests.post(cluster["C"].url("/authz/v1/assignments"), auth=auth, timeout=10, json={
        "subject": "user^frank", "role": "role^library_author", "scope": "lib^lib:MITx:physics"})
    assert r.status_code == 201, r.text
    start = time.monotonic()
    while not allowed_on_a():
        assert time.monotonic() - start < BOUND, "node A never saw the assignment made on C"
        time.sleep(0.005)
    print(f"\nassigned on C, allowed on A after {(time.monotonic() - start) * 1000:.1f} ms")


def test_revocation_propagation_times(cluster, capsys):
    """REVOCATIONS JWTs, each issued by A and accepted by the service, then revoked on B or C: the
    time from the revocation's answer to the service's first refusal."""
    service = cluster.clients["service"]
    rng = random.Random(17)
    delays = []
    with requests.Session() as http:
        for _ in range(REVOCATIONS):
            r = http.post(cluster["A"].token_url, data={"grant_type": "client_credentials",
                                                        "token_type": "jwt"},
                          auth=(service.client_id, service.client_secret), timeout=10)
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            assert cluster.guard.status(token, http) == 200
            revoke(cluster[rng.choice("BC")], service, token)
            delays.append(cluster.guard.refused_within(token, BOUND))
    with capsys.disabled():
        print(f"\nrevocation on B or C -> refused by the guard following A: {distribution(delays)}")


def test_password_limits_are_counted_once_for_all_nodes(cluster):
    """`throttle.account_failures` (10) wrong passwords spread over three nodes lock the account on
    every node: three nodes do not allow three times the guesses."""
    frank = cluster.users["frank"]
    mobile = cluster.clients["mobile"]

    def attempt(name: str, password: str) -> requests.Response:
        return requests.post(cluster[name].token_url, data={
            "grant_type": "password", "client_id": mobile.client_id, "username": frank.username,
            "password": password}, timeout=10)

    for i in range(10):
        r = attempt("ABC"[i % 3], "wrong-password")
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    for name in "ABC":
        r = attempt(name, frank.password)
        assert r.status_code == 429, f"node {name}: {r.status_code} {r.text}"
        assert r.json()["error"] == "temporarily_unavailable" and r.headers.get("retry-after"), r.text
