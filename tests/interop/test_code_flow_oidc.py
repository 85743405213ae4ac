"""The authorization code flow with PKCE and OpenID Connect, driven by Authlib's own OIDC client.

The client is composed the way Authlib composes its Flask and Django clients (OAuth2Mixin +
OpenIDMixin over its requests OAuth2Session), configured from Latchkey's discovery document only:
Authlib builds the authorization URL (S256 challenge, state, nonce), exchanges the code and
validates the id_token (signature against the JWKS, iss, aud, exp, nonce, at_hash). What a person
does in between (the login form, the consent form) is done over HTTP by a `requests` session that
keeps the cookies and sends the CSRF token the forms and the CSRF cookie carry.
"""

from __future__ import annotations

import json
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.base_client import BaseApp, OAuth2Mixin, OAuthError, OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import InvalidClaimError

# Never listened on: the code is read from the Location header, the browser never goes there.
REDIRECT_URI = "http://127.0.0.1:9/callback"
CSRF_COOKIE = "csrftoken"


class OidcClient(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's framework-free relying party (its framework apps add only session storage)."""

    client_cls = OAuth2Session


@pytest.fixture(scope="module")
def oidc(make_latchkey):
    lk = make_latchkey("oidc")
    # One user per test: a grant remembered by one test would skip another's consent page.
    users = {name: lk.create_user(name, f"{name}-Pass-1") for name in ("olivia", "mallory", "bert", "dana")}
    out = lk.cli(
        "client", "create", "relying-party", "olivia",
        "--grant-type", "authorization-code", "--public",
        "--redirect-uris", REDIRECT_URI, "--json",
    )
    client_id = json.loads(out)["client_id"]
    out = lk.cli(
        "client", "create", "other-party", "olivia",
        "--grant-type", "authorization-code", "--public",
        "--redirect-uris", REDIRECT_URI, "--json",
    )
    other_id = json.loads(out)["client_id"]
    lk.start()
    return lk, client_id, other_id, users


def relying_party(lk, client_id: str) -> OidcClient:
    return OidcClient(
        framework=None,
        client_id=client_id,
        server_metadata_url=lk.url("/.well-known/openid-configuration"),
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "none",
        },
    )


