//! What was asked: an HTTP request turned into a validated [`TokenRequest`], from the
//! `GET ?room&participant` contract or LiveKit's standard token endpoint (`POST`,
//! protobuf-JSON `TokenSourceRequest`). Who may have it, with which identity and grants, is
//! `grants`'s to decide.

use std::collections::{HashMap, HashSet};
use std::fmt;

use lambda_http::http::HeaderMap;
use livekit_lambda_shared::random::random_id;
use livekit_lambda_shared::token::Participant;
use livekit_lambda_shared::validate::{check_name, Identity, RoomName};
use livekit_lambda_shared::web::{optional_json, parse_query, printable, Form, InvalidName};
use livekit_lambda_shared::ErrorResponse;
use livekit_protocol::{RoomConfiguration, TokenSourceRequest};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::TokenError;
use crate::settings::{TokenSettings, MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_BYTES};

/// A validated request for one participant token: the participant asked for, in one of the
/// two forms (the simple form's identity may get a suffix: `grants`).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRequest {
    pub participant: Participant,
    pub form: Form,
}

/// Length of generated room names and identities (16 × 5 bits = 80 bits: unguessable).
const GENERATED_ID_CHARS: usize = 16;

impl TokenRequest {
    /// `GET /token?room=<room>&participant=<name>`: the participant name is both the
    /// display name and the identity asked for. A signed-in user's identity comes from the
    /// token instead, so for them `participant` may be left out.
    pub fn from_query(
        query: Option<&str>,
        settings: &TokenSettings,
        participant_required: bool,
    ) -> Result<Self, ErrorResponse> {
        let params = parse_query(query)?;
        let room = params.get("room").ok_or(TokenError::MissingParameter("room"))?;
        let limit = settings.limits.names;
        let room = RoomName::parse(room.as_str(), limit)
            .map_err(|problem| InvalidName { field: "room", problem })?
            .into_string();
        let participant = match params.get("participant") {
            Some(participant) => Identity::parse(participant.as_str(), limit)
                .map_err(|problem| InvalidName { field: "participant", problem })?
                .into_string(),
            None if participant_required => return Err(TokenError::MissingParameter("participant").into()),
            None => String::new(),
        };
        let participant =
            Participant { room, identity: participant.clone(), name: participant, ..Participant::default() };
        Ok(Self { participant, form: Form::Simple })
    }

    /// `POST /token` with a `TokenSourceRequest` body. Every field is optional; a
    /// missing room or identity is generated.
    pub fn from_standard_body(
        headers: &HeaderMap,
        body: &[u8],
        settings: &TokenSettings,
    ) -> Result<Self, ErrorResponse> {
        let (source, room_link) = standard_body(headers, body)?;
        if room_link.is_some() {
            return Err(TokenError::LinkNotHere.into());
        }
        Ok(Self { participant: participant_of(source, settings)?, form: Form::Standard })
    }
}

/// The participant a `TokenSourceRequest` asks for, checked against the settings' limits
/// and the open endpoint's rules (the standard endpoint's and a guest's redemption's).
pub(crate) fn participant_of(
    source: TokenSourceRequest,
    settings: &TokenSettings,
) -> Result<Participant, ErrorResponse> {
    let limit = settings.limits.names;
    let room = match source.room_name.filter(|r| !r.is_empty()) {
        Some(room) => {
            RoomName::parse(room, limit).map_err(|problem| InvalidName { field: "room_name", problem })?.into_string()
        }
        None => format!("room-{}", random_id(GENERATED_ID_CHARS)?),
    };
    let identity = match source.participant_identity.filter(|i| !i.is_empty()) {
        Some(identity) => Identity::parse(identity, limit)
            .map_err(|problem| InvalidName { field: "participant_identity", problem })?
            .into_string(),
        None => format!("participant-{}", random_id(GENERATED_ID_CHARS)?),
    };
    let name = source.participant_name.unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, limit.0).map_err(|problem| InvalidName { field: "participant_name", problem })?;
    }
    let metadata = source.participant_metadata.unwrap_or_default();
    if metadata.len() > settings.limits.metadata_bytes {
        return Err(TokenError::TooLarge {
            field: "participant_metadata",
            limit: format!("{} bytes", settings.limits.metadata_bytes),
        }
        .into());
    }
    check_attributes(&source.participant_attributes, settings)?;
    let room_config = match source.room_config {
        Some(config) => check_room_config(config, &room, settings)?,
        None => None,
    };
    Ok(Participant { room, identity, name, metadata, attributes: source.participant_attributes, room_config })
}

