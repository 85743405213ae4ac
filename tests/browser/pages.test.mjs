// Latchkey's own pages as a person sees them, at a desktop and a phone width: the login page
// (empty and after a wrong password), the consent page and the error page. Each is
// screenshotted into tests/browser/screenshots/ (not committed) for a person to look at, fits
// its width without sideways scrolling, can be used by its labels and roles, and carries the
// headers every page must have.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { VIEWPORTS, authorizeUrl, fillLogin, pkce, screenshot, startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

function assertPageHeaders(response, what) {
  const h = response.headers();
  assert.equal(h['cache-control'], 'no-store', `${what}: Cache-Control`);
  assert.match(h['content-security-policy'] ?? '', /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.match(h['content-type'] ?? '', /^text\/html/, `${what}: a page`);
}

async function assertFits(page, what) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  assert.ok(scroll <= inner, `${what}: ${scroll}px wide in a ${inner}px window`);
  assert.equal(await page.locator('html').getAttribute('lang') !== null, true, `${what}: <html lang>`);
  assert.ok((await page.title()).trim().length > 0, `${what}: a title`);
}

for (const [device, viewport] of Object.entries(VIEWPORTS)) {
  test(`login, consent and error pages at ${device} width (${viewport.width}x${viewport.height})`, async () => {
    const { lk, clients, users } = world;
    const context = await world.browser.newContext({ viewport });
    const page = await context.newPage();
    const { challenge } = pkce();
    const authorize = authorizeUrl(world, {
      response_type: 'code',
      client_id: clients.app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'openid profile email',
      state: `pages-${device}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });

    // The login page, reached from the authorization request.
    const loginPage = page.waitForResponse((r) => r.url().startsWith(lk.url('/login')) && r.request().method() === 'GET');
    await page.goto(authorize);
    assertPageHeaders(await loginPage, 'login page');
    await page.getByLabel(/user ?name|e-?mail/i).waitFor();
    await assertFits(page, 'login page');
    await screenshot(page, `login-${device}`);

    // A wrong password: the same page again, 400, with an error that does not say whether the
    // account exists.
    const failed = page.waitForResponse((r) => r.url().startsWith(lk.url('/login')) && r.request().method() === 'POST');
    await fillLogin(page, { username: users.bob.username, password: 'not-the-password' });
    assert.equal((await failed).status(), 400);
    const refusal = await page.locator('body').innerText();
    assert.doesNotMatch(refusal, /no such (user|account)|does not exist|unknown user/i);
    assert.equal(await page.getByLabel(/^password$/i).inputValue(), '', 'the password is not sent back');
    await assertFits(page, 'login page with an error');
    await screenshot(page, `login-error-${device}`);

    // Then the right one: the consent page.
    const consentPage = page.waitForResponse((r) => r.url().startsWith(lk.url('/oauth2/authorize')) && r.request().method() === 'GET');
    await fillLogin(page, users.bob);
    assertPageHeaders(await consentPage, 'consent page');
    await page.getByRole('button', { name: /allow|authori[sz]e|approve|accept/i }).waitFor();
    await page.getByRole('button', { name: /deny|cancel|decline|refuse/i }).waitFor();
    await assertFits(page, 'consent page');
    await screenshot(page, `consent-${device}`);

    // The error page of an unregistered redirect URI.
    const error = await page.goto(authorizeUrl(world, { ...Object.fromEntries(new URL(authorize).searchParams), redirect_uri: world.client.url('/elsewhere') }));
    assert.equal(error.status(), 400);
    assertPageHeaders(error, 'error page');
    await assertFits(page, 'error page');
    await screenshot(page, `error-${device}`);
    await context.close();
  });
}

test('deny on the consent page sends access_denied and the state to the client', async () => {
  const { clients, users } = world;
  const context = await world.browser.newContext();
  const page = await context.newPage();
  const { challenge } = pkce();
  await page.goto(
    authorizeUrl(world, {
      response_type: 'code',
      client_id: clients.app.clientId,
      redirect_uri: world.redirectUri,
      scope: 'profile',
      state: 'deny-me',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
  );
  await fillLogin(page, users.alice);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(world.redirectUri)),
    page.getByRole('button', { name: /deny|cancel|decline|refuse/i }).click(),
  ]);
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get('error'), 'access_denied');
  assert.equal(landed.searchParams.get('state'), 'deny-me');
  assert.equal(landed.searchParams.get('code'), null);
  await context.close();
});
