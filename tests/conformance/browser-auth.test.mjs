// Browsers must be able to read every refusal (issue 20, item 6). With authentication on,
// the JWT authorizer answers 401 before any function runs (API Gateway, or the local
// server's authorizer that mirrors it). A front end whose access token expired has to
// read that 401 to ask its user to sign in again; without CORS headers on it, all the
// page gets is a network error. Headless Debian Chromium loads the livekit-client page
// from an allowed origin and from another one, with the loopback OIDC issuer the auth
// wire tests use (tests/node/oidc-issuer.mjs) minting the users' access tokens.
//
// The waiting room (issue 29, docs/waiting-room.md) on that second server: a guest's page
// with a knock link knocks and waits through TokenSource.custom, the test (a moderator)
// lists and admits, and the page's TokenSource resolves with a token the Node SDK verifies.
//
// Room links (issue 20, docs/room-links.md), with a second local server that has them on:
// a signed-in editor's page creates a link, and a guest's page, opened at the link's URL,
// with no account and no bearer token, redeems it through livekit-client's
// TokenSource.endpoint(<api>/guest/token?link=…); livekit-server-sdk's TokenVerifier reads
// the guest token and its attribution (auth.invited_by, auth.owner for an application's
// link). A tampered or expired link gives the allowed origin's page a readable 401 with
// our JSON code, and another origin's page nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { TokenVerifier } from 'livekit-server-sdk';
import { startLocalServer, API_KEY, API_SECRET, CONFORMANCE_DIR, LIVEKIT_URL } from './lib/local-server.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { PAGE_DIR, launchChromium, row } from './lib/browser.mjs';
import { Recorder } from './lib/matrix.mjs';

const ISSUER_SCRIPT = path.resolve(CONFORMANCE_DIR, '../node/oidc-issuer.mjs');
const AUDIENCE = 'browser-app';
// An application that may only create room links (client credentials, Cognito-style: its
// access token has no `aud`, so AUTH_AUDIENCE lists its client id).
const LINK_APP = { id: 'scheduler', secret: 'scheduler-secret', scopes: ['livekit/links'] };
const LINK_KID = 'conformance-links';
const LINK_SECRET = 'room-link-secret-for-conformance-only-0123';
const matrix = new Recorder('browser-auth-refusals');

let issuer, allowedSite, otherSite, server, linkServer, browser;

/** The loopback OIDC issuer: prints {"issuer": url} once it listens; exits with its stdin. */
async function startIssuer() {
  const clients = { [LINK_APP.id]: { secret: LINK_APP.secret, scopes: LINK_APP.scopes } };
  const child = spawn(process.execPath, [ISSUER_SCRIPT, JSON.stringify({ clients, exitWithStdin: true })], {
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
    async mint(ttlSeconds, sub = 'user-1', extra = {}) {
      const claims = { sub, aud: AUDIENCE, scope: 'livekit/join', name: 'Jane Doe', ...extra };
      const response = await fetch(`${url}/test/mint`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ claims, ttlSeconds }),
      });
      assert.equal(response.status, 200);
      return (await response.json()).token;
    },
    /** An application's access token: the client-credentials grant, as a backend gets it. */
    async clientToken({ id, secret }) {
      const response = await fetch(`${url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }),
      });
      assert.equal(response.status, 200);
      return (await response.json()).access_token;
    },
    stop: () => child.stdin.end(),
  };
}

before(async () => {
  issuer = await startIssuer();
  allowedSite = await startStaticServer(PAGE_DIR);
  otherSite = await startStaticServer(PAGE_DIR);
  server = await startLocalServer({
    allowedOrigins: [allowedSite.origin],
    env: { AUTH_MODE: 'jwt', AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: AUDIENCE },
  });
  // Room links on. The join page is the test page itself, the link in its fragment.
  linkServer = await startLocalServer({
    allowedOrigins: [allowedSite.origin],
    env: {
      AUTH_MODE: 'jwt',
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: `${AUDIENCE},${LINK_APP.id}`,
      ROOM_LINKS: 'on',
      ROOM_LINK_URL: `${allowedSite.origin}/?room={room}#{link}`,
      ROOM_LINK_KEYS: `${LINK_KID}: ${LINK_SECRET}`,
      // The waiting room too: moderators by group, a guest asked again every second. No
      // LiveKit server runs here, so telling the moderators fails fast and the knock waits.
      LOBBY: 'on',
      LOBBY_POLL_SECONDS: '1',
      AUTH_ADMIN_CLAIM: 'groups=moderators',
      LIVEKIT_API_URL: 'http://127.0.0.1:9',
      LIVEKIT_API_TIMEOUT_MS: '200',
    },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await linkServer?.stop();
  await allowedSite?.stop();
  await otherSite?.stop();
  issuer?.stop();
  matrix.write();
});