/// The `TokenSourceRequest` of a standard `POST` body, and its `room_link` field (which
/// livekit-protocol's type does not know): `{}` or no body at all is a request with
/// nothing set.
pub(crate) fn standard_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(TokenSourceRequest, Option<String>), ErrorResponse> {
    match optional_json(headers, body)? {
        None => Ok((TokenSourceRequest::default(), None)),
        Some(json) => Ok(parse_token_source_request(json)?),
    }
}

fn check_attributes(attributes: &HashMap<String, String>, settings: &TokenSettings) -> Result<(), ErrorResponse> {
    if attributes.len() > settings.limits.attributes {
        return Err(TokenError::TooLarge {
            field: "participant_attributes",
            limit: format!("{} entries", settings.limits.attributes),
        }
        .into());
    }
    for (key, value) in attributes {
        check_name(key, MAX_ATTRIBUTE_KEY_CHARS)
            .map_err(|problem| InvalidName { field: "participant_attributes key", problem })?;
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(TokenError::TooLarge {
                field: "participant_attributes value",
                limit: format!("{MAX_ATTRIBUTE_VALUE_BYTES} bytes"),
            }
            .into());
        }
    }
    Ok(())
}

/// The key of an agent's dispatch metadata that says who asked for it: the subtitle
/// dispatcher sets it from the verified participant token, so no caller may put it in a
/// token's dispatch (it would name someone else).
pub const REQUESTED_BY: &str = "requested_by";

/// What a caller may put in `room_config` through this open endpoint: agent dispatch
/// for allow-listed agents, and nothing else. Recording (`egress`) would let anyone
/// record to storage of their choosing; the room limits and metadata belong to the
/// application, not to whoever joins first. An empty config is no config.
fn check_room_config(
    config: RoomConfiguration,
    room: &str,
    settings: &TokenSettings,
) -> Result<Option<RoomConfiguration>, TokenError> {
    if config == RoomConfiguration::default() {
        return Ok(None);
    }
    if !config.name.is_empty() && config.name != room {
        return Err(TokenError::RoomConfigNameMismatch);
    }
    let refused = [
        ("egress", config.egress.is_some()),
        ("empty_timeout", config.empty_timeout != 0),
        ("departure_timeout", config.departure_timeout != 0),
        ("max_participants", config.max_participants != 0),
        ("metadata", !config.metadata.is_empty()),
        ("min_playout_delay", config.min_playout_delay != 0),
        ("max_playout_delay", config.max_playout_delay != 0),
        ("sync_streams", config.sync_streams),
        ("tags", !config.tags.is_empty()),
    ];
    if let Some((field, _)) = refused.iter().find(|(_, set)| *set) {
        return Err(TokenError::RoomConfigFieldNotAllowed(field));
    }
    let mut listed = HashSet::new();
    for agent in &config.agents {
        if agent.agent_name.is_empty() || !settings.allowed_agents.iter().any(|a| a == &agent.agent_name) {
            return Err(TokenError::AgentNotAllowed(printable(&agent.agent_name)));
        }
        // LiveKit starts one job per entry: each allowed agent at most once, so a token can
        // start no more jobs than there are allowed agents.
        if !listed.insert(agent.agent_name.as_str()) {
            return Err(TokenError::AgentRepeated(printable(&agent.agent_name)));
        }
        if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&agent.metadata)
            .is_ok_and(|metadata| metadata.contains_key(REQUESTED_BY))
        {
            return Err(TokenError::ReservedAgentMetadata(REQUESTED_BY));
        }
        if agent.metadata.len() > settings.limits.metadata_bytes {
            return Err(TokenError::TooLarge {
                field: "room_config.agents[].metadata",
                limit: format!("{} bytes", settings.limits.metadata_bytes),
            });
        }
    }
    Ok(Some(config))
}

