"""Several `latchkey serve` nodes on one PostgreSQL database, and a resource server that follows
the revocation feed: the pieces of test_cluster.py and test_cluster_faults.py.

The database is a private PostgreSQL cluster (initdb into a temporary folder, its own port), not
the machine's server: the fault tests restart it under load, which the other suites must not see.
The resource server is latchkey-guard's example service (`crates/guard/examples/protected.rs`),
built by `cargo build -p latchkey-guard --example protected`, following the feed of one node.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import os
import pathlib
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from conftest import BIN, Latchkey, free_port, terminate

# Caches that a change could leave stale, set long (introspection answers for a minute, the most
# allowed; the janitor's reloads hourly), so that only the change notices can explain a change
# seen within seconds.
LONG_CACHES = {"tokens": {"introspection_cache": 60}, "janitor": {"interval_secs": 3600}}

GUARD_BIN = os.environ.get("LATCHKEY_GUARD_BIN") or str(pathlib.Path(BIN).parent / "examples" / "protected")


def pg_bindir() -> pathlib.Path:
    """The newest installed PostgreSQL's programs (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if found:
        return pathlib.Path(found[-1])
    initdb = shutil.which("initdb")
    assert initdb, "the cluster suite needs PostgreSQL's initdb and pg_ctl (Debian: postgresql)"
    return pathlib.Path(initdb).parent


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, trust auth on 127.0.0.1, which it may restart."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.port = free_port()
        # Under /tmp, not pytest's tmp_path: the server runs as `postgres` when we are root, and
        # pytest's folders are private to us.
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="latchkey-cluster-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        # initdb and postgres refuse to run as root.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        self.start()
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc", "CREATE DATABASE latchkey"],
            check=True, capture_output=True, timeout=30,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/latchkey"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_owner, str(self.bindir / program), *args],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, f"{program} {' '.join(args)}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        # fsync off: the machine does not crash in these tests, only the server does.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def query(self, sql: str) -> list[list[str]]:
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "latchkey",
             "-AtF", "\t", "-c", sql],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, f"psql: {done.stderr}"
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def token_hash(master: bytes, token: str) -> bytes:
    """The keyed hash under which the server stores `token` (crates/cli/src/secrets.rs derives the
    hashing key from the master secret): what an auditor holding the master secret and a database
    dump can check a token against."""
    key = hmac.new(master, b"latchkey secret-hash v1", hashlib.sha256).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).digest()


@dataclass
class GuardService:
    """The guard's example service, following the revocation feed of the node at `issuer`."""

    port: int
    proc: subprocess.Popen
    log_path: pathlib.Path

    @classmethod
    def start(cls, workdir: pathlib.Path, issuer: str, client_id: str, secret: str) -> "GuardService":
        assert os.access(GUARD_BIN, os.X_OK), (
            f"no guard example at {GUARD_BIN}: run `cargo build -p latchkey-guard --example protected`")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        env.update({
            "LATCHKEY_ISSUER": issuer,
            "LATCHKEY_AUDIENCE": "latchkey",
            "LATCHKEY_GUARD_CLIENT_ID": client_id,
            "LATCHKEY_GUARD_CLIENT_SECRET": secret,
            "LATCHKEY_GUARD_REVOCATIONS": "follow",
            "LISTEN": f"127.0.0.1:{port}",
        })
        log_path = workdir / "guard.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([GUARD_BIN], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        service = cls(port, proc, log_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the guard service exited {proc.returncode}:\n{service.log()}"
            try:
                requests.get(service.url("/public"), timeout=1)
                return service
            except requests.ConnectionError:
                time.sleep(0.05)
        proc.kill()
        raise AssertionError(f"the guard service never listened:\n{service.log()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def status(self, token: str, session: requests.Session | None = None) -> int:
        """What the service answers to a request carrying `token` (200, or 401 once refused)."""
        return (session or requests).get(
            self.url("/whoami"), headers={"Authorization": f"JWT {token}"}, timeout=10).status_code

    def refused_within(self, token: str, bound: float) -> float:
        """Seconds until the service refuses `token`, polled as fast as it answers."""
        start = time.monotonic()
        with requests.Session() as session:
            while True:
                if self.status(token, session) == 401:
                    return time.monotonic() - start
                if time.monotonic() - start > bound:
                    raise AssertionError(f"the guard still accepts the token after {bound} s:\n{self.log()}")
                time.sleep(0.002)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]

    def stop(self) -> None:
        terminate(self.proc, 10)


