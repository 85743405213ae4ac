// Scenario 2: signing in on the login page sets the session cookie and the two JWT cookies of
// product.md "Cookies for MFEs" with their attributes; a page script on the platform's site reads
// the header.payload cookie and never the signature; `/login_refresh` renews both; logout removes
// them all.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COOKIES, JWT_LIFETIME, cookieJar, fillLogin, setCookies, signIn, startWorld, verifyJwt } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

// A page of our own at Latchkey's origin (the browser never asks the server for it): its script
// makes same-origin calls, as a page of the platform's own domain does.
const PROBE = '/__browser-test-probe';

async function openProbe(page) {
  await page.route(world.lk.url(PROBE), (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>probe</title><p>probe</p>' }),
  );
  await page.goto(world.lk.url(PROBE));
}

async function post(page, path, headers = {}) {
  const responded = page.waitForResponse((r) => r.url() === world.lk.url(path));
  const result = await page.evaluate(
    async ([p, h]) => {
      const r = await fetch(p, { method: 'POST', credentials: 'same-origin', headers: h });
      const text = await r.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text for the assertion message
      }
      return { status: r.status, body };
    },
    [path, headers],
  );
  return { ...result, response: await responded };
}

function byName(lines) {
  return Object.fromEntries(lines.map((c) => [c.name, c]));
}

function assertJwtCookieAttributes(set) {
  for (const name of [COOKIES.headerPayload, COOKIES.signature]) {
    const c = set[name];
    assert.ok(c, `${name} is set`);
    assert.equal(c.attributes.path, '/', `${name}: Path=/`);
    assert.equal(String(c.attributes.samesite).toLowerCase(), 'lax', `${name}: SameSite=Lax`);
    assert.equal(Number(c.attributes['max-age']), JWT_LIFETIME, `${name}: Max-Age is the JWT lifetime`);
    assert.equal(c.attributes.secure, undefined, `${name}: not Secure on an http issuer`);
    assert.equal(c.attributes.domain, undefined, `${name}: host-only when no shared domain is configured`);
  }
  assert.equal(set[COOKIES.headerPayload].attributes.httponly, undefined, 'header.payload is readable by JavaScript');
  assert.equal(set[COOKIES.signature].attributes.httponly, true, 'the signature is HttpOnly');
}

async function jwtFromJar(context) {
  const jar = await cookieJar(context, world.lk);
  const hp = jar[COOKIES.headerPayload];
  const sig = jar[COOKIES.signature];
  assert.ok(hp && sig, `both JWT cookies are in the browser: ${Object.keys(jar)}`);
  assert.equal(hp.value.split('.').length, 2, 'header.payload is two parts');
  assert.equal(sig.value.includes('.'), false, 'the signature is one part');
  return { jar, jwt: `${hp.value}.${sig.value}` };
}

