//! What a request carries, read strictly and one way for every function: the query string,
//! a `{…}` path segment, the body's size and media type, an optional JSON body, the bearer
//! token; and the refusals of each ([`RequestError`], [`InvalidName`]).

use std::collections::HashMap;

use lambda_http::http::header::{self, HeaderMap};
use lambda_http::http::{Request, StatusCode};
use lambda_http::Body;

use super::refusal::HttpError;
use crate::routes::Matched;
use crate::validate::{NameLimit, NameProblem, RoomName};

/// What is wrong with a request before any function-specific rule is applied: the
/// query string, the body's size and type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("query parameter `{0}` is given more than once")]
    DuplicateParameter(String),
    #[error("the query string is not valid percent-encoded UTF-8")]
    InvalidEncoding,
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The media type the route reads.
    #[error("request body must be {0}")]
    UnsupportedMediaType(&'static str),
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::DuplicateParameter(_) => "duplicate_parameter",
            RequestError::InvalidEncoding => "invalid_encoding",
            RequestError::BodyTooLarge(_) => "body_too_large",
            RequestError::UnsupportedMediaType(_) => "unsupported_media_type",
        }
    }
}

impl HttpError for RequestError {
    fn status(&self) -> StatusCode {
        match self {
            RequestError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        RequestError::code(self)
    }
}

/// A name a request gave (a room, an identity, a display name, an attribute key) that
/// breaks the rules of `validate`: a 400 naming the field, with a code clients branch on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct InvalidName {
    pub field: &'static str,
    pub problem: NameProblem,
}

impl HttpError for InvalidName {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
    fn code(&self) -> &'static str {
        match self.field {
            "room" | "room_name" => "invalid_room",
            "participant" | "participant_identity" | "identity" => "invalid_identity",
            "participant_name" | "name" => "invalid_name",
            _ => "invalid_field",
        }
    }
}

/// The token in an `Authorization` header, read one way for every route (RFC 7235: the
/// scheme is case-insensitive). `Bearer <token>` in any case, or the bare token, which is
/// how LiveKit signs webhook deliveries and what API Gateway's JWT authorizer also takes.
/// Another scheme (`Basic …`) or a blank value is no token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        // `Bearer` with nothing after it is a scheme without a token.
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

/// A `{…}` path segment, percent-decoded (a route's `{room}`). Strictly as a path: a `+` is a
/// `+` (only a query's form encoding makes it a space; issue 28: room `a+b`'s routes were
/// read as room "a b"), a broken escape or bytes that are not UTF-8 are refused.
pub fn decode_segment(segment: &str) -> Result<String, RequestError> {
    decode_component(segment, false)
}

/// A refusal of a route's `{room}`: its encoding, or the name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomSegmentError {
    #[error(transparent)]
    Encoding(#[from] RequestError),
    #[error(transparent)]
    Name(#[from] InvalidName),
}

impl HttpError for RoomSegmentError {
    fn status(&self) -> StatusCode {
        match self {
            RoomSegmentError::Encoding(e) => e.status(),
            RoomSegmentError::Name(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            RoomSegmentError::Encoding(e) => HttpError::code(e),
            RoomSegmentError::Name(e) => e.code(),
        }
    }
}

/// The room of a route's `{room}` segment (the first one), decoded and validated with the
/// limit every function shares (`MAX_NAME_CHARS`), so a token for a room and a route of
/// that room can never disagree on its name.
pub fn room_segment(route: &Matched<'_>, limit: NameLimit) -> Result<RoomName, RoomSegmentError> {
    let decoded = decode_segment(route.segment().unwrap_or_default())?;
    Ok(RoomName::parse(decoded, limit).map_err(|problem| InvalidName { field: "room", problem })?)
}

/// Parses a query string strictly: every key at most once, valid percent-encoding,
/// valid UTF-8. (Lenient parsers silently pick one of two `room=` values or replace
/// broken bytes, and then the token is for a room nobody asked for.)
pub fn parse_query(query: Option<&str>) -> Result<HashMap<String, String>, RequestError> {
    let mut pairs = HashMap::new();
    let Some(query) = query else { return Ok(pairs) };
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_component(raw_key, true)?;
        let value = decode_component(raw_value, true)?;
        if pairs.insert(key.clone(), value).is_some() {
            return Err(RequestError::DuplicateParameter(printable(&key)));
        }
    }
    Ok(pairs)
}

/// Percent-decodes `raw`; in a query (`plus_is_space`), `+` is a space too.
fn decode_component(raw: &str, plus_is_space: bool) -> Result<String, RequestError> {
    let bad = || RequestError::InvalidEncoding;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).ok_or_else(bad)?;
                // Checked above: from_str_radix alone would also take a sign (`%+0`).
                let text = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| bad())?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A value made safe to put in a message: control characters escaped, length capped.
