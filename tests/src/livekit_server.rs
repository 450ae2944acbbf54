//! A stand-in for LiveKit server's Twirp API, because no LiveKit server binary can be
//! installed here. It is not a mock of our code: it decodes requests (protobuf or JSON)
//! with `livekit-protocol`'s types, verifies the caller's bearer token with the API
//! secret, checks the grants the real server requires for each method, answers like the
//! real server (Twirp error bodies, `already_exists` for conflicting dispatch-rule PINs),
//! and records every call so tests can assert exactly what reached "LiveKit".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use livekit_api::access_token::{Claims, TokenVerifier};
use livekit_protocol as proto;
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// One call as it reached the server.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// e.g. `RoomService`, `SIP`, `AgentDispatchService`
    pub service: String,
    pub method: String,
    /// The decoded request, in protobuf JSON.
    pub request: Value,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct TwirpError {
    status: StatusCode,
    code: &'static str,
    msg: String,
}

impl TwirpError {
    fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into() }
    }
    fn unauthenticated(msg: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", msg)
    }
    fn permission_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_denied", "permissions denied")
    }
    fn not_found(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", msg)
    }
    fn from_code(code: &'static str, msg: impl Into<String>) -> Self {
        let status = match code {
            "invalid_argument" | "malformed" => StatusCode::BAD_REQUEST,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "permission_denied" => StatusCode::FORBIDDEN,
            "not_found" | "bad_route" => StatusCode::NOT_FOUND,
            "already_exists" | "aborted" => StatusCode::CONFLICT,
            "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "deadline_exceeded" => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, code, msg)
    }
}

#[derive(Debug, Default, Clone)]
struct RoomState {
    sid: String,
    metadata: String,
    participants: Vec<String>,
    /// The attributes a participant's token gave it (`auth.role`, …), by identity.
    attributes: HashMap<String, HashMap<String, String>>,
    /// The tracks a participant publishes, by identity.
    tracks: HashMap<String, Vec<proto::TrackInfo>>,
    /// Display names, by identity (as UpdateParticipant sets them).
    names: HashMap<String, String>,
}

#[derive(Default)]
struct ServerState {
    rooms: BTreeMap<String, RoomState>,
    rules: Vec<proto::SipDispatchRuleInfo>,
    dispatches: Vec<proto::AgentDispatch>,
    calls: Vec<RecordedCall>,
    next_id: u64,
    unavailable: bool,
    injected: HashMap<String, VecDeque<TwirpError>>,
    /// LiveKit's `keys:` map: every API key the server accepts, with its secret.
    keys: BTreeMap<String, String>,
}

impl ServerState {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{:06}", self.next_id)
    }
}

/// The running test server.
#[derive(Clone)]
pub struct TwirpTestServer {
    pub port: u16,
    state: Arc<Mutex<ServerState>>,
}

impl TwirpTestServer {
    pub async fn start(api_key: &str, api_secret: &str) -> Self {
        Self::start_with_keys(&[(api_key, api_secret)]).await
    }

    /// A server that accepts several API keys at once, like LiveKit's `keys:` map,
    /// `key_file` or `LIVEKIT_KEYS`: a caller's token is verified with the secret of the
    /// key its (unverified) `iss` names.
    pub async fn start_with_keys(keys: &[(&str, &str)]) -> Self {
        let state = Arc::new(Mutex::new(ServerState::default()));
        let server_state = state.clone();
        let port = crate::serve_loopback(move |request| handle(request, server_state.clone())).await;
        let server = Self { port, state };
        server.set_keys(keys).await;
        server
    }

    /// Replaces the keys the server accepts (LiveKit restarted with a new `keys:` map).
    pub async fn set_keys(&self, keys: &[(&str, &str)]) {
        self.state.lock().await.keys = keys.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect();
    }