async function openPage(site, url = `${site.origin}/`) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
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

// ---- Room links: a guest redeems with livekit-client, no account (issue 20) ----

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

/** A link signed with the deployment's key, for what the API will not make (an expired one). */
function signLink(claims) {
  const input = `${b64url({ typ: 'room-link+jwt', alg: 'HS256', kid: LINK_KID })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', LINK_SECRET).update(input).digest('base64url')}`;
}

/** The editor's page creates a link: fetch with the editor's bearer token, as a front end does. */
async function createInPage(page, room, ask, bearer) {
  const r = await pageFetch(page, `${linkServer.url}/rooms/${room}/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(ask),
  });
  assert.equal(r.ok, true, `the editor's page could not read the answer: ${r.name}: ${r.message}`);
  assert.equal(r.status, 201, r.body);
  return JSON.parse(r.body);
}

/**
 * The guest: a fresh browser context (no cookies, no token) opened at the link's URL. What
 * the SDK put on the wire is checked too: one POST /guest/token?link=<the link>, no
 * Authorization header, LiveKit's standard body (no room_link: the SDK cannot send it).
 */
async function guestJoins(url, options) {
  assert.ok(url.startsWith(`${allowedSite.origin}/?room=`), `the link's URL is the join page: ${url}`);
  const p = await openPage(allowedSite, url);
  const sent = [];
  p.page.on('request', (r) => {
    if (r.url().startsWith(`${linkServer.url}/guest/token`) && r.method() !== 'OPTIONS') sent.push(r);
  });
  try {
    const got = await p.page.evaluate(({ api, options }) => window.conformance.guestJoin(api, options), { api: `${linkServer.url}/guest/token`, options });
    assert.equal(sent.length, 1, `requests to /guest/token: ${sent.map((r) => r.method()).join(', ')}`);
    const [request] = sent;
    assert.equal(request.method(), 'POST');
    assert.equal(new URL(request.url()).searchParams.get('link'), got.link);
    const headers = await request.allHeaders();
    assert.equal(headers.authorization, undefined, 'the guest sends no bearer token');
    const body = request.postDataJSON();
    assert.equal(body.room_link, undefined, JSON.stringify(body));
    return { ...got, sentBody: body };
  } finally {
    await p.close();
  }
}

const verifier = () => new TokenVerifier(API_KEY, API_SECRET);

matrix.test(test, 'a guest redeems an editor\'s room link with TokenSource.endpoint', row('POST /guest/token', 'ROOM_LINKS=on: a signed-in editor\'s page creates a link (POST /rooms/{room}/links, bearer); a guest\'s page opened at its URL, no bearer, calls TokenSource.endpoint(/guest/token?link=…).fetch({participantName}) → serverUrl and a token TokenVerifier accepts for the link\'s room only, identity guest:<link_id>:…, auth.invited_by = the editor, auth.link_id, no roomAdmin; the SDK\'s POST carries ?link= and no Authorization; the same page against a deployment with links off gets no token (404 not_found)'), async (t) => {
  const editor = await openPage(allowedSite);
  let created;
  try {
    created = await createInPage(editor.page, 'consultation', {}, await issuer.mint(600, 'editor-1'));
  } finally {
    await editor.close();
  }
  assert.equal(created.room, 'consultation');
  assert.equal(created.role, 'participant');
  assert.equal(created.url, `${allowedSite.origin}/?room=consultation#${created.link}`);
  t.diagnostic(`created ${created.link_id}, expires ${created.expires_at}`);

  const got = await guestJoins(created.url, { participantName: 'Client' });
  assert.equal(got.ok, true, `${got.name}: ${got.message}`);
  assert.equal(got.link, created.link, 'the page read the link from its URL fragment');
  assert.equal(got.sentBody.participant_name, 'Client', JSON.stringify(got.sentBody));
  assert.equal(got.serverUrl, LIVEKIT_URL);
  assert.equal(got.sdkPayload.video.room, 'consultation', 'what the page itself reads from the token');
  const claims = await verifier().verify(got.participantToken);
  assert.equal(claims.video.room, 'consultation');
  assert.equal(claims.video.roomJoin, true);
  assert.ok(!claims.video.roomAdmin, 'a participant link makes no moderator');
  assert.ok(claims.sub.startsWith(`guest:${created.link_id}:`), claims.sub);
  assert.equal(claims.name, 'Client');
  assert.equal(claims.attributes['auth.invited_by'], 'user:editor-1');
  assert.equal(claims.attributes['auth.link_id'], created.link_id);
  assert.equal(claims.attributes['auth.owner'], undefined, 'a user\'s link has no owning application');
  t.diagnostic(`guest ${claims.sub} in ${claims.video.room}`);

  // The same page against a deployment with room links off: the route does not exist, so
  // the token above is the feature's doing. The page reads the 404 of a plain GET; the
  // SDK's POST fails at its preflight (no route, no CORS answer) and gets no token.
  const off = await openPage(allowedSite, created.url);
  try {
    const r = await pageFetch(off.page, `${server.url}/guest/token?${new URLSearchParams({ link: created.link })}`, {});
    assert.equal(r.status, 404, `${r.name ?? ''} ${r.message ?? r.body}`);
    assert.equal(JSON.parse(r.body).error.code, 'not_found');
    const viaSdk = await off.page.evaluate((api) => window.conformance.guestJoin(api), `${server.url}/guest/token`);
    assert.equal(viaSdk.ok, false, 'a deployment with links off gave the guest a token');
  } finally {
    await off.close();
  }
});

matrix.test(test, 'an application\'s room link: livekit-server-sdk reads auth.owner', row('POST /guest/token', 'ROOM_LINKS=on: an application (client credentials, scope livekit/links only) creates a link with a guest name; the guest\'s TokenSource.endpoint gets a token whose name is the link\'s (not the one the page asked for) and TokenVerifier reads auth.owner = owner:<client id>, auth.invited_by = client:<client id>'), async () => {
  const app = await issuer.clientToken(LINK_APP);
  const response = await fetch(`${linkServer.url}/rooms/support-7/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Customer 7', expires_in: 600 }),
  });
  const created = await response.json();
  assert.equal(response.status, 201, JSON.stringify(created));

  const got = await guestJoins(created.url, { participantName: 'Someone Else' });
  assert.equal(got.ok, true, `${got.name}: ${got.message}`);
  const claims = await verifier().verify(got.participantToken);
  assert.equal(claims.video.room, 'support-7');
  assert.ok(claims.sub.startsWith(`guest:${created.link_id}:`), claims.sub);
  assert.equal(claims.name, 'Customer 7', 'the link\'s name wins over the page\'s');
  assert.equal(claims.attributes['auth.owner'], `owner:${LINK_APP.id}`);
  assert.equal(claims.attributes['auth.invited_by'], `client:${LINK_APP.id}`);
  assert.equal(claims.attributes['auth.link_id'], created.link_id);
});

/** Refused links: an editor's link re-pointed at another room (its signature no longer
 * matches), and one signed with the deployment's key that expired a minute ago. */
async function refusedLinks() {
  const editor = await openPage(allowedSite);
  let link;
  try {
    link = (await createInPage(editor.page, 'consultation', {}, await issuer.mint(600, 'editor-1'))).link;
  } finally {
    await editor.close();
  }
  const [header, payload, signature] = link.split('.');
  const tampered = `${header}.${b64url({ ...claimsOf(link), room: 'boardroom' })}.${signature}`;
  const now = Math.floor(Date.now() / 1000);
  const expired = signLink({
    iss: 'livekit-lambda', aud: 'room-link', jti: 'expiredlink00001', room: 'consultation', role: 'participant',
    by: 'user:editor-1', iat: now - 3600, exp: now - 60, stored: false,
  });
  assert.notEqual(payload, tampered.split('.')[1]);
  return [['tampered', tampered, 'link_invalid'], ['expired', expired, 'link_expired']];
}

matrix.test(test, 'a refused room link gives the allowed origin a readable 401', row('GET + POST /guest/token', 'ROOM_LINKS=on, allowed origin, no bearer: a tampered link → the page reads 401 {"error":{"code":"link_invalid"}}, an expired one → 401 link_expired, over GET ?link=, POST ?link= and TokenSource.endpoint ("received 401 / …link_expired…")'), async (t) => {
  const cases = await refusedLinks();
  const p = await openPage(allowedSite);
  try {
    for (const [what, link, code] of cases) {
      const q = new URLSearchParams({ link });
      const calls = [
        ['GET', `${linkServer.url}/guest/token?${q}&participant=Client`, {}],
        ['POST', `${linkServer.url}/guest/token?${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
      ];
      for (const [method, url, init] of calls) {
        const r = await pageFetch(p.page, url, init);
        assert.equal(r.ok, true, `${method} ${what}: the page could not read the answer: ${r.name}: ${r.message}`);
        assert.equal(r.status, 401, `${method} ${what}: ${r.body}`);
        const body = JSON.parse(r.body);
        assert.equal(body.error.code, code, r.body);
        assert.equal(body.participant_token ?? body.token, undefined, 'no LiveKit token in a refusal');
        t.diagnostic(`${method} ${what}: ${r.status} ${r.body}`);
      }
      const r = await p.page.evaluate(({ api, link }) => window.conformance.guestJoin(api, {}, link), { api: `${linkServer.url}/guest/token`, link });
      assert.equal(r.ok, false, `TokenSource.endpoint with the ${what} link got a token`);
      assert.match(r.message, new RegExp(`received 401 / .*${code}`));
    }
  } finally {
    await p.close();
  }
});

