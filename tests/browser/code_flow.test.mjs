// Scenario 1: a public client runs the authorization code flow with PKCE in a real browser:
// authorize → login page → consent page → redirect with code and state → token exchange →
// userinfo, and the id_token of `openid` checks out against the JWKS.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { authorizeUrl, b64url, fillLogin, pkce, startWorld, verifyJwt } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

async function exchange(code, verifier, extra = {}) {
  const r = await fetch(world.lk.url('/oauth2/access_token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: world.redirectUri,
      client_id: world.clients.app.clientId,
      code_verifier: verifier,
      ...extra,
    }),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

test('a public client gets a code through login and consent, exchanges it with its PKCE verifier and reads userinfo', async () => {
  const { lk, clients, users, client } = world;
  const app = clients.app;
  const { verifier, challenge } = pkce();
  const state = b64url(crypto.randomBytes(16));
  const nonce = b64url(crypto.randomBytes(16));
  const context = await world.browser.newContext();
  const page = await context.newPage();

  // 1. The client sends the user to Latchkey; without a session that is the login page.
  await page.goto(
    authorizeUrl(world, {
      response_type: 'code',
      client_id: app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
  );
  assert.equal(new URL(page.url()).origin, lk.base, 'the login page is Latchkey’s');
  await fillLogin(page, users.alice);

  // 2. Back at the authorization request: the consent page names the client and what it asks.
  assert.equal(new URL(page.url()).origin, lk.base, 'consent is asked on Latchkey');
  assert.equal(client.hits.length, 0, 'the client got nothing before consent');
  const consent = await page.locator('body').innerText();
  assert.match(consent, /Partner App/);
  assert.match(consent, /e-?mail/i, 'the email scope is listed');
  assert.match(consent, /profile|name/i, 'the profile scope is listed');

  // 3. Allow: the browser lands on the client's redirect URI with a code and our state.
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(world.redirectUri)),
    page.getByRole('button', { name: /allow|authori[sz]e|approve|accept/i }).click(),
  ]);
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get('state'), state);
  assert.equal(landed.searchParams.get('error'), null);
  const code = landed.searchParams.get('code');
  assert.ok(code, 'a code came back');
  assert.equal(client.hits.filter((h) => h.url.startsWith('/callback')).length, 1);
  await context.close();

  // 4. The app exchanges the code with its verifier (RFC 7636 §4.5).
  const token = await exchange(code, verifier);
  assert.equal(token.status, 200, JSON.stringify(token.body));
  assert.equal(token.headers.get('cache-control'), 'no-store');
  const body = token.body;
  assert.ok(body.access_token);
  assert.ok(body.refresh_token);
  assert.equal(body.expires_in > 0, true);
  assert.deepEqual(body.scope.split(' ').sort(), ['email', 'openid', 'profile']);

  // 5. The id_token (OIDC Core §3.1.3.7): signed by a key of the JWKS, for this client, this nonce.
  const idClaims = verifyJwt(body.id_token, await lk.jwks());
  assert.equal(idClaims.iss, lk.issuer);
  assert.equal(idClaims.aud, app.clientId);
  assert.equal(idClaims.nonce, nonce);
  assert.equal(idClaims.sub, users.alice.info.sub);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(idClaims.exp > now && idClaims.iat <= now + 5 && idClaims.auth_time <= now + 5);
  assert.equal(idClaims.email, 'alice@example.org');

  // 6. userinfo with the access token: the same user.
  const info = await fetch(lk.url('/oauth2/userinfo'), { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(info.status, 200);
  const claims = await info.json();
  assert.equal(claims.sub, users.alice.info.sub);
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(claims.email, 'alice@example.org');

  // 7. The code was single-use.
  const replay = await exchange(code, verifier);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');
});

test('a public client without PKCE is sent back with invalid_request, not a code', async () => {
  const context = await world.browser.newContext();
  const page = await context.newPage();
  const state = 'no-pkce';
  await page.goto(
    authorizeUrl(world, {
      response_type: 'code',
      client_id: world.clients.app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'profile',
      state,
    }),
  );
  // The server may check the request before or after sign-in (Open edX signs in first).
  if (await page.getByLabel(/^password$/i).count()) await fillLogin(page, world.users.bob);
  const landed = new URL(page.url());
  assert.ok(page.url().startsWith(world.redirectUri), `expected a redirect to the client, got ${page.url()}`);
  assert.equal(landed.searchParams.get('error'), 'invalid_request');
  assert.equal(landed.searchParams.get('state'), state);
  assert.equal(landed.searchParams.get('code'), null);
  await context.close();
});
