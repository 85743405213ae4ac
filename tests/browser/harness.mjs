// The world every browser scenario runs in: the real `latchkey` binary on a free port (its own
// folder, SQLite database and keys; users and clients made with its own CLI), three tiny sites
// next to it, and Debian's Chromium driven by playwright-core.
//
// The sites, all on this machine:
// - `mfe`: an MFE on the same site as Latchkey (same host, another port: another origin, so its
//   calls are cross-origin and go through CORS, yet the SameSite=Lax cookies go with them, as
//   apps.example.com's calls to example.com do). Its origin is configured as an MFE origin.
// - `stranger`: the same MFE page on an origin that is not configured.
// - `client`: a relying party's redirect target; it records what reached it.
// - `attacker`: a page on another site (localhost rather than 127.0.0.1) with forms that post to
//   Latchkey, and one on the same site but another origin, for cross-origin forgeries whose cookies
//   do go along.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const BIN = process.env.LATCHKEY_BIN || path.join(REPO, 'target/debug/latchkey');
export const CHROMIUM = process.env.LATCHKEY_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(HERE, 'screenshots');

// The machine has no network: without these Chromium's background services (updates, sync,
// QUIC probes, field trials) try to reach the internet and log failures or stall start-up.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

export const COOKIES = {
  session: 'sessionid',
  headerPayload: 'edx-jwt-cookie-header-payload',
  signature: 'edx-jwt-cookie-signature',
  csrf: 'csrftoken',
};

// A JWT lifetime unlike the 3600 s default, so that a cookie's Max-Age is seen to follow it.
export const JWT_LIFETIME = 1800;

export function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

export function jwtParts(token) {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}

/** RFC 7636 §4.1-4.2: a fresh verifier and its S256 challenge. */
export function pkce() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

const HASHES = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512', ES256: 'sha256', EdDSA: null };

