// The world the scenarios stand on: Debian's Chromium, driven by playwright-core, reaches the
// real `latchkey` binary and the small sites around it, and runs their page scripts; the server
// stops cleanly (exit 0 on SIGTERM, checked by close()).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startWorld } from './harness.mjs';

let world;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.close();
});

test('Chromium loads what the real server serves', async () => {
  const page = await world.browser.newPage();
  const response = await page.goto(world.lk.url('/oauth2/jwks.json'));
  assert.equal(response.status(), 200);
  const shown = JSON.parse(await page.locator('body').innerText());
  assert.deepEqual(shown, await world.lk.jwks());
  assert.ok(shown.keys.length >= 1);
  await page.close();
});

test('the MFE page script runs in Chromium and reads the cookies of its site', async () => {
  const context = await world.browser.newContext();
  await context.addCookies([{ name: 'visible', value: 'yes', url: world.lk.base }, { name: 'hidden', value: 'no', url: world.lk.base, httpOnly: true }]);
  const page = await context.newPage();
  await page.goto(world.mfe.url('/'));
  // Cookies are per host, not per port: the MFE on the same host sees Latchkey's script-readable
  // cookies, as an MFE on the shared cookie domain does.
  assert.deepEqual(await page.evaluate(() => window.readCookies()), { visible: 'yes' });
  assert.deepEqual(world.mfe.hits.filter((h) => h.url === '/').map((h) => h.method), ['GET']);
  await context.close();
});

test('a forged form from the attacker site is posted by the browser', async () => {
  const context = await world.browser.newContext();
  const page = await context.newPage();
  const posted = page.waitForRequest((r) => r.url() === world.lk.url('/health/live') && r.method() === 'POST');
  await page.goto(world.attacker.url('/?__target=/health/live&field=value'));
  const request = await posted;
  assert.equal(request.postData(), 'field=value');
  assert.equal(await request.headerValue('origin'), world.attacker.origin, 'posted from the other site');
  await context.close();
});