    /// The https-equivalent API URL our functions are configured with.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn add_room(&self, name: &str, participants: &[&str]) {
        let mut state = self.state.lock().await;
        let sid = state.id("RM");
        state.rooms.insert(
            name.to_string(),
            RoomState {
                sid,
                metadata: String::new(),
                participants: participants.iter().map(|p| p.to_string()).collect(),
                ..RoomState::default()
            },
        );
    }

    pub async fn set_participants(&self, room: &str, participants: &[&str]) {
        if let Some(r) = self.state.lock().await.rooms.get_mut(room) {
            r.participants = participants.iter().map(|p| p.to_string()).collect();
        }
    }

    /// Gives a participant of `room` the attributes its token carried (a moderator's
    /// `auth.role`), as ListParticipants and GetParticipant report them.
    pub async fn set_participant_attributes(&self, room: &str, identity: &str, attributes: &[(&str, &str)]) {
        if let Some(r) = self.state.lock().await.rooms.get_mut(room) {
            let attributes = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            r.attributes.insert(identity.to_string(), attributes);
        }
    }

    /// Gives a participant of `room` published tracks: `(sid, audio?, source)` each.
    pub async fn set_participant_tracks(
        &self,
        room: &str,
        identity: &str,
        tracks: &[(&str, bool, proto::TrackSource)],
    ) {
        if let Some(r) = self.state.lock().await.rooms.get_mut(room) {
            let tracks = tracks
                .iter()
                .map(|(sid, audio, source)| proto::TrackInfo {
                    sid: sid.to_string(),
                    r#type: if *audio { proto::TrackType::Audio } else { proto::TrackType::Video } as i32,
                    source: *source as i32,
                    ..Default::default()
                })
                .collect();
            r.tracks.insert(identity.to_string(), tracks);
        }
    }

    /// A participant as LiveKit would report it now (None: not in the room).
    pub async fn participant(&self, room: &str, identity: &str) -> Option<proto::ParticipantInfo> {
        let state = self.state.lock().await;
        let r = state.rooms.get(room)?;
        r.participants.iter().any(|p| p == identity).then(|| participant_info(identity, r))
    }

    /// Whether the room exists (DeleteRoom removes it).
    pub async fn has_room(&self, room: &str) -> bool {
        self.state.lock().await.rooms.contains_key(room)
    }

    pub async fn room_metadata(&self, room: &str) -> Option<String> {
        self.state.lock().await.rooms.get(room).map(|r| r.metadata.clone())
    }

    pub async fn set_room_metadata(&self, room: &str, metadata: &str) {
        if let Some(r) = self.state.lock().await.rooms.get_mut(room) {
            r.metadata = metadata.to_string();
        }
    }

    pub async fn calls(&self) -> Vec<RecordedCall> {
        self.state.lock().await.calls.clone()
    }

    pub async fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.calls().await.into_iter().filter(|c| c.method == method).collect()
    }

    pub async fn dispatch_rules(&self) -> Vec<proto::SipDispatchRuleInfo> {
        self.state.lock().await.rules.clone()
    }

    pub async fn add_dispatch_rule(&self, info: proto::SipDispatchRuleInfo) -> String {
        let mut state = self.state.lock().await;
        let id = state.id("SDR");
        state.rules.push(proto::SipDispatchRuleInfo { sip_dispatch_rule_id: id.clone(), ..info });
        id
    }

    pub async fn agent_dispatches(&self) -> Vec<proto::AgentDispatch> {
        self.state.lock().await.dispatches.clone()
    }

    /// Every method answers 503 `unavailable` while set.
    pub async fn set_unavailable(&self, unavailable: bool) {
        self.state.lock().await.unavailable = unavailable;
    }

    /// The next call to `method` fails with this Twirp code and message (after auth).
    pub async fn fail_next(&self, method: &str, code: &'static str, msg: &str) {
        self.state
            .lock()
            .await
            .injected
            .entry(method.to_string())
            .or_default()
            .push_back(TwirpError::from_code(code, msg));
    }
}

fn twirp_error_response(error: &TwirpError) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"code": error.code, "msg": error.msg}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = error.status;
    response.headers_mut().insert("content-type", "application/json".parse().expect("header"));
    response
}

struct Call<'a> {
    json: bool,
    body: &'a [u8],
    claims: &'a Claims,
}

impl Call<'_> {
    fn decode<T: Message + Default + DeserializeOwned>(&self) -> Result<T, TwirpError> {
        if self.json {
            serde_json::from_slice(self.body).map_err(|e| TwirpError::from_code("malformed", e.to_string()))
        } else {
            T::decode(self.body).map_err(|e| TwirpError::from_code("malformed", e.to_string()))
        }
    }

    fn require_room_admin(&self, room: &str) -> Result<(), TwirpError> {
        if self.claims.video.room_admin && self.claims.video.room == room {
            Ok(())
        } else {
            Err(TwirpError::permission_denied())
        }
    }

    fn require_sip_admin(&self) -> Result<(), TwirpError> {
        if self.claims.sip.admin {
            Ok(())
        } else {
            Err(TwirpError::permission_denied())
        }
    }
}