/// The snake_case name of a top-level `TokenSourceRequest` field, whichever spelling
/// was used; protobuf JSON accepts both `room_name` and `roomName`.
fn canonical_field(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The top-level object as (key, raw value) pairs, in order, refusing a field given
/// twice (also as `room_name` + `roomName`) and dropping `null`s (protobuf JSON:
/// null means "not set", which the generated map deserialiser does not accept).
struct TopLevelFields(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for TopLevelFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = TopLevelFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevelFields, A::Error> {
                let mut seen = HashSet::new();
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    if !seen.insert(canonical_field(&key)) {
                        return Err(serde::de::Error::custom(format!(
                            "field `{}` is given more than once",
                            printable(&key)
                        )));
                    }
                    if value.get() != "null" {
                        fields.push((key, value));
                    }
                }
                Ok(TopLevelFields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// The request, and the `room_link` field taken out of it.
fn parse_token_source_request(body: &[u8]) -> Result<(TokenSourceRequest, Option<String>), TokenError> {
    let classify = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Data => TokenError::InvalidField(truncate(e.to_string())),
        _ => TokenError::InvalidJson(truncate(e.to_string())),
    };
    let mut fields: TopLevelFields = serde_json::from_slice(body).map_err(classify)?;
    // `participant_attributes` is a map, which the generated deserialiser reads keeping the
    // last of two equal keys: a parser differential with any reader that keeps the first.
    if let Some((_, attributes)) = fields.0.iter().find(|(key, _)| canonical_field(key) == ATTRIBUTES_FIELD) {
        if let Ok(UniqueKeys(Err(key))) = serde_json::from_str::<UniqueKeys>(attributes.get()) {
            return Err(TokenError::DuplicateAttribute(printable(&key)));
        }
    }
    let room_link = match fields.0.iter().position(|(key, _)| canonical_field(key) == ROOM_LINK_FIELD) {
        Some(at) => Some(
            serde_json::from_str::<String>(fields.0.remove(at).1.get())
                .map_err(|_| TokenError::InvalidField(format!("`{ROOM_LINK_FIELD}` must be a string")))?,
        ),
        None => None,
    };
    // Re-assemble the object without the nulls and let livekit-protocol's generated
    // deserialiser read it: snake_case and lowerCamelCase both work, unknown fields
    // are ignored (forward compatible with newer client SDKs), types are checked.
    let mut object = String::with_capacity(body.len() + 2);
    object.push('{');
    for (i, (key, value)) in fields.0.iter().enumerate() {
        if i > 0 {
            object.push(',');
        }
        object.push_str(&serde_json::to_string(key).map_err(classify)?);
        object.push(':');
        object.push_str(value.get());
    }
    object.push('}');
    Ok((serde_json::from_str(&object).map_err(classify)?, room_link))
}

/// The body field a room link travels in (`roomLink` too, as protobuf JSON would spell it).
const ROOM_LINK_FIELD: &str = "room_link";
const ATTRIBUTES_FIELD: &str = "participant_attributes";

/// A JSON object's keys checked for repeats: `Err(key)` for the first key given twice. Any
/// other JSON is `Ok`: the type is the generated deserialiser's to check.
struct UniqueKeys(Result<(), String>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if !seen.insert(key.clone()) {
                        return Ok(UniqueKeys(Err(key)));
                    }
                }
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
                Ok(UniqueKeys(Ok(())))
            }
        }
        deserializer.deserialize_any(KeysVisitor)
    }
}