class Forms(HTMLParser):
    """Every <form> of a page: its action, method, fields and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._button: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}, "buttons": []})
        elif not self.forms:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self.forms[-1]["buttons"].append({"name": a.get("name"), "value": a.get("value", ""), "text": a.get("value", "")})
            elif a.get("name") and (kind not in ("checkbox", "radio") or "checked" in a):
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = {"name": a.get("name"), "value": a.get("value", ""), "text": ""}
            self.forms[-1]["buttons"].append(self._button)

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None


def forms_of(html: str) -> list[dict]:
    p = Forms()
    p.feed(html)
    return p.forms


def submit(browser: requests.Session, page: requests.Response, form: dict, button_text: str | None = None, **values):
    """Posts a form as a browser would: its fields, the values typed, the clicked button, and the
    CSRF header frontend code sends (Django's double submit accepts either)."""
    data = dict(form["fields"])
    data.update(values)
    if button_text is not None:
        chosen = [b for b in form["buttons"] if re.search(button_text, b["text"].strip(), re.I)]
        assert chosen, f"no button /{button_text}/ in {form['buttons']}"
        if chosen[0]["name"]:
            data[chosen[0]["name"]] = chosen[0]["value"]
    headers = {}
    if CSRF_COOKIE in browser.cookies:
        headers["X-CSRFToken"] = browser.cookies[CSRF_COOKIE]
    return browser.post(urljoin(page.url, form["action"] or page.url), data=data, headers=headers, allow_redirects=False, timeout=10)


def follow(browser: requests.Session, response: requests.Response) -> requests.Response:
    """Follows redirects inside Latchkey; stops at the one that leaves for the client."""
    while response.is_redirect:
        target = urljoin(response.url, response.headers["location"])
        if target.startswith(REDIRECT_URI):
            return response
        response = browser.get(target, allow_redirects=False, timeout=10)
    return response


def sign_in_and_consent(url: str, username: str, password: str, decision: str = "allow|authori[sz]e|approve|accept") -> dict:
    """A person in a browser: opens the authorization URL, signs in, answers the consent page.
    Returns the query Latchkey sent to the redirect URI."""
    browser = requests.Session()
    # What a browser asks for when it navigates: Latchkey answers scripts with JSON, browsers with pages.
    browser.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = follow(browser, browser.get(url, allow_redirects=False, timeout=10))
    assert page.status_code == 200, page.text
    login = [f for f in forms_of(page.text) if f["method"] == "post"]
    assert login, f"no login form on {page.url}"
    page = follow(browser, submit(browser, page, login[0], username=username, password=password))
    if page.status_code == 200:  # the consent page
        consent = [f for f in forms_of(page.text) if f["method"] == "post" and f["buttons"]]
        assert consent, f"no consent form on {page.url}:\n{page.text[:2000]}"
        page = follow(browser, submit(browser, page, consent[0], button_text=decision))
    assert page.is_redirect, (page.status_code, page.text[:2000])
    location = page.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_discovery_names_the_code_flow_endpoints(oidc):
    lk, _, _, _ = oidc
    meta = requests.get(lk.url("/.well-known/openid-configuration"), timeout=5).json()
    assert meta["issuer"] == lk.issuer
    assert meta["authorization_endpoint"] == lk.url("/oauth2/authorize")
    assert meta["token_endpoint"] == lk.url("/oauth2/access_token")
    assert meta["userinfo_endpoint"] == lk.url("/oauth2/userinfo")
    assert meta["jwks_uri"] == lk.url("/oauth2/jwks.json")
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "openid" in meta["scopes_supported"]


def test_authlib_runs_the_code_flow_with_pkce_and_validates_the_id_token(oidc):
    lk, client_id, _, users = oidc
    rp = relying_party(lk, client_id)
    request = rp.create_authorization_url(REDIRECT_URI)
    query = parse_qs(urlsplit(request["url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"] == [request["nonce"]]

    answer = sign_in_and_consent(request["url"], "olivia", "olivia-Pass-1")
    assert answer["state"] == request["state"]
    assert "error" not in answer, answer

    token = rp.fetch_access_token(REDIRECT_URI, code=answer["code"], code_verifier=request["code_verifier"])
    assert token["token_type"] in ("Bearer", "JWT")
    assert token["refresh_token"]
    assert set(token["scope"].split()) == {"openid", "profile", "email"}

    # Signature against the JWKS (from discovery), iss, aud = client_id, exp, iat, nonce, at_hash.
    claims = rp.parse_id_token(token, nonce=request["nonce"])
    assert claims["iss"] == lk.issuer
    assert claims["aud"] in (client_id, [client_id])
    assert claims["email"] == "olivia@example.org"
    assert isinstance(claims["auth_time"], int)
    assert claims["sub"] == users["olivia"].info["sub"]

    # The same id_token with another nonce is refused by Authlib: the check is real.
    with pytest.raises(InvalidClaimError):
        rp.parse_id_token(token, nonce="another-nonce")

    # userinfo with the access token, through Authlib's OIDC client.
    info = rp.userinfo(token=token)
    assert info["sub"] == claims["sub"]
    assert info["preferred_username"] == "olivia"
    assert info["email"] == "olivia@example.org"


def test_a_code_is_single_use_and_bound_to_its_verifier_and_client(oidc):
    lk, client_id, other_id, _ = oidc
    rp = relying_party(lk, client_id)
    request = rp.create_authorization_url(REDIRECT_URI)
    code = sign_in_and_consent(request["url"], "mallory", "mallory-Pass-1")["code"]

    with pytest.raises(OAuthError) as wrong_verifier:
        rp.fetch_access_token(REDIRECT_URI, code=code, code_verifier=secrets.token_urlsafe(48))
    assert wrong_verifier.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as wrong_client:
        relying_party(lk, other_id).fetch_access_token(REDIRECT_URI, code=code, code_verifier=request["code_verifier"])
    assert wrong_client.value.error == "invalid_grant"
    # Those refusals wrote nothing (docs/design/authorization-code.md): the rightful client, with
    # its verifier, still gets its tokens.
    token = rp.fetch_access_token(REDIRECT_URI, code=code, code_verifier=request["code_verifier"])
    assert rp.parse_id_token(token, nonce=request["nonce"])["preferred_username"] == "mallory"


def test_replayed_code_is_refused(oidc):
    lk, client_id, _, _ = oidc
    rp = relying_party(lk, client_id)
    request = rp.create_authorization_url(REDIRECT_URI)
    code = sign_in_and_consent(request["url"], "bert", "bert-Pass-1")["code"]
    first = rp.fetch_access_token(REDIRECT_URI, code=code, code_verifier=request["code_verifier"])
    with pytest.raises(OAuthError) as replay:
        rp.fetch_access_token(REDIRECT_URI, code=code, code_verifier=request["code_verifier"])
    assert replay.value.error == "invalid_grant"
    # RFC 6749 §4.1.2: what the first use issued is revoked (the access token no longer works).
    r = requests.get(lk.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {first['access_token']}"}, timeout=5)
    assert r.status_code == 401


def test_deny_sends_access_denied_with_the_state(oidc):
    lk, client_id, _, _ = oidc
    rp = relying_party(lk, client_id)
    request = rp.create_authorization_url(REDIRECT_URI, scope="openid email")
    answer = sign_in_and_consent(request["url"], "dana", "dana-Pass-1", decision="deny|cancel|decline|refuse")
    assert answer["error"] == "access_denied"
    assert answer["state"] == request["state"]
    assert "code" not in answer