/// A decoded request and the encoded response, both kept as JSON for the record.
type Answer = Result<(Value, Bytes), (Value, TwirpError)>;

fn encode<T: Message + Serialize>(json: bool, value: &T) -> Bytes {
    if json {
        Bytes::from(serde_json::to_vec(value).unwrap_or_default())
    } else {
        Bytes::from(value.encode_to_vec())
    }
}

/// The `iss` claim of a JWT, read without verifying it (LiveKit's key provider lookup).
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?["iss"].as_str().map(str::to_string)
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<ServerState>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let json = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();

    let Some((service, method)) = path.strip_prefix("/twirp/livekit.").and_then(|rest| rest.split_once('/')) else {
        return Ok(twirp_error_response(&TwirpError::from_code("bad_route", format!("no route for {path}"))));
    };
    let (service, method) = (service.to_string(), method.to_string());

    let mut state = state.lock().await;
    let verify = |token: &str| {
        let key = unverified_issuer(token).ok_or(())?;
        let secret = state.keys.get(&key).ok_or(())?;
        TokenVerifier::with_api_key(&key, secret).verify(token).map_err(|_| ())
    };
    let claims = match auth.as_deref().map(verify) {
        None => Err(TwirpError::unauthenticated("no authorization token")),
        Some(Err(())) => Err(TwirpError::unauthenticated("invalid authorization token")),
        Some(Ok(claims)) => Ok(claims),
    };
    let outcome: Answer = match claims {
        Err(error) => Err((Value::Null, error)),
        Ok(_) if state.unavailable => Err((Value::Null, TwirpError::from_code("unavailable", "service unavailable"))),
        Ok(claims) => {
            let call = Call { json, body: &body, claims: &claims };
            dispatch(&service, &method, &call, &mut state)
        }
    };
    let (request_json, response) = match outcome {
        Ok((request_json, bytes)) => {
            let mut response = Response::new(Full::new(bytes));
            let content_type = if json { "application/json" } else { "application/protobuf" };
            response.headers_mut().insert("content-type", content_type.parse().expect("header"));
            (request_json, response)
        }
        Err((request_json, error)) => (request_json, twirp_error_response(&error)),
    };
    let status = response.status().as_u16();
    state.calls.push(RecordedCall { service, method, request: request_json, status });
    Ok(response)
}

fn room_info(name: &str, room: &RoomState) -> proto::Room {
    proto::Room {
        sid: room.sid.clone(),
        name: name.to_string(),
        metadata: room.metadata.clone(),
        num_participants: room.participants.len() as u32,
        ..Default::default()
    }
}

fn participant_info(identity: &str, room: &RoomState) -> proto::ParticipantInfo {
    proto::ParticipantInfo {
        sid: format!("PA_{identity}"),
        identity: identity.to_string(),
        state: proto::participant_info::State::Active as i32,
        attributes: room.attributes.get(identity).cloned().unwrap_or_default(),
        tracks: room.tracks.get(identity).cloned().unwrap_or_default(),
        name: room.names.get(identity).cloned().unwrap_or_default(),
        ..Default::default()
    }
}

fn rule_pin_and_room(info: &proto::SipDispatchRuleInfo) -> (String, String) {
    match info.rule.as_ref().and_then(|r| r.rule.as_ref()) {
        Some(proto::sip_dispatch_rule::Rule::DispatchRuleDirect(direct)) => {
            (direct.pin.clone(), direct.room_name.clone())
        }
        Some(proto::sip_dispatch_rule::Rule::DispatchRuleIndividual(individual)) => {
            (individual.pin.clone(), String::new())
        }
        _ => (String::new(), String::new()),
    }
}

