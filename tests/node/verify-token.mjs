// Verifies tokens with the official Node SDK, so the Rust issuer is checked by
// an independent implementation rather than by the crate that produced it.
//
// stdin:  {"apiKey", "apiSecret", "tokens": [jwt...], "clockToleranceSeconds"?}
// stdout: {"results": [{"ok": true, "claims": {...}, "header": {...}}
//                      | {"ok": false, "error": "..."}]}   (same order as tokens)
//
// In livekit-server-sdk 2.19 TokenVerifier.verify() returns jose's raw JWT
// payload untouched, so `claims` already carries exp/nbf/iss/sub and any
// claim the SDK does not model; no separate payload decode is needed.
// The SDK defaults to 10 s clock tolerance (Rust's jsonwebtoken uses 60 s) and
// requires `exp` (a token without exp fails here).
import { TokenVerifier } from 'livekit-server-sdk';
import { readRequest, reply, badInput } from './io.mjs';

const req = await readRequest({ apiKey: 'string', apiSecret: 'string', tokens: 'array' });
if (!req.tokens.every((t) => typeof t === 'string')) badInput('tokens must be strings');
const tolerance = req.clockToleranceSeconds; // undefined → SDK default (10 s)

const verifier = new TokenVerifier(req.apiKey, req.apiSecret);
const results = [];
for (const token of req.tokens) {
  try {
    const claims = await verifier.verify(token, tolerance);
    // The header shows alg/typ, which the SDK checks only implicitly via the key type.
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
    results.push({ ok: true, claims, header });
  } catch (e) {
    results.push({ ok: false, error: `${e.code ?? e.name}: ${e.message}` });
  }
}
reply({ results });
