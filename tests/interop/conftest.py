"""Black-box fixtures: the real `latchkey` binary, started on a free port in a temporary folder.

Nothing is built here: the binary comes from $LATCHKEY_BIN or <repo>/target/debug/latchkey.
Users and clients are made with the binary's own CLI (against the same SQLite file the server
uses), the server is stopped with SIGTERM, and every server must exit 0 on SIGTERM.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("LATCHKEY_BIN") or str(REPO / "target" / "debug" / "latchkey")

# argon2 made cheap: these tests are about the wire, not about password hashing cost.
# Settings go through a TOML file named by LATCHKEY_CONFIG (read by the CLI and the server alike);
# test_server_process.py checks that LATCHKEY_* environment overrides work as well.
BASE_SETTINGS = {"passwords": {"memory_kib": 1024, "iterations": 1}}

AUDIENCE = "latchkey"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc: subprocess.Popen, timeout: float) -> bool:
    """SIGTERM to a running `proc`, and whether it exited within `timeout` s (else it is killed)."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(token: str) -> dict:
    return b64url_json(token.split(".")[0])


def jwt_claims(token: str) -> dict:
    """The payload, unverified: for asserting what the server put in, never for trusting it."""
    return b64url_json(token.split(".")[1])


@dataclass
class User:
    username: str
    email: str
    password: str
    info: dict


@dataclass
class Client:
    name: str
    client_id: str
    client_secret: str | None


