// A real browser and LiveKit's own client SDK as the judge: headless Debian Chromium
// (driven by playwright-core, no browser download) loads a page bundled from npm
// livekit-client, served from one loopback origin, and calls the local server on another
// exactly as an app would: TokenSource.endpoint(url).fetch(options), and the seed
// contract fetch('/token?room&participant'). A third origin, not in ALLOWED_ORIGINS,
// must be refused by CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier } from 'livekit-server-sdk';
import { startLocalServer, API_KEY, API_SECRET, LIVEKIT_URL, ALLOWED_AGENT } from './lib/local-server.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { PAGE_DIR, clientVersion, launchChromium, row } from './lib/browser.mjs';
import { Recorder } from './lib/matrix.mjs';
import { claimProblems } from './lib/expect.mjs';

const matrix = new Recorder('browser-livekit-client');
const verifier = new TokenVerifier(API_KEY, API_SECRET);

let allowedSite, otherSite, server, browser;

before(async () => {
  allowedSite = await startStaticServer(PAGE_DIR);
  otherSite = await startStaticServer(PAGE_DIR);
  server = await startLocalServer({ allowedOrigins: [allowedSite.origin] });
  // launch() always uses a fresh temporary profile (its own --user-data-dir).
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await allowedSite?.stop();
  await otherSite?.stop();
  matrix.write();
});

/** A fresh page from `site`; records what the page sends to the token server. */
async function openPage(site) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const sent = [];
  page.on('request', (r) => {
    if (r.url().startsWith(server.url)) sent.push({ method: r.method(), url: r.url(), headers: r.headers(), body: r.postData() });
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => window.conformance !== undefined);
  assert.equal(await page.evaluate(() => window.conformance.version), clientVersion, 'page bundles the installed livekit-client');
  return { page, sent, errors, close: () => context.close() };
}

/** Server-side request log lines logged while fn runs. */
async function serverRequestsDuring(fn) {
  const before = server.requests().length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 100)); // let the log line arrive
  return { result, requests: server.requests().slice(before) };
}

const FULL_OPTIONS = {
  roomName: 'browser-room',
  participantName: 'Browser Jane',
  participantIdentity: 'browser-jane',
  participantMetadata: '{"plan":"pro"}',
  participantAttributes: { role: 'host', lang: 'en' },
  agentName: ALLOWED_AGENT,
  agentMetadata: '{"task":"subtitles"}',
};

