// Builds the deliveries of cases/webhooks.json the way LiveKit server signs webhooks
// (HS256 JWT, iss = API key, nbf/exp, sha256 = base64 SHA-256 of the raw body).
// test_python_sdk.py has the same builder in Python (PyJWT).
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { API_KEY, API_SECRET, CONFORMANCE_DIR } from './local-server.mjs';

export const webhookCorpus = JSON.parse(readFileSync(path.join(CONFORMANCE_DIR, 'cases/webhooks.json'), 'utf8'));

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** {body, authorization (string | undefined)} for one case, signed now. */
export function buildDelivery(c, now = Math.floor(Date.now() / 1000)) {
  const body = 'body_raw' in c ? c.body_raw : JSON.stringify(c.body);
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
