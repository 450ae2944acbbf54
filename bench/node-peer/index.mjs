// The Node.js Lambda a team would otherwise deploy for the same /token contract, written
// the way the AWS SDK and LiveKit docs recommend: the SSM client is created once per
// container (outside the handler), the three parameters are read with one GetParameters
// call (WithDecryption) and cached, and tokens are signed with livekit-server-sdk.
//
// Benchmark peer of functions/token-generator (bench/README.md). Same contract:
//   GET  /token?room=&participant=  -> 200 {token, url, room, participant}
//   POST /token (LiveKit's standard token endpoint) -> 201 {server_url, participant_token, room_name, participant_name}
// Same grants (roomJoin to that room, publish, subscribe, publish data) and TTL (6 h).

import { randomBytes } from 'node:crypto';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AccessToken, RoomConfiguration } from 'livekit-server-sdk';

const ssm = new SSMClient({});

const PREFIX = process.env.LIVEKIT_SSM_PREFIX ?? '/dissertation-editor/livekit';
const MAX_AGE_MS = Number(process.env.CREDENTIALS_MAX_AGE_SECONDS ?? 300) * 1000;
const TTL_SECONDS = Number(process.env.TOKEN_TTL_SECONDS ?? 21600);
const MAX_NAME_CHARS = Number(process.env.MAX_NAME_CHARS ?? 128);
const MAX_BODY_BYTES = Number(process.env.MAX_BODY_BYTES ?? 16384);
const ALLOWED_ORIGINS = (process.env.ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
const ALLOWED_AGENTS = (process.env.ALLOWED_AGENT_NAMES ?? '').split(',').map((a) => a.trim()).filter(Boolean);
const PUBLISH_SOURCES = (process.env.PUBLISH_SOURCES ?? '').split(',').map((s) => s.trim()).filter(Boolean);

// One in-flight or settled fetch per container, refreshed after MAX_AGE_MS.
let cached; // { at, promise }

async function fetchCredentials() {
  const names = ['api-key', 'api-secret', 'url'].map((n) => `${PREFIX}/${n}`);
  const { Parameters = [], InvalidParameters = [] } = await ssm.send(
    new GetParametersCommand({ Names: names, WithDecryption: true }),
  );
  if (InvalidParameters.length > 0) throw new Error(`missing SSM parameters: ${InvalidParameters.join(', ')}`);
  const value = (n) => Parameters.find((p) => p.Name === `${PREFIX}/${n}`)?.Value;
  // Browsers connect with a WebSocket URL.
  const url = value('url').replace(/^https:/, 'wss:').replace(/^http:/, 'ws:');
  return { apiKey: value('api-key'), apiSecret: value('api-secret'), url };
}

function credentials() {
  if (!cached || Date.now() - cached.at > MAX_AGE_MS) {
    const entry = { at: Date.now(), promise: fetchCredentials() };
    entry.promise.catch(() => {
      if (cached === entry) cached = undefined; // retry on the next request
    });
    cached = entry;
  }
  return cached.promise;
}

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function checkName(field, value) {
  if (typeof value !== 'string' || value.trim() === '') throw new HttpError(400, 'invalid_name', `${field} is required`);
  if ([...value].length > MAX_NAME_CHARS) throw new HttpError(400, 'invalid_name', `${field} is too long`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(value)) {
    throw new HttpError(400, 'invalid_name', `${field} has control characters`);
  }
  return value;
}

const randomId = (prefix) => `${prefix}-${randomBytes(10).toString('hex')}`;

function corsHeaders(event) {
  const origin = event.headers?.origin;
  if (!origin || !(ALLOWED_ORIGINS.includes('*') || ALLOWED_ORIGINS.includes(origin))) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

function reply(event, statusCode, body, extra = {}) {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...corsHeaders(event),
      ...extra,
    },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

async function sign({ room, identity, name, metadata, attributes, roomConfig }) {
  const { apiKey, apiSecret, url } = await credentials();
  const token = new AccessToken(apiKey, apiSecret, { identity, name, metadata, attributes, ttl: TTL_SECONDS });
  const grant = { roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true };
  if (PUBLISH_SOURCES.length > 0) grant.canPublishSources = PUBLISH_SOURCES;
  token.addGrant(grant);
  if (roomConfig) token.roomConfig = roomConfig;
  return { token: await token.toJwt(), url };
}

async function simple(event) {
  const query = event.queryStringParameters ?? {};
  const room = checkName('room', query.room);
  const participant = checkName('participant', query.participant);
  const { token, url } = await sign({ room, identity: participant, name: participant });
  return reply(event, 200, { token, url, room, participant });
}

async function standard(event) {
  const type = (event.headers?.['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  let text = event.body ?? '';
  if (event.isBase64Encoded) text = Buffer.from(text, 'base64').toString('utf8');
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', 'the body is too large');
  if (text.trim() !== '' && type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'POST /token takes application/json');
  }
  let body;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_body', 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_body', 'the body is not a JSON object');
  }
  const field = (snake, camel) => body[snake] ?? body[camel] ?? undefined;
  const room = field('room_name', 'roomName') ? checkName('room_name', field('room_name', 'roomName')) : randomId('room');
  const identity = field('participant_identity', 'participantIdentity')
    ? checkName('participant_identity', field('participant_identity', 'participantIdentity'))
    : randomId('participant');
  const name = field('participant_name', 'participantName');
  if (name) checkName('participant_name', name);
  const metadata = field('participant_metadata', 'participantMetadata');
  const attributes = field('participant_attributes', 'participantAttributes');
  let roomConfig;
  const config = field('room_config', 'roomConfig');
  if (config && Object.keys(config).length > 0) {
    roomConfig = RoomConfiguration.fromJson(config, { ignoreUnknownFields: true });
    for (const agent of roomConfig.agents) {
      if (!ALLOWED_AGENTS.includes(agent.agentName)) {
        throw new HttpError(403, 'agent_not_allowed', `agent ${agent.agentName} may not be dispatched`);
      }
    }
  }
  const { token, url } = await sign({ room, identity, name, metadata, attributes, roomConfig });
  const answer = { server_url: url, participant_token: token, room_name: room };
  if (name) answer.participant_name = name;
  return reply(event, 201, answer);
}

export const handler = async (event) => {
  const started = performance.now();
  const method = event.requestContext?.http?.method ?? 'GET';
  let response;
  try {
    if (event.rawPath !== '/token') {
      response = reply(event, 404, { error: { code: 'not_found', message: 'no such route' } });
    } else if (method === 'GET') {
      response = await simple(event);
    } else if (method === 'POST') {
      response = await standard(event);
    } else if (method === 'OPTIONS') {
      response = reply(event, 204, undefined, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'content-type, authorization',
      });
    } else {
      response = reply(event, 405, { error: { code: 'method_not_allowed', message: method } }, { allow: 'GET, POST, OPTIONS' });
    }
  } catch (error) {
    if (error instanceof HttpError) {
      response = reply(event, error.status, { error: { code: error.code, message: error.message } });
    } else {
      console.error(JSON.stringify({ message: 'request failed', error: String(error) }));
      response = reply(event, 503, { error: { code: 'credentials_unavailable', message: 'try again later' } });
    }
  }
  // One structured line per request, as the Rust function logs.
  console.log(
    JSON.stringify({
      message: 'request',
      method,
      route: event.rawPath,
      status: response.statusCode,
      latency_ms: Number((performance.now() - started).toFixed(3)),
    }),
  );
  return response;
};
