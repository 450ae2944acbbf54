// Browsers must be able to read every refusal (issue 20, item 6). With authentication on,
// the JWT authorizer answers 401 before any function runs (API Gateway, or the local
// server's authorizer that mirrors it). A front end whose access token expired has to
// read that 401 to ask its user to sign in again; without CORS headers on it, all the
// page gets is a network error. Headless Debian Chromium loads the livekit-client page
// from an allowed origin and from another one, with the loopback OIDC issuer the auth
// wire tests use (tests/node/oidc-issuer.mjs) minting the users' access tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { TokenVerifier } from 'livekit-server-sdk';
import { startLocalServer, API_KEY, API_SECRET, CONFORMANCE_DIR } from './lib/local-server.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { Recorder, installedVersion } from './lib/matrix.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PAGE_DIR = path.join(CONFORMANCE_DIR, 'page');
const ISSUER_SCRIPT = path.resolve(CONFORMANCE_DIR, '../node/oidc-issuer.mjs');
const AUDIENCE = 'browser-app';
const clientVersion = installedVersion('livekit-client');
let browserVersion = '?';
const row = (route, check) => () => ({
  client: `livekit-client (npm) in headless Chromium ${browserVersion}`,
  version: clientVersion,
  route,
  check,
});
const matrix = new Recorder('browser-auth-refusals');

let issuer, allowedSite, otherSite, server, browser;

/** The loopback OIDC issuer: prints {"issuer": url} once it listens; exits with its stdin. */
async function startIssuer() {
  const child = spawn(process.execPath, [ISSUER_SCRIPT, JSON.stringify({ clients: {}, exitWithStdin: true })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = await Promise.race([
    new Promise((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve([l]))),
    new Promise((_, reject) => setTimeout(() => reject(new Error('OIDC issuer did not start within 10 s')), 10_000)),
  ]);
  const url = JSON.parse(line).issuer;
  return {
    url,
    /** A signed-in user's access token; ttlSeconds < 0: already expired. */
    async mint(ttlSeconds) {
      const claims = { sub: 'user-1', aud: AUDIENCE, scope: 'livekit/join', name: 'Jane Doe' };
      const response = await fetch(`${url}/test/mint`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ claims, ttlSeconds }),
      });
      assert.equal(response.status, 200);
      return (await response.json()).token;
    },
    stop: () => child.stdin.end(),
  };
}

before(async () => {
  assert.ok(existsSync(path.join(PAGE_DIR, 'dist/main.js')), 'page/dist/main.js missing: run `node build.mjs` first');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  issuer = await startIssuer();
  allowedSite = await startStaticServer(PAGE_DIR);
  otherSite = await startStaticServer(PAGE_DIR);
  server = await startLocalServer({
    allowedOrigins: [allowedSite.origin],
    env: { AUTH_MODE: 'jwt', AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: AUDIENCE },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  browserVersion = browser.version();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await allowedSite?.stop();
  await otherSite?.stop();
  issuer?.stop();
  matrix.write();
});

async function openPage(site) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => window.conformance !== undefined);
  return { page, close: () => context.close() };
}

/** fetch() in the page, as a front end calls /token: what the page's script can read. */
function pageFetch(page, url, init) {
  return page.evaluate(async ({ url, init }) => {
    try {
      const response = await fetch(url, init);
      return { ok: true, status: response.status, body: await response.text() };
    } catch (e) {
      return { ok: false, name: e.name, message: e.message };
    }
  }, { url, init });
}

/** The two ways a page asks for a token: the seed contract (GET) and LiveKit's standard POST. */
const calls = (bearer) => {
  const headers = bearer ? { authorization: `Bearer ${bearer}` } : {};
  return [
    ['GET', `/token?room=auth-room&participant=Jane`, { headers }],
    ['POST', '/token', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"room_name":"auth-room"}' }],
  ];
};