test('login, JWT cookies, a page script, login_refresh and logout', async () => {
  const { lk, users, mfe } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  const jwks = await lk.jwks();

  // --- login: 302 to `next` (default /), the cookies on that answer.
  const login = await signIn(page, lk, users.alice);
  assert.equal(login.status(), 302);
  assert.equal(login.headers()['cache-control'], 'no-store');
  const set = byName(await setCookies(login));
  assertJwtCookieAttributes(set);
  const session = set[COOKIES.session];
  assert.ok(session, 'a session cookie is set');
  assert.equal(session.attributes.httponly, true, 'the session cookie is HttpOnly');
  assert.equal(String(session.attributes.samesite).toLowerCase(), 'lax');
  assert.equal(session.attributes['max-age'], undefined, 'without "remember" the session cookie ends with the browser');
  assert.equal(session.attributes.expires, undefined);

  // What the browser kept agrees with the header.
  const { jar, jwt } = await jwtFromJar(context);
  assert.equal(jar[COOKIES.headerPayload].httpOnly, false);
  assert.equal(jar[COOKIES.signature].httpOnly, true);
  assert.equal(jar[COOKIES.session].httpOnly, true);
  for (const c of [jar[COOKIES.headerPayload], jar[COOKIES.signature]]) {
    assert.equal(c.path, '/');
    assert.equal(c.sameSite, 'Lax');
    const left = c.expires - Date.now() / 1000;
    assert.ok(left > JWT_LIFETIME - 30 && left <= JWT_LIFETIME + 1, `${c.name} expires in ${left} s`);
  }
  // The two cookies are one JWT, signed by Latchkey, as the password grant gives it to the
  // login service (product.md "Cookies for MFEs").
  const claims = verifyJwt(jwt, jwks);
  assert.equal(claims.iss, lk.issuer);
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(claims.sub, users.alice.info.sub);
  assert.equal(claims.grant_type, 'password');
  assert.ok(claims.filters.includes('user:me'), JSON.stringify(claims.filters));
  assert.equal(claims.exp - claims.iat, JWT_LIFETIME);

  // --- a page script of the platform's site (the MFE, same host) reads header.payload, not the
  // signature, not the session.
  await page.goto(mfe.url('/'));
  const seen = await page.evaluate(() => window.readCookies());
  assert.equal(seen[COOKIES.headerPayload], jar[COOKIES.headerPayload].value);
  assert.equal(seen[COOKIES.signature], undefined, 'the signature cookie is hidden from scripts');
  assert.equal(seen[COOKIES.session], undefined, 'the session cookie is hidden from scripts');
  const payload = JSON.parse(Buffer.from(seen[COOKIES.headerPayload].split('.')[1], 'base64url').toString());
  assert.equal(payload.preferred_username, 'alice', 'the script can read who is signed in');

  // --- /login_refresh renews both cookies (a new JWT: wait for the next second of `iat`).
  await new Promise((r) => setTimeout(r, 1100));
  await openProbe(page);
  const refreshed = await post(page, '/login_refresh');
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const now = Math.floor(Date.now() / 1000);
  assert.equal(refreshed.body.expires_in, JWT_LIFETIME);
  assert.ok(Math.abs(refreshed.body.expires_epoch_seconds - (now + JWT_LIFETIME)) <= 5, JSON.stringify(refreshed.body));
  assertJwtCookieAttributes(byName(await setCookies(refreshed.response)));
  const renewed = await jwtFromJar(context);
  assert.notEqual(renewed.jwt, jwt, 'a new JWT');
  const renewedClaims = verifyJwt(renewed.jwt, jwks);
  assert.ok(renewedClaims.iat > claims.iat);
  assert.equal(renewedClaims.exp, refreshed.body.expires_epoch_seconds);
  assert.equal(renewedClaims.preferred_username, 'alice');

  // --- logout (a CSRF-protected POST, the token from the CSRF endpoint) removes them all.
  const token = await page.evaluate(async () => (await (await fetch('/csrf/api/v1/token')).json()).csrfToken);
  assert.ok(token, 'the CSRF endpoint gives a token');
  const out = await post(page, '/logout', { 'X-CSRFToken': token });
  assert.ok(out.status < 400, `logout answered ${out.status}: ${JSON.stringify(out.body)}`);
  const left = await cookieJar(context, lk);
  // Every cookie Latchkey set, the CSRF one included (a new sign-in gets a new secret anyway).
  assert.deepEqual(Object.keys(left), [], 'no cookie of Latchkey is left after logout');

  // --- the session is over on the server too: a refresh is refused.
  const refused = await post(page, '/login_refresh');
  assert.equal(refused.status, 401);
  await context.close();
});

test('login_refresh with a stale session cookie answers 401 and deletes the JWT cookies', async () => {
  const { lk, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await signIn(page, lk, users.bob);
  // The JWT cookies stay, the session cookie is replaced by one the server never issued.
  const jar = await cookieJar(context, lk);
  await context.addCookies([{ ...jar[COOKIES.session], value: 'not-a-session-the-server-knows' }]);
  await openProbe(page);
  const refused = await post(page, '/login_refresh');
  assert.equal(refused.status, 401);
  const left = await cookieJar(context, lk);
  assert.equal(left[COOKIES.headerPayload], undefined);
  assert.equal(left[COOKIES.signature], undefined);
  await context.close();
});

test('"keep me signed in" makes the session cookie outlive the browser: 14 days', async () => {
  const { lk, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  await page.goto(lk.url('/login'));
  await page.getByLabel(/keep me signed in|remember/i).check();
  const login = await fillLogin(page, users.bob);
  assert.equal(login.status(), 302);
  const session = byName(await setCookies(login))[COOKIES.session];
  assert.equal(Number(session.attributes['max-age']), 14 * 24 * 3600);
  assert.equal(session.attributes.httponly, true);
  const kept = (await cookieJar(context, lk))[COOKIES.session];
  assert.ok(kept.expires > Date.now() / 1000 + 13 * 24 * 3600, 'the browser keeps it for days');
  await context.close();
});
