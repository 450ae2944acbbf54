// Mints a token with the official Node SDK, for tests that need a token from
// the reference issuer (e.g. to feed the Rust verifier or compare claim sets).
//
// stdin:  {"apiKey", "apiSecret", "identity", "room", "name"?, "ttlSeconds"?,
//          "grants"?: {VideoGrant fields}, "metadata"?, "attributes"?: {k: v},
//          "kind"?, "roomConfig"?: RoomConfiguration as protobuf JSON}
// stdout: {"token": "<jwt>"}
//
// The video grant starts as {roomJoin: true, room} and `grants` is merged over
// it, so a test can still set roomJoin:false. ttlSeconds may be negative to get
// an already expired token; 0 or absent means the SDK default (6 h), because
// the SDK treats a falsy ttl as unset. The SDK sets nbf = now and no iat.
import { AccessToken, RoomConfiguration, TrackSource } from 'livekit-server-sdk';
import { readRequest, reply, badInput } from './io.mjs';

const req = await readRequest({ apiKey: 'string', apiSecret: 'string', identity: 'string', room: 'string' });

const at = new AccessToken(req.apiKey, req.apiSecret, {
  identity: req.identity,
  name: req.name,
  ttl: req.ttlSeconds,
  metadata: req.metadata,
  attributes: req.attributes,
});
if (req.kind !== undefined) at.kind = req.kind;

const grant = { roomJoin: true, room: req.room, ...(req.grants ?? {}) };
// The SDK wants TrackSource enum numbers and throws on the JWT's own string
// form ("camera"), so accept either in the request.
if (Array.isArray(grant.canPublishSources)) {
  grant.canPublishSources = grant.canPublishSources.map((s) => {
    const v = typeof s === 'string' ? TrackSource[s.toUpperCase()] : s;
    if (typeof v !== 'number') badInput(`unknown track source ${JSON.stringify(s)}`);
    return v;
  });
}
at.addGrant(grant);

// Going through the protobuf type makes the claim serialise exactly as the SDK
// would for a real app (camelCase protobuf JSON via toJSON()).
if (req.roomConfig !== undefined) {
  try {
    at.roomConfig = RoomConfiguration.fromJson(req.roomConfig);
  } catch (e) {
    badInput(`roomConfig: ${e.message}`);
  }
}

reply({ token: await at.toJwt() });
