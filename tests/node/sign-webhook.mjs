// Produces the Authorization header LiveKit server puts on a webhook POST, so
// the Rust receiver can be tested against a request shaped like the real one.
//
// stdin:  {"apiKey", "apiSecret", "body": "<raw body>" | "bodyBase64": "...",
//          "ttlSeconds"?, "sha256"?}
// stdout: {"authorization": "<jwt>", "sha256": "<base64 digest put in the token>"}
//
// Mirrors livekit/protocol webhook/resource_url_notifier.go send():
//   sum := sha256.Sum256(encoded); b64 := base64.StdEncoding.EncodeToString(sum[:])
//   auth.NewAccessToken(key, secret).SetValidFor(5 * time.Minute).SetSha256(b64)
// i.e. no identity, no grants, standard (padded) base64, 5 min validity, and
// the header value is the bare JWT (no "Bearer "). The SDK's WebhookReceiver
// checks exactly claims.sha256 === base64(sha256(utf8(body))).
// bodyBase64 lets a test sign bytes that are not valid UTF-8; sha256 overrides
// the digest to forge a mismatching signature; a negative ttlSeconds yields an
// expired header.
import { createHash } from 'node:crypto';
import { AccessToken } from 'livekit-server-sdk';
import { readRequest, reply, badInput } from './io.mjs';

const req = await readRequest({ apiKey: 'string', apiSecret: 'string' });
let bytes;
if (typeof req.body === 'string') bytes = Buffer.from(req.body, 'utf8');
else if (typeof req.bodyBase64 === 'string') bytes = Buffer.from(req.bodyBase64, 'base64');
else badInput('need "body" (string) or "bodyBase64"');

const sha256 = req.sha256 ?? createHash('sha256').update(bytes).digest('base64');
const at = new AccessToken(req.apiKey, req.apiSecret, { ttl: req.ttlSeconds ?? 300 });
at.sha256 = sha256;

reply({ authorization: await at.toJwt(), sha256 });