pub fn printable(value: &str) -> String {
    let mut out: String = value.chars().take(64).flat_map(char::escape_debug).collect();
    if value.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// The request's media type (`application/json; charset=utf-8` → `application/json`).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// The body bytes, refusing more than `limit`. Lambda has the whole body in memory
/// already (API Gateway decodes base64 bodies into `Body::Binary`).
pub fn body_within(request: &Request<Body>, limit: usize) -> Result<&[u8], RequestError> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > limit {
        return Err(RequestError::BodyTooLarge(limit));
    }
    Ok(body)
}

/// A JSON body that may be left out: `None` when `body` is empty or only whitespace
/// (whatever its declared type: there is nothing to read), the bytes when the request says
/// `application/json`, `415` otherwise. The one rule for the standard token endpoint,
/// room-link requests and subtitle requests (bound the size first: [`body_within`]).
pub fn optional_json<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<Option<&'a [u8]>, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if media_type(headers).as_deref() != Some("application/json") {
        return Err(RequestError::UnsupportedMediaType("application/json"));
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn query_parsing_is_strict() {
        let q = parse_query(Some("room=demo%20room&participant=J%C3%A9r%C3%B4me+B&empty=")).unwrap();
        assert_eq!(q["room"], "demo room");
        assert_eq!(q["participant"], "Jérôme B");
        assert_eq!(q["empty"], "");
        assert_eq!(parse_query(Some("room=a&room=b")).unwrap_err().code(), "duplicate_parameter");
        assert_eq!(parse_query(Some("room=%ZZ")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%C3")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%4")).unwrap_err().code(), "invalid_encoding");
        assert_eq!(parse_query(Some("room=%+0")).unwrap_err().code(), "invalid_encoding", "no sign inside an escape");
        assert!(parse_query(None).unwrap().is_empty());
    }

    #[test]
    fn one_bearer_rule_for_every_route() {
        let token = |value: &str| bearer_token(&headers(&[("authorization", value)])).map(str::to_string);
        assert_eq!(token("Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(token("bearer abc").as_deref(), Some("abc"), "the scheme is case-insensitive (RFC 7235)");
        assert_eq!(token("BEARER   abc  ").as_deref(), Some("abc"));
        assert_eq!(token("abc.def.ghi").as_deref(), Some("abc.def.ghi"), "a bare token, as LiveKit signs webhooks");
        assert_eq!(token("Basic dXNlcjpwYXNz"), None, "another scheme is no bearer token");
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("   "), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_room_segment_is_decoded_and_held_to_the_shared_limit() {
        use crate::routes::find;
        let room = |path: &str, limit| room_segment(&find(path).unwrap(), NameLimit(limit)).map(RoomName::into_string);
        assert_eq!(room("/rooms/demo/subtitles", 128).unwrap(), "demo");
        assert_eq!(room("/rooms/J%C3%A9r%C3%B4me%20room/subtitles", 128).unwrap(), "Jérôme room");
        assert_eq!(HttpError::code(&room("/rooms/%ZZ/subtitles", 128).unwrap_err()), "invalid_encoding");
        assert_eq!(
            HttpError::code(&room(&format!("/rooms/{}/links", "r".repeat(129)), 128).unwrap_err()),
            "invalid_room"
        );
        assert!(room(&format!("/rooms/{}/links", "r".repeat(200)), 200).is_ok(), "MAX_NAME_CHARS applies");
        assert_eq!(room("/rooms/a+b/subtitles", 128).unwrap(), "a+b", "a path segment is not form-encoded");
        assert_eq!(room("/rooms/a%2Bb%20c/links", 128).unwrap(), "a+b c");
    }
}