@dataclass
class Latchkey:
    """One `latchkey serve` process in its own folder (its own database and key file)."""

    workdir: pathlib.Path
    port: int
    issuer: str
    settings: dict = field(default_factory=dict)
    extra_env: dict = field(default_factory=dict)
    # False drops BASE_SETTINGS' cheap [passwords]: the server hashes at its own defaults.
    cheap_passwords: bool = True
    proc: subprocess.Popen | None = None
    exit_code: int | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def token_url(self) -> str:
        return self.url("/oauth2/access_token")

    @property
    def revoke_url(self) -> str:
        return self.url("/oauth2/revoke_token")

    @property
    def introspect_url(self) -> str:
        return self.url("/oauth2/introspect")

    @property
    def jwks_url(self) -> str:
        return self.url("/oauth2/jwks.json")

    @property
    def log_path(self) -> pathlib.Path:
        return self.workdir / "serve.log"

    @property
    def config_path(self) -> pathlib.Path:
        return self.workdir / "latchkey.toml"

    def write_config(self) -> None:
        merged: dict = {}
        base = {k: v for k, v in BASE_SETTINGS.items() if self.cheap_passwords or k != "passwords"}
        for source in (base, self.settings):
            for table, values in source.items():
                merged.setdefault(table, {}).update(values)
        lines = []
        for table, values in merged.items():
            lines.append(f"[{table}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def env(self) -> dict:
        # A LATCHKEY_* variable of the calling shell (e.g. a PostgreSQL URL) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        env["LATCHKEY_CONFIG"] = str(self.config_path)
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [BIN, *args],
            cwd=self.workdir,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"latchkey {' '.join(args)} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done.stdout

    def create_user(
        self,
        username: str,
        password: str,
        *,
        email: str | None = None,
        staff: bool = False,
        unverified: bool = False,
        name: str | None = None,
    ) -> User:
        email = email or f"{username}@example.org"
        args = ["user", "create", "--username", username, "--email", email, "--password-stdin", "--json"]
        if name:
            args += ["--name", name]
        if staff:
            args.append("--staff")
        if unverified:
            args.append("--unverified")
        out = self.cli(*args, stdin=password + "\n")
        return User(username, email, password, json.loads(out))

    def create_client(
        self,
        name: str,
        owner: str,
        grant_type: str,
        *,
        public: bool = False,
        secret: str | None = None,
        scopes: str | None = None,
        filters: str | None = None,
        restricted: bool = False,
        permissions: tuple[str, ...] = (),
    ) -> Client:
        args = ["client", "create", name, owner, "--grant-type", grant_type, "--json"]
        if public:
            args.append("--public")
        if secret:
            args += ["--client-secret", secret]
        if scopes:
            args += ["--scopes", scopes]
        if filters:
            args += ["--filters", filters]
        if restricted:
            args.append("--restricted")
        for permission in permissions:
            args += ["--permission", permission]
        out = json.loads(self.cli(*args))
        return Client(name, out["client_id"], out.get("client_secret"))

    def start(self) -> "Latchkey":
        return self.launch().wait_ready()

    def launch(self) -> "Latchkey":
        """Starts the process without waiting for it (several nodes may then start at once)."""
        assert os.access(BIN, os.X_OK), f"no latchkey binary at {BIN}: run `cargo build -p latchkey`"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--issuer", self.issuer],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 30) -> "Latchkey":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"latchkey serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url("/health/ready"), timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"latchkey serve never became ready:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code (None stays None only if it had to be killed)."""
        if self.proc is None:
            return 0
        if not terminate(self.proc, 15):
            self.exit_code = None
            self.proc = None
            raise AssertionError(f"latchkey did not stop within 15 s of SIGTERM:\n{self.log()}")
        self.exit_code = self.proc.returncode
        self.proc = None
        return self.exit_code

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return "<no log>"

    def jwks(self) -> dict:
        r = requests.get(self.jwks_url, timeout=5)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def make_latchkey(tmp_path_factory):
    """A factory for servers; all of them are stopped with SIGTERM at the end and must exit 0."""
    made: list[Latchkey] = []

    def make(
        name: str = "lk",
        *,
        issuer: str | None = None,
        settings: dict | None = None,
        env: dict | None = None,
        cheap_passwords: bool = True,
    ) -> Latchkey:
        port = free_port()
        lk = Latchkey(
            workdir=tmp_path_factory.mktemp(name),
            port=port,
            issuer=issuer or f"http://127.0.0.1:{port}/oauth2",
            settings=dict(settings or {}),
            extra_env=dict(env or {}),
            cheap_passwords=cheap_passwords,
        )
        lk.write_config()
        made.append(lk)
        return lk

    yield make

    failures = []
    for lk in made:
        if lk.proc is None:
            continue
        try:
            code = lk.stop()
        except AssertionError as e:
            failures.append(str(e))
            continue
        if code != 0:
            failures.append(f"{lk.workdir}: latchkey exited {code} on SIGTERM:\n{lk.log()}")
    assert not failures, "\n\n".join(failures)


@dataclass
class World:
    """The main server and what was made in it."""

    lk: Latchkey
    users: dict[str, User]
    clients: dict[str, Client]


@pytest.fixture(scope="session")
def world(make_latchkey) -> World:
    lk = make_latchkey("main")
    users = {
        "alice": lk.create_user("alice", "alice-Pass-1", staff=True),
        "bob": lk.create_user("bob", "bob-Pass-1", unverified=True),
        "carol": lk.create_user("carol", "carol-Pass-1"),
        "dave": lk.create_user("dave", "dave-Pass-1"),
        "erin": lk.create_user("erin", "erin-Pass-1"),
    }
    lk.cli("user", "disable", "carol")
    clients = {
        # Open edX's mobile apps: a public password-grant client.
        "mobile": lk.create_client("mobile", "alice", "password", public=True),
        # A confidential password-grant client (authenticates with its secret as well).
        "partner": lk.create_client("partner", "alice", "password", secret="partner-secret-0123456789"),
        # A service: client_credentials, acting as alice, with extra scopes and an org filter; a
        # resource server too, granted introspection.
        "service": lk.create_client(
            "service",
            "alice",
            "client-credentials",
            secret="service-secret-0123456789",
            scopes="grades:read,user_id",
            filters="content_org:MITx",
            permissions=("introspect",),
        ),
        # A restricted partner application.
        "restricted": lk.create_client(
            "restricted",
            "bob",
            "client-credentials",
            secret="restricted-secret-0123456789",
            scopes="grades:read",
            filters="content_org:HarvardX",
            restricted=True,
        ),
    }
    lk.start()
    return World(lk, users, clients)
