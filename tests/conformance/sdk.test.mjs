// livekit-server-sdk (npm) as the judge: its TokenVerifier must accept every token form
// the token generator issues (cases/tokens.json), with the claims each case asks for; and
// every delivery of cases/webhooks.json goes both to its WebhookReceiver and to our
// `POST /webhook`: each must give the verdict the corpus names, and ours must equal the
// SDK's unless the case says why not (`why_different`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier, WebhookReceiver } from 'livekit-server-sdk';
import { startLocalServer, API_KEY, API_SECRET } from './lib/local-server.mjs';
import { corpus, send, replyParts, claimProblems } from './lib/expect.mjs';
import { Recorder, installedVersion } from './lib/matrix.mjs';
import { webhookCorpus, buildDelivery, deliver, expectedReplies, corpusProblems, webhookCheck, WEBHOOK_ROUTE, WEBHOOK_SERVER_ENV } from './lib/webhooks.mjs';

const SDK_VERSION = installedVersion('livekit-server-sdk');
const SDK = { client: 'livekit-server-sdk (npm) TokenVerifier', version: SDK_VERSION };
const WEBHOOK_SDK = { client: 'livekit-server-sdk (npm) WebhookReceiver', version: SDK_VERSION, route: WEBHOOK_ROUTE };
const PARTY = 'livekit-server-sdk'; // its column in cases/webhooks.json
const matrix = new Recorder('node-server-sdk');
const verifier = new TokenVerifier(API_KEY, API_SECRET);
let server;
const issued = []; // tokens for the negative check

before(async () => {
  server = await startLocalServer({ env: WEBHOOK_SERVER_ENV });
});
after(async () => {
  await server?.stop();
  matrix.write();
});

for (const c of corpus.cases) {
  const route = `${c.request.method} ${c.request.path}`;
  matrix.test(test, `verifies ${c.name}`, { ...SDK, route, check: `verifies: ${c.name}` }, async () => {
    const { status, body } = await send(server.url, c.request);
    assert.equal(status, c.expect.status, `status; body: ${JSON.stringify(body)}`);
    const { url, token, room, problems } = replyParts(c.expect.shape, body);
    assert.deepEqual(problems, []);
    assert.equal(url, corpus.common.server_url);
    const claims = await verifier.verify(token);
    assert.deepEqual(claimProblems(claims, c.expect), []);
    assert.equal(room, claims.video.room, 'reply room matches the token');
    issued.push(token);
  });
}

matrix.test(test, 'rejects our tokens under a wrong secret or key', { ...SDK, route: 'GET + POST /token', check: 'rejects every issued token under a wrong secret or key (the verifier is not vacuous)' }, async () => {
  assert.ok(issued.length > 0);
  for (const token of issued) {
    await assert.rejects(new TokenVerifier(API_KEY, API_SECRET + 'x').verify(token));
    await assert.rejects(new TokenVerifier('APIother', API_SECRET).verify(token));
  }
});

// Webhooks: the SDK and our receiver judge the same deliveries (signed once per delivery).
async function sdkVerdict({ body, authorization }) {
  try {
    const event = await new WebhookReceiver(API_KEY, API_SECRET).receive(body, authorization);
    assert.equal(event.id, JSON.parse(body).id, 'the SDK returned the delivered event');
    return 'accept';
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return 'reject';
  }
}

test('webhook corpus: a verdict per party, a reason wherever they differ', () => {
  assert.deepEqual(corpusProblems(), []);
});

let delivered = 0;
for (const c of webhookCorpus.cases) {
  matrix.test(test, `webhook: ${c.name}`, { ...WEBHOOK_SDK, check: webhookCheck(c, PARTY) }, async () => {
    const delivery = buildDelivery(c);
    const theirs = await sdkVerdict(delivery);
    assert.equal(theirs, c.verdicts[PARTY], 'livekit-server-sdk WebhookReceiver verdict (corpus verdicts.livekit-server-sdk)');
    for (const want of expectedReplies(c)) { // a redelivery is the very same request again
      const ours = await deliver(server.url, delivery);
      delivered += 1;
      assert.equal(ours.reply, want, 'our reply (corpus receiver_reply)');
      assert.equal(ours.verdict, c.verdicts.receiver, 'our verdict (corpus verdicts.receiver)');
      if (!c.why_different) assert.equal(ours.verdict, theirs, 'we and livekit-server-sdk differ, and the corpus gives no why_different');
    }
  });
}

const totalDeliveries = webhookCorpus.cases.reduce((n, c) => n + expectedReplies(c).length, 0);
matrix.test(test, 'webhook: every delivery reached the receiver', { ...WEBHOOK_SDK, check: `all ${totalDeliveries} deliveries of ${webhookCorpus.cases.length} cases reached POST /webhook (counted in the server's request log)` }, async () => {
  assert.equal(delivered, totalDeliveries, 'deliveries sent by this suite');
  let seen = [];
  for (let i = 0; i < 50 && seen.length < totalDeliveries; i++) {
    seen = server.requests().filter((r) => r.method === 'POST' && r.route === '/webhook');
    if (seen.length < totalDeliveries) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(seen.length, totalDeliveries, 'POST /webhook lines in the server log');
});