class Cluster:
    """`names` nodes on one private PostgreSQL database, one issuer and one master secret (what a
    load balancer in front of them needs), started at once as a deployment's replicas are."""

    def __init__(self, tmp: pathlib.Path, names: str = "ABC", settings: dict | None = None) -> None:
        self.pg = PrivatePostgres()
        self.master = secrets.token_bytes(32)
        ports = {name: free_port() for name in names}
        # The issuer names the first node: the guard finds the JWKS and the feed there.
        self.issuer = f"http://127.0.0.1:{ports[names[0]]}/oauth2"
        self.nodes: dict[str, Latchkey] = {}
        for name in names:
            workdir = tmp / f"node-{name}"
            workdir.mkdir()
            node = Latchkey(
                workdir=workdir,
                port=ports[name],
                issuer=self.issuer,
                settings=dict(settings or {}),
                extra_env={"LATCHKEY_DATABASE_URL": self.pg.url, "LATCHKEY_SECRET_KEY": self.master.hex()},
            )
            node.write_config()
            self.nodes[name] = node
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_ready()
        except BaseException:
            for node in self.nodes.values():
                if node.proc is not None:
                    node.proc.kill()
            self.pg.destroy()
            raise

    def __getitem__(self, name: str) -> Latchkey:
        return self.nodes[name]

    def stop(self) -> list[str]:
        """Stops every node still running (each must exit 0 on SIGTERM) and the database."""
        failures = []
        for name, node in self.nodes.items():
            if node.proc is None:
                continue
            try:
                code = node.stop()
            except AssertionError as e:
                failures.append(f"node {name}: {e}")
                continue
            if code != 0:
                failures.append(f"node {name} exited {code} on SIGTERM:\n{node.log()}")
        self.pg.destroy()
        return failures


@contextmanager
def running(tmp: pathlib.Path, users: tuple[str, ...], staff: tuple[str, ...] = ()):
    """A cluster with LONG_CACHES, `users` (password `<name>-Pass-1`) and the clients every
    cluster test uses, made with node A's CLI: `mobile` (public, password grant), `resource` (a
    resource server: introspection and the revocation feed; the first user's) and `service`
    (client_credentials, acting as the second user). Every node must stop cleanly at the end."""
    made = Cluster(tmp, settings=LONG_CACHES)
    a = made["A"]
    made.users = {name: a.create_user(name, f"{name}-Pass-1", staff=name in staff) for name in users}
    made.clients = {
        "mobile": a.create_client("mobile", users[0], "password", public=True),
        "resource": a.create_client(
            "resource", users[0], "client-credentials", secret="resource-secret-0123456789",
            permissions=("introspect", "revocations:read"),
        ),
        "service": a.create_client("service", users[1], "client-credentials", secret="service-secret-0123456789"),
    }
    try:
        yield made
    finally:
        failures = made.stop()
    assert not failures, "\n\n".join(failures)


def sign_in(node, mobile, user) -> dict:
    r = requests.post(node.token_url, data={
        "grant_type": "password", "client_id": mobile.client_id, "username": user.username,
        "password": user.password, "token_type": "jwt",
    }, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(node, mobile, refresh_token: str) -> requests.Response:
    return requests.post(node.token_url, data={
        "grant_type": "refresh_token", "client_id": mobile.client_id, "refresh_token": refresh_token,
        "token_type": "jwt",
    }, timeout=10)


def revoke(node, client, token: str) -> None:
    data = {"token": token, "client_id": client.client_id}
    if client.client_secret:
        data["client_secret"] = client.client_secret
    r = requests.post(node.revoke_url, data=data, timeout=10)
    assert r.status_code == 200, r.text


def distribution(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"n={len(ms)} median {statistics.median(ms):.1f} ms, p90 {ms[int(len(ms) * 0.9)]:.1f} ms, "
            f"p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")
