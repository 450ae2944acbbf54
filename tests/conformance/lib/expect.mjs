// Checks a verified token's claims against a corpus expectation (cases/tokens.json).
// test_python_sdk.py implements the same rules for livekit-api's Claims.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFORMANCE_DIR } from './local-server.mjs';

export const corpus = JSON.parse(readFileSync(path.join(CONFORMANCE_DIR, 'cases/tokens.json'), 'utf8'));

/** Sends one corpus request to the server; returns {status, body}. */
export async function send(baseUrl, request) {
  const url = new URL(request.path, baseUrl);
  for (const [k, v] of Object.entries(request.query ?? {})) url.searchParams.set(k, v);
  const init = { method: request.method };
  if (request.method === 'POST') {
    init.headers = { 'content-type': 'application/json' };
    init.body = 'body_raw' in request ? request.body_raw : JSON.stringify(request.body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

/** {url, token} from either reply shape, plus problems with the shape itself. */
export function replyParts(shape, body) {
  const problems = [];
  const want = shape === 'get' ? ['token', 'url', 'room', 'participant'] : ['server_url', 'participant_token', 'room_name'];
  for (const k of want) if (typeof body?.[k] !== 'string') problems.push(`reply lacks string "${k}"`);
  return shape === 'get'
    ? { url: body?.url, token: body?.token, room: body?.room, problems }
    : { url: body?.server_url, token: body?.participant_token, room: body?.room_name, problems };
}

function matches(actual, want) {
  if (want && typeof want === 'object' && 'prefix' in want) return typeof actual === 'string' && actual.startsWith(want.prefix);
  return actual === want;
}

const isEmpty = (v) => v === undefined || v === null || v === '' || (typeof v === 'object' && Object.keys(v).length === 0);

/** Problems (strings) with a raw JWT payload as livekit-server-sdk's TokenVerifier returns it. */
export function claimProblems(claims, expect, common = corpus.common) {
  const p = [];
  const eq = (label, actual, want) => {
    if (want === null) {
      if (!isEmpty(actual)) p.push(`${label}: expected absent, got ${JSON.stringify(actual)}`);
    } else if (typeof want === 'object' && !('prefix' in want)) {
      if (JSON.stringify(sortKeys(actual)) !== JSON.stringify(sortKeys(want))) p.push(`${label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`);
    } else if (!matches(actual, want)) {
      p.push(`${label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`);
    }
  };
  eq('room', claims.video?.room, expect.room);
  eq('identity (sub)', claims.sub, expect.identity);
  eq('name', claims.name, expect.name);
  eq('metadata', claims.metadata, expect.metadata);
  eq('attributes', claims.attributes, expect.attributes);
  const agents = (claims.roomConfig?.agents ?? []).map((a) => {
    const out = { agent_name: a.agentName };
    if (a.metadata) out.metadata = a.metadata;
    if (a.deployment) out.deployment = a.deployment;
    return out;
  });
  eq('roomConfig.agents', agents.length ? agents : null, expect.agents);
  for (const g of common.grants_true) if (claims.video?.[g] !== true) p.push(`video.${g} should be true, got ${claims.video?.[g]}`);
  for (const g of common.grants_absent) if (claims.video?.[g]) p.push(`video.${g} must not be granted`);
  if (claims.exp - claims.nbf !== common.ttl_seconds) p.push(`exp - nbf = ${claims.exp - claims.nbf}, expected ${common.ttl_seconds}`);
  return p;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
