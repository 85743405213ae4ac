// The mobile app's WebView: the app trades its access token for a session at `POST /oauth2/login/`
// (Open edX's LoginWithAccessTokenView), hands the session cookie to its WebView, and the WebView
// is signed in: an MFE in it gets its JWT cookies, and an authorization request goes straight to
// consent without a login page. Tokens that are not the app's own password-grant JWTs open nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COOKIES, authorizeUrl, cookieJar, pkce, setCookieLines, startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

async function token(body, auth) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  const r = await fetch(world.lk.url('/oauth2/access_token'), { method: 'POST', headers, body: new URLSearchParams(body) });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).access_token;
}

function appJwt(user) {
  return token({ grant_type: 'password', username: user.username, password: user.password, client_id: world.clients.mobile.clientId, token_type: 'jwt' });
}

function webviewLogin(accessToken) {
  return fetch(world.lk.url('/oauth2/login/'), { method: 'POST', headers: { authorization: `JWT ${accessToken}` } });
}

test("the app's password-grant JWT signs its WebView in", async () => {
  const { lk, mfe, users, clients } = world;
  const r = await webviewLogin(await appJwt(users.bob));
  assert.equal(r.status, 204);
  const session = setCookieLines(r.headers.getSetCookie()).find((c) => c.name === COOKIES.session);
  assert.ok(session, 'a session cookie');
  assert.equal(session.attributes.httponly, true);

  // The app puts the cookie into its WebView's cookie store, as the mobile apps do.
  const webview = await world.browser.newContext({ viewport: { width: 390, height: 844 } });
  await webview.addCookies([{ name: session.name, value: session.value, url: lk.base, httpOnly: true, sameSite: 'Lax' }]);
  const page = await webview.newPage();

  // An MFE in the WebView gets its JWT cookies for bob.
  await page.goto(mfe.url('/'));
  const refreshed = await page.evaluate(() => window.refreshJwt());
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed));
  const jar = await cookieJar(webview, lk);
  const payload = JSON.parse(Buffer.from(jar[COOKIES.headerPayload].value.split('.')[1], 'base64url').toString());
  assert.equal(payload.preferred_username, 'bob');

  // An authorization request in the WebView asks no password: straight to bob's consent page.
  await page.goto(
    authorizeUrl(world, {
      response_type: 'code',
      client_id: clients.app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'profile',
      state: 'webview',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    }),
  );
  assert.equal(await page.getByLabel(/^password$/i).count(), 0, 'no login page');
  await page.getByRole('button', { name: /allow/i }).waitFor();
  assert.match(await page.locator('body').innerText(), /\bbob\b/);
  await webview.close();
});

test('other tokens open no WebView session', async () => {
  const { users } = world;
  const service = await token({ grant_type: 'client_credentials', token_type: 'jwt' }, `${world.clients.service.clientId}:service-secret-0123456789`);
  const cases = [
    ['a client_credentials JWT', service, 'non_supported_token'],
    ['a tampered JWT', `${(await appJwt(users.alice)).slice(0, -4)}AAAA`, 'invalid_token'],
    ['garbage', 'not-a-token', 'invalid_token'],
  ];
  for (const [what, accessToken, code] of cases) {
    const r = await webviewLogin(accessToken);
    assert.equal(r.status, 401, what);
    assert.equal((await r.json()).error_code, code, what);
    assert.deepEqual(r.headers.getSetCookie().filter((c) => c.startsWith(`${COOKIES.session}=`) && !/max-age=0/i.test(c)), [], `${what}: no session cookie`);
  }
});
