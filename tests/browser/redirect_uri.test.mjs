// Scenario 4: an authorization request whose client or redirect URI is not registered stays on
// Latchkey's error page: the browser is never sent anywhere (RFC 6749 §4.1.2.1, an open
// redirector otherwise), with or without a session.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authorizeUrl, fillLogin, pkce, signIn, startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

function cases() {
  const { client, clients, redirectUri } = world;
  return [
    ['another path', { redirect_uri: client.url('/elsewhere') }],
    ['an extra path segment', { redirect_uri: `${redirectUri}/more` }],
    ['an extra query', { redirect_uri: `${redirectUri}?next=evil` }],
    ['a fragment', { redirect_uri: `${redirectUri}#frag` }],
    ['another port', { redirect_uri: `http://127.0.0.1:${world.attacker.port}/callback` }],
    ['another host', { redirect_uri: `http://localhost:${client.port}/callback` }],
    ['an unknown client', { client_id: 'no-such-client' }],
    ['an unknown client with the registered URI', { client_id: `${clients.app.clientId}x` }],
  ];
}

async function tryAuthorize(context, overrides) {
  const { challenge } = pkce();
  const page = await context.newPage();
  const elsewhere = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(world.lk.base)) elsewhere.push(r.url());
  });
  const response = await page.goto(
    authorizeUrl(world, {
      response_type: 'code',
      client_id: world.clients.app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'profile',
      state: 'xyz',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    }),
  );
  return { page, response, elsewhere };
}

for (const signedIn of [true, false]) {
  test(`a wrong client or redirect URI stays on Latchkey's error page (${signedIn ? 'signed in' : 'no session'})`, async () => {
    const before = world.client.hits.length;
    for (const [what, overrides] of cases()) {
      const context = await world.browser.newContext();
      if (signedIn) await signIn(await context.newPage(), world.lk, world.users.alice);
      const { page, response, elsewhere } = await tryAuthorize(context, overrides);
      let shown = response;
      if (!signedIn && (await page.getByLabel(/^password$/i).count())) {
        // The server may ask who the user is first (Open edX does); then the error must follow.
        const answered = page.waitForResponse((r) => r.url().startsWith(world.lk.url('/oauth2/authorize')));
        await fillLogin(page, world.users.alice);
        shown = await answered;
      }
      assert.equal(new URL(page.url()).origin, world.lk.base, `${what}: still on Latchkey (${page.url()})`);
      assert.equal(shown.status(), 400, `${what}: a 400 error page`);
      assert.match(shown.headers()['content-type'], /text\/html/, `${what}: a page, not a redirect or JSON`);
      assert.deepEqual(elsewhere, [], `${what}: the browser asked nothing of another site`);
      assert.equal(await page.getByLabel(/^password$/i).count(), 0, `${what}: an error page, not the login page`);
      await context.close();
    }
    assert.equal(world.client.hits.length, before, 'the client site was never reached');
  });
}