matrix.test(test, 'an origin not allowed cannot read a refused room link', row('GET + POST /guest/token', 'ROOM_LINKS=on, origin not in ALLOWED_ORIGINS: the same refused redemptions reject in the page (TypeError, "Failed to fetch"): the allowed origin reads them because of the CORS headers'), async () => {
  const cases = await refusedLinks();
  const p = await openPage(otherSite);
  try {
    for (const [what, link] of cases) {
      const r = await pageFetch(p.page, `${linkServer.url}/guest/token?${new URLSearchParams({ link })}`, {});
      assert.equal(r.ok, false, `${what}: the page read ${r.status} ${r.body}`);
      assert.equal(r.name, 'TypeError', `${what}: ${r.message}`);
      const viaSdk = await p.page.evaluate(({ api, link }) => window.conformance.guestJoin(api, {}, link), { api: `${linkServer.url}/guest/token`, link });
      assert.equal(viaSdk.ok, false);
      assert.match(viaSdk.message, /Failed to fetch/);
    }
  } finally {
    await p.close();
  }
});

// ---- The waiting room: a guest knocks and waits in the page, a moderator admits (issue 29) ----

matrix.test(test, 'a guest waits in the waiting room and TokenSource.custom resolves once admitted', row('POST /guest/lobby, /guest/lobby/{request}, GET + PUT /rooms/{room}/lobby', 'LOBBY=on: an editor creates a knock link ({"admission":"knock"}); the guest\'s page at its URL runs TokenSource.custom that knocks (202 + request id), polls every retry_after s (202 waiting); the moderator (groups=moderators) lists the room\'s waiting room, sees the guest\'s name, admits (PUT {"decision":"admit"}); the page\'s fetch() resolves with serverUrl and a token TokenVerifier accepts for that room, identity guest:<link_id>:…, auth.admitted_by = the moderator; /guest/token refuses the knock link (403 knock_required)'), async (t) => {
  const editor = await openPage(allowedSite);
  let created;
  try {
    created = await createInPage(editor.page, 'consultation', { admission: 'knock' }, await issuer.mint(600, 'editor-1'));
  } finally {
    await editor.close();
  }
  assert.equal(created.admission, 'knock');
  const direct = await fetch(`${linkServer.url}/guest/token?${new URLSearchParams({ link: created.link })}`);
  assert.equal(direct.status, 403);
  assert.equal((await direct.json()).error.code, 'knock_required');

  const guest = await openPage(allowedSite, created.url);
  try {
    const joined = guest.page.evaluate((api) => window.conformance.lobbyJoin(api, 'Client'), linkServer.url);
    const moderator = await issuer.mint(600, 'host-1', { groups: ['moderators'] });
    const asModerator = { authorization: `Bearer ${moderator}` };
    // The moderator's page lists the waiting room until the guest shows up, and the
    // guest's page is seen waiting (at least one 202 poll) before anyone admits.
    let waiting;
    for (let i = 0; i < 50 && !waiting; i++) {
      const list = await (await fetch(`${linkServer.url}/rooms/consultation/lobby`, { headers: asModerator })).json();
      waiting = list.waiting.find((w) => w.name === 'Client');
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(waiting, 'the knock is listed');
    for (let i = 0; i < 50; i++) {
      const states = await guest.page.evaluate(() => window.conformance.lobbyStates.map((s) => s.state));
      if (states.includes('waiting')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const decided = await fetch(`${linkServer.url}/rooms/consultation/lobby/${waiting.request_id}`, {
      method: 'PUT',
      headers: { ...asModerator, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'admit' }),
    });
    assert.equal(decided.status, 200, await decided.clone().text());
    const got = await joined;
    assert.equal(got.ok, true, `${got.name}: ${got.message}`);
    const states = got.states.map((s) => s.state);
    assert.deepEqual([states[0], states.at(-1)], ['knocked', 'admitted'], states.join(', '));
    assert.ok(states.includes('waiting'), states.join(', '));
    assert.equal(got.states[0].moderatorsPresent, false, 'no LiveKit room here: nobody to tell, the knock waits');
    assert.equal(got.serverUrl, LIVEKIT_URL);
    const claims = await verifier().verify(got.participantToken);
    assert.equal(claims.video.room, 'consultation');
    assert.ok(claims.sub.startsWith(`guest:${created.link_id}:`), claims.sub);
    assert.equal(claims.name, 'Client');
    assert.equal(claims.attributes['auth.admitted_by'], 'user:host-1');
    assert.equal(claims.attributes['auth.invited_by'], 'user:editor-1');
    assert.ok(!claims.video.roomAdmin);
    t.diagnostic(`${states.length} states: ${states.join(' → ')}; guest ${claims.sub}`);
  } finally {
    await guest.close();
  }
});