matrix.test(test, 'TokenSource.endpoint: full options from an allowed origin', row('POST /token', 'TokenSource.endpoint().fetch({room, identity, name, metadata, attributes, agentName, agentMetadata}): SDK accepts the 201 reply; token carries them; serverUrl is the configured wss URL'), async (t) => {
  const p = await openPage(allowedSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('full', url), `${server.url}/token`);
    const [r] = await p.page.evaluate((o) => window.conformance.fetchSteps('full', o), FULL_OPTIONS);
    assert.equal(r.ok, true, `SDK rejected our reply: ${r.name}: ${r.message}`);
    assert.deepEqual(r.keys, ['participantToken', 'serverUrl'], 'what fetch() resolves to');
    assert.equal(r.serverUrl, LIVEKIT_URL);

    // What the SDK put on the wire: one POST, JSON, snake_case, agents nested in room_config.
    const posts = p.sent.filter((s) => s.method === 'POST');
    assert.equal(posts.length, 1);
    assert.equal(posts[0].headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(posts[0].body), {
      room_name: 'browser-room',
      participant_name: 'Browser Jane',
      participant_identity: 'browser-jane',
      participant_metadata: '{"plan":"pro"}',
      participant_attributes: { role: 'host', lang: 'en' },
      room_config: { agents: [{ agent_name: ALLOWED_AGENT, metadata: '{"task":"subtitles"}' }] },
    });
    t.diagnostic(`SDK sent: ${posts[0].body}`);

    const claims = await verifier.verify(r.participantToken);
    assert.deepEqual(
      claimProblems(claims, {
        room: 'browser-room', identity: 'browser-jane', name: 'Browser Jane', metadata: '{"plan":"pro"}',
        attributes: { role: 'host', lang: 'en' }, agents: [{ agent_name: ALLOWED_AGENT, metadata: '{"task":"subtitles"}' }],
      }),
      [],
    );
    assert.equal(claims.roomConfig.agents[0].agentName, ALLOWED_AGENT);
    // The SDK's own decoding of the token agrees.
    assert.equal(r.sdkPayload.video.room, 'browser-room');
    assert.equal(r.sdkPayload.roomConfig.agents[0].agentName, ALLOWED_AGENT);
    assert.deepEqual(p.errors, []);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'TokenSource.endpoint: no options sends {}', row('POST /token', 'TokenSource.endpoint().fetch({}): SDK sends {} and accepts the generated room/identity'), async () => {
  const p = await openPage(allowedSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('empty', url), `${server.url}/token`);
    const [r] = await p.page.evaluate(() => window.conformance.fetchSteps('empty', {}));
    assert.equal(r.ok, true, `${r.name}: ${r.message}`);
    assert.equal(p.sent.filter((s) => s.method === 'POST')[0].body, '{}');
    const claims = await verifier.verify(r.participantToken);
    assert.deepEqual(claimProblems(claims, { room: { prefix: 'room-' }, identity: { prefix: 'participant-' }, name: null, metadata: null, attributes: null, agents: null }), []);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'CORS preflight from the allowed origin passes', row('OPTIONS /token', 'allowed origin: the preflight of the JSON POST passes (204), then the POST is read'), async () => {
  const p = await openPage(allowedSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('pre', url), `${server.url}/token`);
    const { result, requests } = await serverRequestsDuring(() =>
      p.page.evaluate(() => window.conformance.fetchSteps('pre', { roomName: 'preflight-room' })),
    );
    assert.equal(result[0].ok, true, `${result[0].name}: ${result[0].message}`);
    assert.deepEqual(requests.map((r) => `${r.method} ${r.status}`), ['OPTIONS 204', 'POST 201']);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'TokenSource caches our token until it nears exp', row('POST /token', "SDK's cache accepts our exp/nbf: same options → no second request; force → new token"), async (t) => {
  const p = await openPage(allowedSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('cache', url), `${server.url}/token`);
    const steps = [{}, {}, { copy: true }, { force: true }];
    const r = await p.page.evaluate((s) => window.conformance.fetchSteps('cache', { roomName: 'cache-room', participantAttributes: { a: '1' } }, s), steps);
    const posts = () => p.sent.filter((s) => s.method === 'POST').length;
    assert.ok(r.every((x) => x.ok), JSON.stringify(r));
    assert.equal(r[1].participantToken, r[0].participantToken, 'same options object → cached token');
    assert.notEqual(r[3].participantToken, r[2].participantToken, 'force → fresh token');
    const copyRefetched = r[2].participantToken !== r[1].participantToken;
    t.diagnostic(`an equal copy of the options (attributes compared by reference) ${copyRefetched ? 'refetched' : 'hit the cache'}; POSTs sent: ${posts()}`);
    assert.equal(posts(), copyRefetched ? 3 : 2);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'a refused agent surfaces our 403 body to the app', row('POST /token', 'agentName not in ALLOWED_AGENT_NAMES: fetch() rejects with our 403 agent_not_allowed text'), async () => {
  const p = await openPage(allowedSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('deny', url), `${server.url}/token`);
    const [r] = await p.page.evaluate(() => window.conformance.fetchSteps('deny', { roomName: 'r', agentName: 'not-allowed-agent' }));
    assert.equal(r.ok, false);
    assert.match(r.message, /received 403 \/ .*agent_not_allowed/);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'TokenSource from an origin not allowed fails on CORS', row('OPTIONS /token', 'origin not in ALLOWED_ORIGINS: preflight 403, fetch() rejects, no POST reaches the server'), async () => {
  const p = await openPage(otherSite);
  try {
    await p.page.evaluate((url) => window.conformance.createEndpointSource('other', url), `${server.url}/token`);
    const { result, requests } = await serverRequestsDuring(() =>
      p.page.evaluate((o) => window.conformance.fetchSteps('other', o), FULL_OPTIONS),
    );
    assert.equal(result[0].ok, false, 'the SDK call must throw');
    assert.equal(result[0].name, 'TypeError');
    assert.match(result[0].message, /Failed to fetch/);
    assert.deepEqual(requests.map((r) => `${r.method} ${r.status} ${r.error_code}`), ['OPTIONS 403 origin_not_allowed']);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'seed contract: GET /token gives Room.connect-ready {url, token}', row('GET /token', 'fetch(/token?room&participant) → {token, url} ready for new Room().connect(url, token): wss URL, verified JWT'), async () => {
  const p = await openPage(allowedSite);
  try {
    const r = await p.page.evaluate((u) => window.conformance.seed(u, 'seed-room', 'Seed Sam'), `${server.url}/token`);
    assert.equal(r.ok, true, `${r.name}: ${r.message}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['participant', 'room', 'token', 'url']);
    assert.ok(r.body.url.startsWith('wss://'), r.body.url);
    assert.equal(r.body.url, LIVEKIT_URL);
    assert.equal(r.body.token.split('.').length, 3, 'a JWT');
    assert.equal(r.connectReady, true, 'page-side shape check for Room.connect');
    const claims = await verifier.verify(r.body.token);
    assert.deepEqual(claimProblems(claims, { room: 'seed-room', identity: 'Seed Sam', name: 'Seed Sam', metadata: null, attributes: null, agents: null }), []);
  } finally {
    await p.close();
  }
});

matrix.test(test, 'seed contract from an origin not allowed fails on CORS', row('GET /token', 'origin not in ALLOWED_ORIGINS: fetch(/token?room&participant) rejects (no Access-Control-Allow-Origin)'), async () => {
  const p = await openPage(otherSite);
  try {
    const r = await p.page.evaluate((u) => window.conformance.seed(u, 'seed-room', 'Seed Sam'), `${server.url}/token`);
    assert.equal(r.ok, false);
    assert.equal(r.name, 'TypeError');
  } finally {
    await p.close();
  }
});
