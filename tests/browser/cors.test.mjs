// Scenario 5: an MFE on a configured origin calls Latchkey with credentials through CORS, as
// frontend-platform does (`/login_refresh` with its USE-JWT-COOKIE header, the CSRF token, a
// CSRF-protected logout); an origin that is not configured gets nothing a script can read.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COOKIES, JWT_LIFETIME, cookieJar, signIn, startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

async function signedInOn(site) {
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await signIn(page, world.lk, world.users.alice);
  await page.goto(site.url('/'));
  return { context, page };
}

test('the MFE origin refreshes the JWT cookies with credentials through CORS', async () => {
  const { lk, mfe } = world;
  const { context, page } = await signedInOn(mfe);
  const before = (await cookieJar(context, lk))[COOKIES.signature].value;
  await new Promise((r) => setTimeout(r, 1100)); // a new second of `iat`: a new signature

  const answered = page.waitForResponse((r) => r.url() === lk.url('/login_refresh') && r.request().method() === 'POST');
  const result = await page.evaluate(() => window.refreshJwt());
  assert.equal(result.ok, true, `the browser let the MFE read the answer: ${result.error}`);
  assert.equal(result.status, 200, JSON.stringify(result.body));
  assert.equal(result.body.expires_in, JWT_LIFETIME);
  const headers = (await answered).headers();
  assert.equal(headers['access-control-allow-origin'], mfe.origin, 'the exact origin, never *');
  assert.equal(headers['access-control-allow-credentials'], 'true');
  const after = (await cookieJar(context, lk))[COOKIES.signature].value;
  assert.notEqual(after, before, 'the browser stored the renewed cookies of a cross-origin answer');
  // The script sees the renewed header.payload, never the signature.
  const seen = await page.evaluate(() => window.readCookies());
  assert.equal(seen[COOKIES.headerPayload], (await cookieJar(context, lk))[COOKIES.headerPayload].value);
  assert.equal(seen[COOKIES.signature], undefined);
  await context.close();
});

test('the MFE origin fetches a CSRF token and logs out through CORS', async () => {
  const { lk, mfe } = world;
  const { context, page } = await signedInOn(mfe);
  const token = await page.evaluate(() => window.callLatchkey('/csrf/api/v1/token'));
  assert.equal(token.ok, true, token.error);
  assert.equal(token.status, 200);
  assert.ok(token.body.csrfToken);
  const out = await page.evaluate(
    (csrf) => window.callLatchkey('/logout', { method: 'POST', headers: { 'X-CSRFToken': csrf } }),
    token.body.csrfToken,
  );
  assert.equal(out.ok, true, out.error);
  assert.ok(out.status < 400, `logout answered ${out.status}: ${JSON.stringify(out.body)}`);
  const jar = await cookieJar(context, lk);
  assert.equal(jar[COOKIES.session], undefined);
  assert.equal(jar[COOKIES.headerPayload], undefined);
  assert.equal(jar[COOKIES.signature], undefined);
  await context.close();
});

test('an origin that is not configured cannot refresh through CORS', async () => {
  const { lk, stranger } = world;
  const { context, page } = await signedInOn(stranger);
  const before = await cookieJar(context, lk);
  const result = await page.evaluate(() => window.refreshJwt());
  assert.equal(result.ok, false, `the browser must block the answer, got ${JSON.stringify(result)}`);
  assert.match(result.error, /TypeError/);
  const after = await cookieJar(context, lk);
  assert.equal(after[COOKIES.signature].value, before[COOKIES.signature].value, 'nothing was refreshed');
  await context.close();
});

test('preflights: the configured origin with its headers, never a wildcard, nothing for others', async () => {
  const { lk, mfe, stranger } = world;
  const preflight = (origin, headers) =>
    fetch(lk.url('/login_refresh'), {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': headers,
      },
    });
  const ok = await preflight(mfe.origin, 'use-jwt-cookie,x-csrftoken,content-type');
  assert.ok(ok.status === 200 || ok.status === 204, `preflight answered ${ok.status}`);
  assert.equal(ok.headers.get('access-control-allow-origin'), mfe.origin);
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
  const allowed = (ok.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
  for (const h of ['use-jwt-cookie', 'x-csrftoken', 'content-type']) assert.ok(allowed.includes(h), `${h} in ${allowed}`);
  assert.match(ok.headers.get('vary') ?? '', /origin/i, 'answers per origin must not be shared by caches');

  for (const origin of [stranger.origin, `http://localhost:${mfe.port}`, `${mfe.origin}.evil.example`, 'null']) {
    const no = await preflight(origin, 'use-jwt-cookie');
    const acao = no.headers.get('access-control-allow-origin');
    assert.ok(acao === null, `${origin}: allowed as ${acao}`);
    assert.equal(no.headers.get('access-control-allow-credentials'), null, `${origin}: credentials allowed`);
  }
});
