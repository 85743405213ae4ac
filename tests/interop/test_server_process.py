"""The binary as an operator runs it: settings from a TOML file and from LATCHKEY_* variables reach
the running server, a bad setting stops start-up naming it, and SIGTERM is a clean exit 0."""

from __future__ import annotations

import subprocess

import pytest
import requests

from conftest import BIN, jwt_claims


def jwt_for(lk, client) -> dict:
    r = requests.post(
        lk.token_url,
        data={"grant_type": "client_credentials", "token_type": "jwt"},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def seeded(lk):
    lk.create_user("alice", "alice-Pass-1")
    client = lk.create_client("service", "alice", "client-credentials", secret="service-secret-0123456789")
    lk.start()
    return client


def test_settings_file_is_applied(make_latchkey):
    """`--config FILE` / LATCHKEY_CONFIG: [tokens] jwt_lifetime and audience reach the tokens."""
    lk = make_latchkey("conffile", settings={"tokens": {"jwt_lifetime": 120, "audience": "from-the-file"}})
    body = jwt_for(lk, seeded(lk))
    claims = jwt_claims(body["access_token"])
    assert (body["expires_in"], claims["aud"]) == (120, "from-the-file"), (
        f"settings file {lk.config_path} was ignored:\n{lk.config_path.read_text()}"
    )


def test_environment_overrides_are_applied(make_latchkey):
    """product.md §8: every option can also come from LATCHKEY_* environment variables."""
    lk = make_latchkey(
        "confenv",
        env={"LATCHKEY_TOKENS__JWT_LIFETIME": "90", "LATCHKEY_TOKENS__AUDIENCE": "from-the-env"},
    )
    body = jwt_for(lk, seeded(lk))
    claims = jwt_claims(body["access_token"])
    assert (body["expires_in"], claims["aud"]) == (90, "from-the-env"), (
        "LATCHKEY_TOKENS__JWT_LIFETIME=90 and LATCHKEY_TOKENS__AUDIENCE=from-the-env were ignored"
    )


@pytest.mark.parametrize(
    "where, settings, env, named",
    [
        ("file", {"tokens": {"refresh_grace": 900}}, {}, "tokens.refresh_grace"),
        ("env", {}, {"LATCHKEY_TOKENS__REFRESH_GRACE": "900"}, "tokens.refresh_grace"),
    ],
    ids=["file", "env"],
)
def test_a_bad_setting_stops_startup_and_names_it(make_latchkey, where, settings, env, named):
    lk = make_latchkey("badconf", settings=settings, env=env)
    args = [BIN, "serve", "--listen", f"127.0.0.1:{lk.port}"]
    proc = subprocess.Popen(args, cwd=lk.workdir, env=lk.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"`latchkey serve` started with an invalid setting from the {where} ({settings or env})")
    assert proc.returncode == 1, (proc.returncode, out, err)
    assert named in err, err


def test_sigterm_is_a_clean_shutdown(make_latchkey):
    lk = make_latchkey("shutdown")
    client = seeded(lk)
    jwt_for(lk, client)
    assert requests.get(lk.url("/health/live"), timeout=5).status_code == 200
    assert lk.stop() == 0, lk.log()
    assert "latchkey stopped" in lk.log()
    with pytest.raises(requests.ConnectionError):
        requests.get(lk.url("/health/live"), timeout=2)