/// Runs one method. `Err` carries the decoded request (when it decoded) for the record.
fn dispatch(service: &str, method: &str, call: &Call<'_>, state: &mut ServerState) -> Answer {
    macro_rules! decoded {
        ($t:ty) => {
            match call.decode::<$t>() {
                Ok(request) => request,
                Err(error) => return Err((Value::Null, error)),
            }
        };
    }
    macro_rules! check {
        ($request:expr, $result:expr) => {{
            let request_json = serde_json::to_value(&$request).unwrap_or(Value::Null);
            if let Err(error) = $result {
                return Err((request_json, error));
            }
            if let Some(error) = state.injected.get_mut(method).and_then(VecDeque::pop_front) {
                return Err((request_json, error));
            }
            request_json
        }};
    }
    let json = call.json;
    match (service, method) {
        ("RoomService", "ListRooms") => {
            let request = decoded!(proto::ListRoomsRequest);
            let request_json = check!(
                request,
                if call.claims.video.room_list { Ok(()) } else { Err(TwirpError::permission_denied()) }
            );
            let rooms = state
                .rooms
                .iter()
                .filter(|(name, _)| request.names.is_empty() || request.names.contains(name))
                .map(|(name, room)| room_info(name, room))
                .collect();
            Ok((request_json, encode(json, &proto::ListRoomsResponse { rooms })))
        }
        ("RoomService", "SendData") => {
            let request = decoded!(proto::SendDataRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            if !state.rooms.contains_key(&request.room) {
                return Err((request_json, TwirpError::not_found("room not found")));
            }
            Ok((request_json, encode(json, &proto::SendDataResponse {})))
        }
        ("RoomService", "UpdateRoomMetadata") => {
            let request = decoded!(proto::UpdateRoomMetadataRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(room) = state.rooms.get_mut(&request.room) else {
                return Err((request_json, TwirpError::not_found("room not found")));
            };
            room.metadata = request.metadata.clone();
            let info = room_info(&request.room, room);
            Ok((request_json, encode(json, &info)))
        }
        ("RoomService", "ListParticipants") => {
            let request = decoded!(proto::ListParticipantsRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(room) = state.rooms.get(&request.room) else {
                return Err((request_json, TwirpError::not_found("room not found")));
            };
            let participants = room.participants.iter().map(|p| participant_info(p, room)).collect();
            Ok((request_json, encode(json, &proto::ListParticipantsResponse { participants })))
        }
        ("RoomService", "GetParticipant") => {
            let request = decoded!(proto::RoomParticipantIdentity);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(room) = state.rooms.get(&request.room).filter(|r| r.participants.contains(&request.identity))
            else {
                return Err((request_json, TwirpError::not_found("participant not found")));
            };
            Ok((request_json, encode(json, &participant_info(&request.identity, room))))
        }
        ("RoomService", "RemoveParticipant") => {
            let request = decoded!(proto::RoomParticipantIdentity);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(room) = state.rooms.get_mut(&request.room) else {
                return Err((request_json, TwirpError::not_found("room not found")));
            };
            let Some(index) = room.participants.iter().position(|p| *p == request.identity) else {
                return Err((request_json, TwirpError::not_found("participant not found")));
            };
            room.participants.remove(index);
            Ok((request_json, encode(json, &proto::RemoveParticipantResponse {})))
        }
        ("RoomService", "MutePublishedTrack") => {
            let request = decoded!(proto::MuteRoomTrackRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let track = state
                .rooms
                .get_mut(&request.room)
                .filter(|r| r.participants.contains(&request.identity))
                .and_then(|r| r.tracks.get_mut(&request.identity))
                .and_then(|tracks| tracks.iter_mut().find(|t| t.sid == request.track_sid));
            let Some(track) = track else {
                return Err((request_json, TwirpError::not_found("track not found")));
            };
            track.muted = request.muted;
            let response = proto::MuteRoomTrackResponse { track: Some(track.clone()) };
            Ok((request_json, encode(json, &response)))
        }
        ("RoomService", "UpdateParticipant") => {
            let request = decoded!(proto::UpdateParticipantRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(room) = state.rooms.get_mut(&request.room).filter(|r| r.participants.contains(&request.identity))
            else {
                return Err((request_json, TwirpError::not_found("participant not found")));
            };
            // As LiveKit: only the attributes given change; an empty value deletes one.
            let attributes = room.attributes.entry(request.identity.clone()).or_default();
            for (key, value) in &request.attributes {
                if value.is_empty() {
                    attributes.remove(key);
                } else {
                    attributes.insert(key.clone(), value.clone());
                }
            }
            if !request.name.is_empty() {
                room.names.insert(request.identity.clone(), request.name.clone());
            }
            let info = participant_info(&request.identity, room);
            Ok((request_json, encode(json, &info)))
        }
        ("RoomService", "DeleteRoom") => {
            let request = decoded!(proto::DeleteRoomRequest);
            // LiveKit's DeleteRoom needs roomCreate.
            let request_json = check!(
                request,
                if call.claims.video.room_create { Ok(()) } else { Err(TwirpError::permission_denied()) }
            );
            if state.rooms.remove(&request.room).is_none() {
                return Err((request_json, TwirpError::not_found("room not found")));
            }
            Ok((request_json, encode(json, &proto::DeleteRoomResponse {})))
        }
        ("SIP", "CreateSIPDispatchRule") => {
            let request = decoded!(proto::CreateSipDispatchRuleRequest);
            let request_json = check!(request, call.require_sip_admin());
            let Some(info) = request.dispatch_rule.clone() else {
                return Err((request_json, TwirpError::from_code("invalid_argument", "dispatch_rule is required")));
            };
            let (pin, _) = rule_pin_and_room(&info);
            let overlaps = |other: &proto::SipDispatchRuleInfo| {
                other.trunk_ids.is_empty() && info.trunk_ids.is_empty()
                    || other.trunk_ids.iter().any(|t| info.trunk_ids.contains(t))
            };
            if let Some(existing) = state.rules.iter().find(|r| rule_pin_and_room(r).0 == pin && overlaps(r)) {
                let msg = format!(
                    "Conflicting SIP Dispatch Rules: same Trunk+Number+PIN combination for for \"<new>\" and {:?}",
                    existing.sip_dispatch_rule_id
                );
                return Err((request_json, TwirpError::from_code("already_exists", msg)));
            }
            let id = state.id("SDR");
            let stored = proto::SipDispatchRuleInfo { sip_dispatch_rule_id: id, ..info };
            state.rules.push(stored.clone());
            Ok((request_json, encode(json, &stored)))
        }
        ("SIP", "ListSIPDispatchRule") => {
            let request = decoded!(proto::ListSipDispatchRuleRequest);
            let request_json = check!(request, call.require_sip_admin());
            Ok((request_json, encode(json, &proto::ListSipDispatchRuleResponse { items: state.rules.clone() })))
        }
        ("SIP", "DeleteSIPDispatchRule") => {
            let request = decoded!(proto::DeleteSipDispatchRuleRequest);
            let request_json = check!(request, call.require_sip_admin());
            let Some(index) = state.rules.iter().position(|r| r.sip_dispatch_rule_id == request.sip_dispatch_rule_id)
            else {
                return Err((request_json, TwirpError::not_found("dispatch rule not found")));
            };
            let removed = state.rules.remove(index);
            Ok((request_json, encode(json, &removed)))
        }
        ("AgentDispatchService", "CreateDispatch") => {
            let request = decoded!(proto::CreateAgentDispatchRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let id = state.id("AD");
            let dispatch = proto::AgentDispatch {
                id,
                agent_name: request.agent_name.clone(),
                room: request.room.clone(),
                metadata: request.metadata.clone(),
                ..Default::default()
            };
            state.dispatches.push(dispatch.clone());
            Ok((request_json, encode(json, &dispatch)))
        }
        ("AgentDispatchService", "ListDispatch") => {
            let request = decoded!(proto::ListAgentDispatchRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let agent_dispatches = state
                .dispatches
                .iter()
                .filter(|d| d.room == request.room && (request.dispatch_id.is_empty() || d.id == request.dispatch_id))
                .cloned()
                .collect();
            Ok((request_json, encode(json, &proto::ListAgentDispatchResponse { agent_dispatches })))
        }
        ("AgentDispatchService", "DeleteDispatch") => {
            let request = decoded!(proto::DeleteAgentDispatchRequest);
            let request_json = check!(request, call.require_room_admin(&request.room));
            let Some(index) =
                state.dispatches.iter().position(|d| d.id == request.dispatch_id && d.room == request.room)
            else {
                return Err((request_json, TwirpError::not_found("dispatch not found")));
            };
            let removed = state.dispatches.remove(index);
            Ok((request_json, encode(json, &removed)))
        }
        _ => Err((Value::Null, TwirpError::from_code("bad_route", format!("unknown method {service}/{method}")))),
    }
}
