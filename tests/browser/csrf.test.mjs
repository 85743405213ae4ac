// Scenario 3: forms that other sites post to Latchkey without the CSRF token are refused (403),
// whether the browser sends Latchkey's cookies along (another origin of the same site: a sibling
// subdomain in production) or not (another site: SameSite=Lax keeps them back).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COOKIES, authorizeUrl, cookieJar, pkce, signIn, startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

/** Opens the forging page; returns the response Latchkey gave to the form's POST. */
async function forge(page, site, target, fields = {}) {
  const posted = page.waitForResponse((r) => r.url() === world.lk.url(target) && r.request().method() === 'POST');
  const q = new URLSearchParams({ __target: target, ...fields });
  await page.goto(site.url(`/?${q}`));
  const response = await posted;
  await page.waitForLoadState();
  return response;
}

async function sessionAlive(context) {
  // What an MFE does to learn whether it is signed in: a JWT refresh with the session cookie.
  const r = await context.request.post(world.lk.url('/login_refresh'));
  return r.status() === 200;
}

test('a login form posted from another site without the CSRF token is refused and signs no one in', async () => {
  const { attacker, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  // Login CSRF: the attacker would sign the victim into the attacker's account.
  const response = await forge(page, attacker, '/login', { username: users.bob.username, password: users.bob.password });
  assert.equal(response.status(), 403);
  const jar = await cookieJar(context, world.lk);
  assert.equal(jar[COOKIES.session], undefined, 'no session cookie');
  assert.equal(jar[COOKIES.headerPayload], undefined, 'no JWT cookie');
  assert.equal(await sessionAlive(context), false);
  await context.close();
});

test('a logout form posted from another origin of the same site, cookies and all, is refused', async () => {
  const { lk, sibling, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await signIn(page, lk, users.alice);
  assert.equal(await sessionAlive(context), true);

  const response = await forge(page, sibling, '/logout');
  // The browser did send the session cookie (same site): the refusal is the CSRF check's.
  const sent = (await response.request().allHeaders()).cookie ?? '';
  assert.match(sent, new RegExp(`(^|; )${COOKIES.session}=`), `the forged POST carried the session cookie: ${sent}`);
  assert.equal(response.status(), 403);
  assert.equal(new URL(page.url()).origin, lk.base, 'the refusal is shown by Latchkey');
  assert.equal(await sessionAlive(context), true, 'the forged logout did not end the session');
  const jar = await cookieJar(context, lk);
  assert.ok(jar[COOKIES.session] && jar[COOKIES.signature], 'the cookies are still there');
  await context.close();
});

test('a logout form posted from another site is refused', async () => {
  const { lk, attacker, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await signIn(page, lk, users.alice);
  const response = await forge(page, attacker, '/logout');
  assert.equal(response.status(), 403);
  assert.equal(await sessionAlive(context), true);
  await context.close();
});

test('a consent form posted from another origin of the same site is refused and grants nothing', async () => {
  const { lk, sibling, users, clients, client } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await signIn(page, lk, users.alice);
  const params = {
    response_type: 'code',
    client_id: clients.app.clientId,
    redirect_uri: world.redirectUri,
    scope: 'profile email',
    state: 'forged',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  };
  const hits = client.hits.length;
  const response = await forge(page, sibling, '/oauth2/authorize', { ...params, decision: 'allow' });
  assert.equal(response.status(), 403);
  assert.equal(client.hits.length, hits, 'no code reached the client');
  // Nothing was remembered: the user is still asked.
  await page.goto(authorizeUrl(world, params));
  await page.getByRole('button', { name: /allow/i }).waitFor();
  assert.equal(client.hits.length, hits);
  await context.close();
});
