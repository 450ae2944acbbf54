// The webhook corpus (cases/webhooks.json): builds each delivery the way LiveKit server
// signs webhooks (HS256 JWT, iss = API key, nbf/exp, sha256 = base64 SHA-256 of the raw
// body), POSTs it to our receiver, and checks the corpus's own bookkeeping.
// test_python_sdk.py has the same builder and rules in Python (PyJWT).
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { API_KEY, API_SECRET, CONFORMANCE_DIR } from './local-server.mjs';

export const webhookCorpus = JSON.parse(readFileSync(path.join(CONFORMANCE_DIR, 'cases/webhooks.json'), 'utf8'));
export const PARTIES = ['livekit-server-sdk', 'livekit-api', 'receiver'];
export const WEBHOOK_ROUTE = 'POST /webhook';
/** Server settings for the webhook cases: no LiveKit API call can happen (nor reach anything). */
export const WEBHOOK_SERVER_ENV = { RECORDING_LIMIT_NOTICE: 'false', SIP_TRUNK_ID: '', LIVEKIT_API_URL: 'http://127.0.0.1:9' };

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** The body text of a case. */
export function bodyOf(c) {
  if ('body_raw' in c) return c.body_raw;
  const body = structuredClone(c.body);
  if (c.pad_room_metadata) body.room = { ...body.room, metadata: 'x'.repeat(c.pad_room_metadata) };
  return JSON.stringify(body);
}

/** {body, authorization (string | undefined)} for one case, signed now. */
export function buildDelivery(c, now = Math.floor(Date.now() / 1000)) {
  const body = bodyOf(c);
  const s = c.sign ?? {};
  const signedBody = (s.sha256_of ?? 'body') === 'other' ? s.signed_body_raw : body;
  const claims = { iss: s.key === 'wrong' ? 'APIsomeoneelse' : API_KEY, nbf: now + (s.nbf_offset ?? 0), exp: now + (s.exp_offset ?? 300) };
  if ((s.sha256_of ?? 'body') !== 'none') claims.sha256 = createHash('sha256').update(signedBody, 'utf8').digest('base64');
  const alg = s.alg ?? 'HS256';
  const header = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const secret = s.secret === 'wrong' ? API_SECRET + '-wrong' : API_SECRET;
  const signature = alg === 'none' ? '' : b64url(createHmac('sha256', secret).update(`${header}.${payload}`).digest());
  const jwt = `${header}.${payload}.${signature}`;
  const authorization = { raw: jwt, bearer: `Bearer ${jwt}`, none: undefined }[c.authorization ?? 'raw'];
  return { body, authorization };
}

/** Our expected replies, one per delivery. */
export function expectedReplies(c) {
  const replies = [c.receiver_reply].flat();
  if (replies.length !== (c.deliveries ?? 1)) throw new Error(`${c.name}: ${replies.length} receiver_reply for ${c.deliveries ?? 1} deliveries`);
  return replies;
}

/** accept = 2xx, reject = 4xx; anything else (5xx, no answer) is neither and fails every comparison. */
export function verdictOfStatus(status) {
  if (status >= 200 && status < 300) return 'accept';
  if (status >= 400 && status < 500) return 'reject';
  return `error (${status})`;
}

/** Sends one delivery to our receiver the way LiveKit does; returns {status, reply: "<status> <status|code>", verdict}. */
export async function deliver(baseUrl, { body, authorization }) {
  const headers = { 'content-type': 'application/webhook+json', 'user-agent': 'LiveKit' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(new URL('/webhook', baseUrl), { method: 'POST', headers, body });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  const detail = json?.status ?? json?.error?.code ?? text.slice(0, 80);
  return { status: response.status, reply: `${response.status} ${detail}`, verdict: verdictOfStatus(response.status) };
}

/** Problems with the corpus's bookkeeping (every party named, reasons exactly where verdicts differ). */
export function corpusProblems(corpus = webhookCorpus) {
  const p = [];
  const names = new Set();
  for (const c of corpus.cases) {
    if (names.has(c.name)) p.push(`duplicate case name: ${c.name}`);
    names.add(c.name);
    for (const party of PARTIES) if (!['accept', 'reject'].includes(c.verdicts?.[party])) p.push(`${c.name}: verdicts.${party} must be accept or reject`);
    const same = new Set(PARTIES.map((party) => c.verdicts?.[party])).size === 1;
    if (same && c.why_different) p.push(`${c.name}: why_different given but every verdict is the same`);
    if (!same && !(typeof c.why_different === 'string' && c.why_different.trim())) p.push(`${c.name}: verdicts differ, why_different missing`);
    try {
      for (const r of expectedReplies(c)) if (verdictOfStatus(Number(r.split(' ')[0])) !== c.verdicts?.receiver) p.push(`${c.name}: receiver_reply ${r} is not a ${c.verdicts?.receiver}`);
    } catch (e) {
      p.push(e.message);
    }
  }
  for (const v of ['accept', 'reject']) if (!corpus.cases.some((c) => c.verdicts?.receiver === v)) p.push(`no case where the receiver must ${v}`);
  return p;
}

/** The matrix's check text for one case, as seen from `sdk`. */
export function webhookCheck(c, sdk) {
  const ours = c.verdicts.receiver;
  const theirs = c.verdicts[sdk];
  const replies = expectedReplies(c).join(', then ');
  return ours === theirs
    ? `same verdict (${ours}; we answer ${replies}): ${c.name}`
    : `differs by design: SDK ${theirs}s, we ${ours} (${replies}): ${c.name}. Why: ${c.why_different || '(missing in the corpus)'}`;
}