/** Checks a JWT's signature against a JWKS; returns its claims or throws. */
export function verifyJwt(token, jwks) {
  const [h, p, s] = token.split('.');
  const { header, claims } = jwtParts(token);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
  if (!(header.alg in HASHES)) throw new Error(`unexpected alg ${header.alg}`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const options = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  const ok = crypto.verify(HASHES[header.alg], Buffer.from(`${h}.${p}`), options, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('bad JWT signature');
  return claims;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function toml(settings) {
  const lines = [];
  for (const [key, value] of Object.entries(settings)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      lines.push(`${key} = ${JSON.stringify(value)}`);
    }
  }
  for (const [table, values] of Object.entries(settings)) {
    if (values === null || typeof values !== 'object' || Array.isArray(values)) continue;
    lines.push(`[${table}]`);
    for (const [key, value] of Object.entries(values)) lines.push(`${key} = ${JSON.stringify(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One `latchkey serve` in a temporary folder, configured through a TOML file (LATCHKEY_CONFIG). */
export class Latchkey {
  constructor(settings) {
    this.settings = settings;
    this.workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-browser-'));
    this.configPath = path.join(this.workdir, 'latchkey.toml');
    this.logPath = path.join(this.workdir, 'serve.log');
    this.proc = null;
  }

  async init() {
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.issuer = `${this.base}/oauth2`;
    fs.writeFileSync(this.configPath, toml(this.settings));
    return this;
  }

  url(p) {
    return this.base + p;
  }

  env() {
    // A LATCHKEY_* variable of the calling shell (a PostgreSQL URL, say) must not leak in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
    env.LATCHKEY_CONFIG = this.configPath;
    return env;
  }

  cli(args, stdin) {
    const done = spawnSync(BIN, args, {
      cwd: this.workdir,
      env: this.env(),
      input: stdin,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (done.status !== 0) {
      throw new Error(`latchkey ${args.join(' ')} exited ${done.status}\n${done.stdout}\n${done.stderr}${done.error ?? ''}`);
    }
    return done.stdout;
  }

  createUser(username, password, { staff = false, name } = {}) {
    const args = ['user', 'create', '--username', username, '--email', `${username}@example.org`, '--password-stdin', '--json'];
    if (staff) args.push('--staff');
    if (name) args.push('--name', name);
    const info = JSON.parse(this.cli(args, `${password}\n`));
    return { username, email: `${username}@example.org`, password, info };
  }

  createClient(name, owner, grantType, { isPublic = false, secret, redirectUris = [], scopes, skipAuthorization = false } = {}) {
    const args = ['client', 'create', name, owner, '--grant-type', grantType, '--json'];
    if (isPublic) args.push('--public');
    if (secret) args.push('--client-secret', secret);
    if (redirectUris.length) args.push('--redirect-uris', redirectUris.join(' '));
    if (scopes) args.push('--scopes', scopes);
    if (skipAuthorization) args.push('--skip-authorization');
    const out = JSON.parse(this.cli(args));
    return { name, clientId: out.client_id, clientSecret: out.client_secret ?? null, redirectUris };
  }

  async start() {
    if (!fs.existsSync(BIN)) throw new Error(`no latchkey binary at ${BIN}: run 'cargo build -p latchkey' first`);
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${this.port}`, '--issuer', this.issuer], {
      cwd: this.workdir,
      env: this.env(),
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`latchkey serve exited ${this.proc.exitCode}:\n${this.log()}`);
      try {
        const r = await fetch(this.url('/health/ready'));
        if (r.status === 200) return this;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.proc.kill('SIGKILL');
    throw new Error(`latchkey serve never became ready:\n${this.log()}`);
  }

  /** SIGTERM; the server must exit 0 within 15 s (as the interop suite asks of it). */
  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    let timer;
    const timeout = new Promise((r) => {
      timer = setTimeout(() => r(null), 15_000);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === null) {
      proc.kill('SIGKILL');
      throw new Error(`latchkey did not stop within 15 s of SIGTERM:\n${this.log()}`);
    }
    if (result.code !== 0) throw new Error(`latchkey exited ${result.code ?? result.signal} on SIGTERM:\n${this.log()}`);
    fs.rmSync(this.workdir, { recursive: true, force: true });
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-8000);
    } catch {
      return '<no log>';
    }
  }

  async jwks() {
    const r = await fetch(this.url('/oauth2/jwks.json'));
    if (r.status !== 200) throw new Error(`jwks: ${r.status}`);
    return r.json();
  }
}

/** A tiny HTTP site on 127.0.0.1 (or the name given) that records the requests it answered. */
class Site {
  constructor(host, handler) {
    this.host = host;
    this.handler = handler;
    this.hits = [];
  }

  async start() {
    this.server = http.createServer((req, res) => {
      this.hits.push({ method: req.method, url: req.url, headers: req.headers });
      this.handler(req, res, this);
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.origin = `http://${this.host}:${this.port}`;
    return this;
  }

  url(p) {
    return this.origin + p;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

function html(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>test site</title></head><body>${body}</body></html>`);
}

// The MFE: a page script that shows what `document.cookie` lets it read, and the calls an MFE
// makes with frontend-platform (credentials included, its `USE-JWT-COOKIE` header, which makes
// the request a CORS preflighted one, as in production).
function mfePage(lk) {
  return `<h1>MFE</h1><pre id="cookies"></pre>
<script>
  const LATCHKEY = ${JSON.stringify(lk.base)};
  function readCookies() {
    return Object.fromEntries(document.cookie.split('; ').filter(Boolean).map((c) => {
      const i = c.indexOf('=');
      return [c.slice(0, i), c.slice(i + 1)];
    }));
  }
  document.getElementById('cookies').textContent = JSON.stringify(readCookies());
  window.readCookies = readCookies;
  window.callLatchkey = async (path, init) => {
    try {
      const r = await fetch(LATCHKEY + path, { credentials: 'include', ...init });
      const text = await r.text();
      let body = null;
      try { body = JSON.parse(text); } catch { body = text; }
      return { ok: true, status: r.status, body };
    } catch (e) {
      return { ok: false, error: String(e) };
    }
  };
  window.refreshJwt = () => window.callLatchkey('/login_refresh', { method: 'POST', headers: { 'USE-JWT-COOKIE': 'true' } });
</script>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A forged form, posted by a script on load as a malicious page would.
function forgedForm(action, fields) {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return `<form id="f" method="post" action="${escapeHtml(action)}">${inputs}</form><script>document.getElementById('f').submit()</script>`;
}

function attackerHandler(lk) {
  return (req, res) => {
    const u = new URL(req.url, 'http://x');
    const fields = Object.fromEntries(u.searchParams);
    const target = fields.__target;
    delete fields.__target;
    if (!target || !target.startsWith('/')) return html(res, 404, 'no such form');
    html(res, 200, forgedForm(lk.url(target), fields));
  };
}

/** Launches Debian's Chromium; every `newContext` of it is a fresh profile of its own. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  // playwright-core starts Chromium with a fresh temporary --user-data-dir of its own and removes it.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Settings that the browser flows need; the MFE origin is only known once its site listens. */
function settingsFor(mfeOrigin) {
  return {
    passwords: { memory_kib: 1024, iterations: 1 },
    jwt_cookie: { lifetime_secs: JWT_LIFETIME },
    cors: { origins: [mfeOrigin] },
  };
}

export const USERS = {
  alice: { password: 'alice-Pass-1', staff: true, name: 'Alice Liddell' },
  bob: { password: 'bob-Pass-1', name: 'Bob Builder' },
};

/**
 * Starts everything a scenario needs; `close()` stops it all and fails if Latchkey did not exit 0.
 */
export async function startWorld() {
  let lkRef = null;
  const mfe = await new Site('127.0.0.1', (req, res) => html(res, 200, mfePage(lkRef))).start();
  const stranger = await new Site('127.0.0.1', (req, res) => html(res, 200, mfePage(lkRef))).start();
  const client = await new Site('127.0.0.1', (req, res) => html(res, 200, '<h1>Client callback</h1>')).start();
  const lk = await new Latchkey(settingsFor(mfe.origin)).init();
  lkRef = lk;
  const attacker = await new Site('localhost', attackerHandler(lk)).start();
  const sibling = await new Site('127.0.0.1', attackerHandler(lk)).start();

  const users = {};
  for (const [name, u] of Object.entries(USERS)) {
    users[name] = lk.createUser(name, u.password, { staff: u.staff, name: u.name });
  }
  const redirectUri = client.url('/callback');
  const clients = {
    // A partner's single-page or native app: public, so PKCE S256 is mandatory.
    app: lk.createClient('Partner App', 'alice', 'authorization-code', {
      isPublic: true,
      redirectUris: [redirectUri],
    }),
    // Open edX's mobile apps: a public password-grant client whose tokens open WebViews.
    mobile: lk.createClient('mobile', 'alice', 'password', { isPublic: true }),
    // A service: its client_credentials JWTs must not open a browser session.
    service: lk.createClient('service', 'alice', 'client-credentials', { secret: 'service-secret-0123456789' }),
  };
  await lk.start();
  const browser = await launchBrowser();
  return {
    lk,
    mfe,
    stranger,
    client,
    attacker,
    sibling,
    users,
    clients,
    redirectUri,
    browser,
    async close() {
      await browser.close();
      for (const site of [mfe, stranger, client, attacker, sibling]) await site.stop();
      await lk.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// what a person does in the browser

/**
 * Fills Latchkey's login page (found by its labels, as a screen reader would), submits it and
 * waits for the page that follows to load; returns the response of the form's POST.
 * What follows a sign-in without `next` is `/`, which Latchkey itself does not serve (an Open edX
 * site's home is the LMS's): Chromium shows its own error page there, which is fine here.
 */
export async function fillLogin(page, user) {
  await page.getByLabel(/user ?name|e-?mail/i).fill(user.username);
  await page.getByLabel(/^password$/i).fill(user.password);
  // The next document to commit in this tab: the page after the redirect, or the form again.
  const navigated = page.waitForEvent('framenavigated', (f) => f === page.mainFrame());
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login');
  await page.getByRole('button', { name: /sign in|log ?in/i }).click();
  const response = await posted;
  await navigated;
  await page.waitForLoadState();
  return response;
}

/** Opens the login page and signs in; returns the response of the form's POST. */
export async function signIn(page, lk, user) {
  await page.goto(lk.url('/login'));
  return fillLogin(page, user);
}

export function authorizeUrl(world, params) {
  const u = new URL(world.lk.url('/oauth2/authorize'));
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** The cookies of the context that belong to Latchkey's host, by name. */
export async function cookieJar(context, lk) {
  return Object.fromEntries((await context.cookies(lk.base)).map((c) => [c.name, c]));
}

/** Every `Set-Cookie` line of a browser response, parsed (see setCookieLines). */
export async function setCookies(response) {
  const lines = (await response.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').map((h) => h.value);
  return setCookieLines(lines);
}

/** `Set-Cookie` lines split into name, value and attributes (lower-cased keys). */
export function setCookieLines(lines) {
  return lines.map((line) => {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const i = pair.indexOf('=');
    const attributes = {};
    for (const a of attrs) {
      const j = a.indexOf('=');
      if (j < 0) attributes[a.toLowerCase()] = true;
      else attributes[a.slice(0, j).toLowerCase()] = a.slice(j + 1);
    }
    return { name: pair.slice(0, i), value: pair.slice(i + 1), attributes, line };
  });
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
