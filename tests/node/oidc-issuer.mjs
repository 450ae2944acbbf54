// A loopback OpenID Connect issuer for tests and local trials: an RSA key pair made
// at start-up, discovery and JWKS documents, and the OAuth 2 client-credentials grant,
// shaped like Amazon Cognito's (access tokens with `client_id`, `scope`, no `aud`).
// Node's own crypto only; nothing here is used in production.
//
//   node oidc-issuer.mjs '{"clients": {"app": {"secret": "s", "scopes": ["livekit/token"]}}}'
//
// Prints one JSON line, {"issuer": "http://127.0.0.1:<port>", "kid": "..."}, then serves:
//   GET  /.well-known/openid-configuration   discovery (jwks_uri, token_endpoint)
//   GET  /.well-known/jwks.json              the public keys
//   POST /oauth2/token                       grant_type=client_credentials; the client
//        authenticates with HTTP Basic or client_id/client_secret in the form; `scope`
//        (space-separated) must be a subset of the client's scopes, default all of them
//   POST /test/mint                          TEST ONLY: {"claims", "header"?, "ttlSeconds"?,
//        "key"?: "issuer"|"stranger"} → {"token"}: a token as a user sign-in would get
//        (claims merged over iss/iat/exp; a null claim is removed), or a broken one
//        (header.alg "none" or "HS256", a stranger's key under the issuer's kid)
//   POST /test/rotate                        TEST ONLY: a new signing key replaces the old
import { createServer } from 'node:http';
import { generateKeyPairSync, sign, createHmac, randomUUID } from 'node:crypto';

const config = JSON.parse(process.argv[2] ?? '{}');
const clients = config.clients ?? {};

function newKey() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), publicKey, privateKey };
}
let current = newKey();
const stranger = newKey();

const b64url = (data) => Buffer.from(data).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
let issuer = '';

function jwt(header, claims, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let signature = '';
  if (header.alg === 'HS256') {
    // The classic algorithm-confusion forgery: HMAC keyed with the public key.
    const secret = current.publicKey.export({ format: 'pem', type: 'spki' });
    signature = createHmac('sha256', secret).update(input).digest('base64url');
  } else if (header.alg !== 'none') {
    const hash = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' }[header.alg];
    signature = sign(hash, Buffer.from(input), key.privateKey).toString('base64url');
  }
  return `${input}.${signature}`;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function clientCredentials(req, form) {
  let id = form.get('client_id');
  let secret = form.get('client_secret');
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    id = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  }
  const client = clients[id];
  if (!client || client.secret !== secret) return { error: [401, 'invalid_client'] };
  if (form.get('grant_type') !== 'client_credentials') return { error: [400, 'unsupported_grant_type'] };
  const asked = (form.get('scope') ?? '').split(' ').filter(Boolean);
  const scopes = asked.length ? asked : client.scopes;
  if (!scopes.every((s) => client.scopes.includes(s))) return { error: [400, 'invalid_scope'] };
  const t = now();
  const claims = {
    sub: id, token_use: 'access', scope: scopes.join(' '), auth_time: t, iss: issuer,
    exp: t + 3600, iat: t, version: 2, jti: randomUUID(), client_id: id,
  };
  return { token: jwt({ alg: 'RS256', kid: current.kid, typ: 'JWT' }, claims, current) };
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        token_endpoint: `${issuer}/oauth2/token`,
        grant_types_supported: ['client_credentials'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') {
      const jwk = current.publicKey.export({ format: 'jwk' });
      return send(res, 200, { keys: [{ ...jwk, kid: current.kid, alg: 'RS256', use: 'sig' }] });
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(await readBody(req));
      const result = clientCredentials(req, form);
      if (result.error) return send(res, result.error[0], { error: result.error[1] });
      return send(res, 200, { access_token: result.token, token_type: 'Bearer', expires_in: 3600 });
    }
    if (req.method === 'POST' && url.pathname === '/test/mint') {
      const input = JSON.parse((await readBody(req)) || '{}');
      const t = now();
      const claims = { iss: issuer, iat: t, exp: t + (input.ttlSeconds ?? 3600), ...(input.claims ?? {}) };
      for (const [k, v] of Object.entries(claims)) if (v === null) delete claims[k];
      const header = { alg: 'RS256', kid: current.kid, typ: 'JWT', ...(input.header ?? {}) };
      for (const [k, v] of Object.entries(header)) if (v === null) delete header[k];
      const key = input.key === 'stranger' ? stranger : current;
      return send(res, 200, { token: jwt(header, claims, key) });
    }
    if (req.method === 'POST' && url.pathname === '/test/rotate') {
      current = newKey();
      return send(res, 200, { kid: current.kid });
    }
    send(res, 404, { error: 'not_found' });
  } catch (error) {
    send(res, 400, { error: 'invalid_request', error_description: String(error) });
  }
});

server.listen(config.port ?? 0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ issuer, kid: current.kid })}\n`);
});
// Under a test harness: end when the test process (holding our stdin) ends.
if (config.exitWithStdin) {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