fn truncate(mut message: String) -> String {
    if message.len() > 200 {
        let cut = (0..=200).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        h
    }

    fn post(body: &str, settings: &TokenSettings) -> Result<Participant, ErrorResponse> {
        TokenRequest::from_standard_body(&json_headers(), body.as_bytes(), settings).map(|r| r.participant)
    }

    fn query(query: &str, settings: &TokenSettings) -> Result<Participant, ErrorResponse> {
        TokenRequest::from_query(Some(query), settings, true).map(|r| r.participant)
    }

    fn code(result: Result<Participant, ErrorResponse>) -> &'static str {
        result.unwrap_err().code
    }

    #[test]
    fn get_contract_uses_participant_as_identity_and_name() {
        let s = TokenSettings::default();
        let r = query("room=demo&participant=Jane", &s).unwrap();
        assert_eq!((r.room.as_str(), r.identity.as_str(), r.name.as_str()), ("demo", "Jane", "Jane"));
        assert_eq!(code(query("room=demo", &s)), "missing_parameter");
        assert_eq!(code(query("participant=x", &s)), "missing_parameter");
        assert_eq!(code(query("room=&participant=x", &s)), "invalid_room");
        assert_eq!(code(query("room=a%01b&participant=x", &s)), "invalid_room");
        assert_eq!(code(query("room=a&participant=%0A", &s)), "invalid_identity");
        assert_eq!(code(query("room=a&room=b&participant=x", &s)), "duplicate_parameter");
    }

    #[test]
    fn standard_body_accepts_snake_and_camel_case() {
        let s = TokenSettings::default();
        let snake = post(r#"{"room_name":"r","participant_identity":"i","participant_name":"N","participant_metadata":"m","participant_attributes":{"k":"v"}}"#, &s).unwrap();
        let camel = post(r#"{"roomName":"r","participantIdentity":"i","participantName":"N","participantMetadata":"m","participantAttributes":{"k":"v"}}"#, &s).unwrap();
        assert_eq!(snake, camel);
        assert_eq!(
            (snake.room.as_str(), snake.identity.as_str(), snake.name.as_str(), snake.metadata.as_str()),
            ("r", "i", "N", "m")
        );
        assert_eq!(snake.attributes["k"], "v");
    }

    #[test]
    fn empty_body_generates_unguessable_room_and_identity() {
        let s = TokenSettings::default();
        for body in [
            "{}",
            "",
            "  ",
            r#"{"room_config":null}"#,
            r#"{"room_config":{}}"#,
            r#"{"participant_attributes":null,"room_name":null}"#,
        ] {
            let r = post(body, &s).unwrap_or_else(|e| panic!("{body:?}: {e}"));
            assert!(r.room.starts_with("room-") && r.room.len() == 5 + 16, "{body:?} → {}", r.room);
            assert!(r.identity.starts_with("participant-"), "{}", r.identity);
            assert_eq!(r.room_config, None);
        }
        let bare = TokenRequest::from_standard_body(&HeaderMap::new(), b"", &s).unwrap();
        assert!(bare.participant.room.starts_with("room-"));
    }

    #[test]
    fn malformed_bodies_get_stable_codes() {
        let s = TokenSettings::default();
        assert_eq!(code(post("{", &s)), "invalid_json");
        assert_eq!(code(post("[]", &s)), "invalid_field");
        assert_eq!(code(post(r#"{"room_name":5}"#, &s)), "invalid_field");
        assert_eq!(code(post(r#"{"room_name":"a","room_name":"b"}"#, &s)), "invalid_field");
        assert_eq!(code(post(r#"{"room_name":"a","roomName":"b"}"#, &s)), "invalid_field");
        assert_eq!(code(post(r#"{"participant_attributes":{"k":1}}"#, &s)), "invalid_field");
        assert_eq!(code(post(r#"{"room_name":"bad\u0001"}"#, &s)), "invalid_room");
        assert_eq!(code(post(r#"{"participant_identity":"   "}"#, &s)), "invalid_identity");
        assert_eq!(code(post(r#"{"participant_name":"a\nb"}"#, &s)), "invalid_name");
        // Deep nesting never recurses without bound: a wrong shape where a message is
        // expected is a plain 400, and 100 000 levels inside an ignored field are skipped.
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(code(post(&format!(r#"{{"room_config":{deep}}}"#), &s)), "invalid_field");
        let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let big = TokenSettings { limits: crate::settings::Limits { body_bytes: 1 << 20, ..s.limits }, ..s.clone() };
        assert!(post(&format!(r#"{{"unknown":{deeper}}}"#), &big).is_ok(), "ignored fields are skipped iteratively");
        let mut text = HeaderMap::new();
        text.insert("content-type", HeaderValue::from_static("text/plain"));
        let standard =
            |headers: &HeaderMap| TokenRequest::from_standard_body(headers, b"{}", &s).map(|r| r.participant);
        assert_eq!(code(standard(&text)), "unsupported_media_type");
        assert_eq!(code(standard(&HeaderMap::new())), "unsupported_media_type");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r = post(r#"{"room_name":"r","future_field":{"x":[1,2]}}"#, &TokenSettings::default()).unwrap();
        assert_eq!(r.room, "r");
    }

    #[test]
    fn limits_on_metadata_and_attributes() {
        let s = TokenSettings::default();
        let big = "x".repeat(s.limits.metadata_bytes + 1);
        assert_eq!(code(post(&format!(r#"{{"participant_metadata":"{big}"}}"#), &s)), "field_too_large");
        let many: Vec<String> = (0..=s.limits.attributes).map(|i| format!(r#""k{i}":"v""#)).collect();
        assert_eq!(
            code(post(&format!(r#"{{"participant_attributes":{{{}}}}}"#, many.join(",")), &s)),
            "field_too_large"
        );
        assert_eq!(code(post(r#"{"participant_attributes":{"":"v"}}"#, &s)), "invalid_field");
    }

    #[test]
    fn agent_dispatch_only_for_allow_listed_agents() {
        let closed = TokenSettings::default();
        let body = r#"{"room_name":"r","room_config":{"agents":[{"agent_name":"transcriber","metadata":"{\"lang\":\"en\"}"}]}}"#;
        assert_eq!(code(post(body, &closed)), "agent_not_allowed");
        let open = TokenSettings { allowed_agents: vec!["transcriber".into()], ..Default::default() };
        let r = post(body, &open).unwrap();
        let config = r.room_config.unwrap();
        assert_eq!(config.agents[0].agent_name, "transcriber");
        assert_eq!(config.agents[0].metadata, r#"{"lang":"en"}"#);
        let camel = r#"{"roomName":"r","roomConfig":{"agents":[{"agentName":"transcriber"}]}}"#;
        assert_eq!(post(camel, &open).unwrap().room_config.unwrap().agents[0].agent_name, "transcriber");
        assert_eq!(code(post(r#"{"room_config":{"agents":[{"agent_name":"other"}]}}"#, &open)), "agent_not_allowed");
        assert_eq!(code(post(r#"{"room_config":{"agents":[{}]}}"#, &open)), "agent_not_allowed");
    }

    #[test]
    fn one_job_per_allowed_agent_and_no_forged_requester() {
        let open = TokenSettings { allowed_agents: vec!["transcriber".into()], ..Default::default() };
        let twice = r#"{"room_config":{"agents":[{"agent_name":"transcriber"},{"agent_name":"transcriber"}]}}"#;
        assert_eq!(code(post(twice, &open)), "invalid_field");
        let forged =
            r#"{"room_config":{"agents":[{"agent_name":"transcriber","metadata":"{\"requested_by\":\"user:ceo\"}"}]}}"#;
        assert_eq!(code(post(forged, &open)), "field_not_allowed");
        let text = r#"{"room_config":{"agents":[{"agent_name":"transcriber","metadata":"requested_by: me"}]}}"#;
        assert!(post(text, &open).is_ok(), "metadata that is not a JSON object is the caller's own format");
    }

    #[test]
    fn attribute_keys_are_given_once() {
        let s = TokenSettings::default();
        assert_eq!(code(post(r#"{"participant_attributes":{"role":"guest","role":"host"}}"#, &s)), "invalid_field");
        assert_eq!(code(post(r#"{"participantAttributes":{"a":"1","a":"2"}}"#, &s)), "invalid_field");
        assert!(post(r#"{"participant_attributes":{"a":"1","b":"2"}}"#, &s).is_ok());
        assert_eq!(code(post(r#"{"participant_attributes":["a"]}"#, &s)), "invalid_field", "the type is still checked");
    }

    #[test]
    fn other_room_config_fields_are_refused() {
        let s = TokenSettings::default();
        for (body, field) in [
            (r#"{"room_config":{"egress":{"room":{"room_name":"r"}}}}"#, "egress"),
            (r#"{"room_config":{"max_participants":1}}"#, "max_participants"),
            (r#"{"room_config":{"metadata":"x"}}"#, "metadata"),
        ] {
            let response = post(body, &s).unwrap_err();
            assert!(response.message.contains(field), "{}", response.message);
            assert_eq!((response.code, response.status.as_u16()), ("field_not_allowed", 403));
        }
        assert_eq!(code(post(r#"{"room_name":"a","room_config":{"name":"b"}}"#, &s)), "invalid_field");
        assert!(post(r#"{"room_name":"a","room_config":{"name":"a"}}"#, &s).is_ok());
    }
}