matrix.test(test, 'an expired access token gives the allowed origin a readable 401', row('GET + POST /token', 'AUTH_MODE=jwt, allowed origin: an expired or missing access token → the page reads 401 and our JSON {"error":{"code":"unauthenticated"}} (the authorizer\'s refusal carries CORS headers); a valid one → 200/201'), async (t) => {
  const p = await openPage(allowedSite);
  try {
    const expired = await issuer.mint(-60);
    for (const [what, bearer] of [['expired', expired], ['missing', null]]) {
      for (const [method, route, init] of calls(bearer)) {
        const r = await pageFetch(p.page, `${server.url}${route}`, init);
        assert.equal(r.ok, true, `${method} with ${what} token: the page could not read the answer: ${r.name}: ${r.message}`);
        assert.equal(r.status, 401, `${method} with ${what} token`);
        assert.equal(JSON.parse(r.body).error.code, 'unauthenticated', r.body);
        t.diagnostic(`${method} ${what}: ${r.status} ${r.body}`);
      }
    }
    // The same page and calls with a valid token get their tokens: the 401 above is the
    // token's doing, not the setup's.
    const valid = await issuer.mint(600);
    const statuses = [];
    for (const [, route, init] of calls(valid)) statuses.push((await pageFetch(p.page, `${server.url}${route}`, init)).status);
    assert.deepEqual(statuses, [200, 201]);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'TokenSource.endpoint with an expired access token surfaces our 401', row('POST /token', 'AUTH_MODE=jwt, allowed origin: TokenSource.endpoint(url, {headers: {Authorization}}) with an expired token rejects with "received 401 / …unauthenticated…", which the app can act on; a valid token → verified LiveKit token'), async () => {
  const p = await openPage(allowedSite);
  try {
    const url = `${server.url}/token`;
    const expired = await issuer.mint(-60);
    await p.page.evaluate(({ url, token }) => window.conformance.createEndpointSource('expired', url, { headers: { Authorization: `Bearer ${token}` } }), { url, token: expired });
    const [refused] = await p.page.evaluate(() => window.conformance.fetchSteps('expired', { roomName: 'auth-room' }));
    assert.equal(refused.ok, false);
    assert.match(refused.message, /received 401 \/ .*unauthenticated/);

    const valid = await issuer.mint(600);
    await p.page.evaluate(({ url, token }) => window.conformance.createEndpointSource('valid', url, { headers: { Authorization: `Bearer ${token}` } }), { url, token: valid });
    const [accepted] = await p.page.evaluate(() => window.conformance.fetchSteps('valid', { roomName: 'auth-room' }));
    assert.equal(accepted.ok, true, `${accepted.name}: ${accepted.message}`);
    const claims = await new TokenVerifier(API_KEY, API_SECRET).verify(accepted.participantToken);
    assert.equal(claims.video.room, 'auth-room');
    assert.equal(claims.sub, 'user:user-1', 'the identity comes from the verified subject');
  } finally {
    await p.close();
  }
});

matrix.test(test, 'an origin not allowed cannot read the 401', row('GET + POST /token', 'AUTH_MODE=jwt, origin not in ALLOWED_ORIGINS: fetch() rejects (TypeError) for an expired token, and TokenSource.endpoint fails with "Failed to fetch": the refusal tells that origin nothing'), async () => {
  const p = await openPage(otherSite);
  try {
    const expired = await issuer.mint(-60);
    for (const [method, route, init] of calls(expired)) {
      const r = await pageFetch(p.page, `${server.url}${route}`, init);
      assert.equal(r.ok, false, `${method}: the page read ${r.status} ${r.body}`);
      assert.equal(r.name, 'TypeError', `${method}: ${r.message}`);
    }
    const url = `${server.url}/token`;
    await p.page.evaluate(({ url, token }) => window.conformance.createEndpointSource('other', url, { headers: { Authorization: `Bearer ${token}` } }), { url, token: expired });
    const [r] = await p.page.evaluate(() => window.conformance.fetchSteps('other', { roomName: 'auth-room' }));
    assert.equal(r.ok, false);
    assert.equal(r.name, 'TypeError');
    assert.match(r.message, /Failed to fetch/);
  } finally {
    await p.close();
  }
});
