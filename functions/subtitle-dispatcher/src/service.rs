//! `POST` / `DELETE /rooms/{room}/subtitles`: a participant who proves access to the room
//! with their LiveKit token starts or stops the transcriber agent there. Clients never
//! call AgentDispatchService themselves: it needs admin credentials.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache, LiveKitClients};
use livekit_lambda_shared::token::verify_room_token;
use livekit_lambda_shared::validate::check_name;
use livekit_lambda_shared::web::{self, json_response, RequestFacts};
use livekit_lambda_shared::{CredentialStore, EnvSettings, Runtime};
use livekit_protocol as proto;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::SubtitleError;
use crate::rate_limit::RateLimiter;
use crate::settings::SubtitleSettings;

/// The route, as API Gateway and the template name it.
pub const ROUTE_TEMPLATE: &str = "/rooms/{room}/subtitles";
pub const METHODS: &[Method] = &[Method::POST, Method::DELETE, Method::OPTIONS];
pub const ROUTES: &[(&str, &[Method])] = &[(ROUTE_TEMPLATE, METHODS)];

/// Largest accepted body (`{"language":"…"}`).
const MAX_BODY_BYTES: usize = 4096;
const MAX_ROOM_CHARS: usize = 128;

/// The room of a `/rooms/{room}/subtitles` path, percent-decoded; `None` for any other path.
pub fn room_of_path(path: &str) -> Option<Result<String, SubtitleError>> {
    let segment = path.strip_prefix("/rooms/")?.strip_suffix("/subtitles")?;
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    let query = format!("room={segment}");
    Some(web::parse_query(Some(&query)).map_err(SubtitleError::Http).and_then(|mut q| {
        q.remove("room").ok_or(SubtitleError::InvalidRoom(livekit_lambda_shared::validate::NameProblem::Empty))
    }))
}

#[derive(Debug, Serialize)]
struct DispatchReply<'a> {
    dispatch_id: &'a str,
    agent_name: &'a str,
    room: &'a str,
    /// False when subtitles were already running and nothing new was dispatched.
    created: bool,
}

#[derive(Debug)]
struct Inner {
    settings: SubtitleSettings,
    credentials: Arc<CredentialStore>,
    clients: ClientCache,
    limiter: RateLimiter,
}

#[derive(Clone, Debug)]
pub struct SubtitleService {
    inner: Arc<Inner>,
}

impl SubtitleService {
    pub fn new(settings: SubtitleSettings, credentials: Arc<CredentialStore>) -> Self {
        let clients = ClientCache::new(settings.api_timeout);
        let limiter = RateLimiter::new(settings.requests_per_minute);
        Self { inner: Arc::new(Inner { settings, credentials, clients, limiter }) }
    }

    pub async fn from_env(env: &EnvSettings, runtime: Runtime) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = SubtitleSettings::from_env(env)?;
        let credentials = CredentialStore::from_env(env, runtime).await?;
        Ok(Self::new(settings, Arc::new(credentials)))
    }

    /// Shares one credential store with the other routes of the local server.
    pub fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        Ok(Self::new(SubtitleSettings::from_env(env)?, credentials))
    }

    pub async fn warm_up(&self) {
        if self.inner.settings.active_agent().is_none() {
            tracing::info!(
                "subtitles are off (SUBTITLE_AGENT_NAME unset or SUBTITLES_ENABLED=false): every route answers 404"
            );
            return;
        }
        self.inner.credentials.warm_up().await;
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let mut facts = RequestFacts::default();
        let settings = &self.inner.settings;
        let room = room_of_path(request.uri().path());
        let result = match (settings.active_agent(), room) {
            // Off, or not our path: as if the function did not exist.
            (None, _) | (_, None) => Err(SubtitleError::Http(web::ErrorResponse::not_found())),
            (Some(_), Some(Err(error))) => Err(error),
            (Some(agent), Some(Ok(room))) => {
                facts.room = Some(room.clone());
                match method {
                    Method::OPTIONS => settings.cors.preflight(request.headers(), METHODS).map_err(SubtitleError::Http),
                    Method::POST | Method::DELETE => self.start_or_stop(&request, agent, &room, &mut facts).await,
                    _ => Ok(web::method_not_allowed(METHODS)),
                }
            }
        };
        let route = if facts.room.is_some() { ROUTE_TEMPLATE } else { "unknown" };
        let retry_after = match &result {
            Err(SubtitleError::RateLimited(seconds)) => HeaderValue::from_str(&seconds.to_string()).ok(),
            _ => None,
        };
        let result = result.map_err(|error| {
            let rendered = error.to_error_response();
            if rendered.status.is_server_error() {
                tracing::error!(error = %error, code = rendered.code, "subtitle request failed");
            }
            rendered
        });
        let mut response = web::finish(request.headers(), &method, route, started, facts, result, &settings.cors);
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }

    async fn start_or_stop(
        &self,
        request: &Request<Body>,
        agent: &str,
        room: &str,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, SubtitleError> {
        let inner = &self.inner;
        check_name(room, MAX_ROOM_CHARS).map_err(SubtitleError::InvalidRoom)?;
        // Bounded before anything else, authenticated or not.
        web::body_within(request, MAX_BODY_BYTES)?;
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(SubtitleError::MissingToken)?;
        let credentials = inner.credentials.current().await?;
        // The whole point: a token for room A never acts in room B. Nothing reaches
        // LiveKit before this check passes.
        let claims = verify_room_token(&credentials, token, room).map_err(SubtitleError::Token)?;
        let identity = claims.sub;
        facts.identity = Some(identity.clone());
        let language = if request.method() == Method::POST { self.language(request)? } else { None };
        inner.limiter.check(&identity).await.map_err(SubtitleError::RateLimited)?;

        let clients = inner.clients.clients(&credentials).await;
        self.check_room_and_presence(&clients, room, &identity).await?;
        let dispatches = clients.dispatch.list_dispatch(room).await.map_err(|e| {
            SubtitleError::LiveKit(ApiFailure::from_service_error("AgentDispatchService.ListDispatch", &e))
        })?;
        let existing = dispatches.into_iter().find(|d| d.agent_name == agent);

        if request.method() == Method::DELETE {
            let Some(dispatch) = existing else { return Err(SubtitleError::NotRunning) };
            return match clients.dispatch.delete_dispatch(&dispatch.id, room).await {
                Ok(_) => Ok(web::empty_response(StatusCode::NO_CONTENT)),
                Err(e) => {
                    let failure = ApiFailure::from_service_error("AgentDispatchService.DeleteDispatch", &e);
                    // Gone between list and delete: what the caller wanted.
                    if failure.is_code("not_found") {
                        Ok(web::empty_response(StatusCode::NO_CONTENT))
                    } else {
                        Err(SubtitleError::LiveKit(failure))
                    }
                }
            };
        }

        if let Some(dispatch) = existing {
            return Ok(json_response(
                StatusCode::OK,
                &DispatchReply { dispatch_id: &dispatch.id, agent_name: agent, room, created: false },
            ));
        }
        // Who asked and which language; never the participant's token.
        let mut metadata = json!({"requested_by": identity});
        if let Some(language) = &language {
            metadata["language"] = Value::String(language.clone());
        }
        let created = clients
            .dispatch
            .create_dispatch(proto::CreateAgentDispatchRequest {
                agent_name: agent.to_string(),
                room: room.to_string(),
                metadata: metadata.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                SubtitleError::LiveKit(ApiFailure::from_service_error("AgentDispatchService.CreateDispatch", &e))
            })?;
        tracing::info!(room, identity = %identity, dispatch_id = %created.id, agent, "subtitle agent dispatched");
        Ok(json_response(
            StatusCode::CREATED,
            &DispatchReply { dispatch_id: &created.id, agent_name: agent, room, created: true },
        ))
    }

    /// The optional `{"language": "…"}` body, checked against the configured list.
    fn language(&self, request: &Request<Body>) -> Result<Option<String>, SubtitleError> {
        let body = web::body_within(request, MAX_BODY_BYTES)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if web::media_type(request.headers()).as_deref() != Some("application/json") {
            return Err(SubtitleError::UnsupportedMediaType);
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct StartRequest {
            language: Option<String>,
        }
        let parsed: StartRequest =
            serde_json::from_slice(body).map_err(|e| SubtitleError::InvalidBody(e.to_string()))?;
        match parsed.language {
            None => Ok(None),
            Some(language) if self.inner.settings.languages.iter().any(|l| l.eq_ignore_ascii_case(&language)) => {
                Ok(Some(language))
            }
            Some(language) => Err(SubtitleError::LanguageNotAllowed(web::printable(&language))),
        }
    }

    async fn check_room_and_presence(
        &self,
        clients: &LiveKitClients,
        room: &str,
        identity: &str,
    ) -> Result<(), SubtitleError> {
        let rooms = clients
            .room
            .list_rooms(vec![room.to_string()])
            .await
            .map_err(|e| SubtitleError::LiveKit(ApiFailure::from_service_error("RoomService.ListRooms", &e)))?;
        if !rooms.iter().any(|r| r.name == room) {
            return Err(SubtitleError::RoomNotFound(web::printable(room)));
        }
        if !self.inner.settings.require_presence {
            return Ok(());
        }
        match clients.room.get_participant(room, identity).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = ApiFailure::from_service_error("RoomService.GetParticipant", &e);
                if failure.is_code("not_found") {
                    Err(SubtitleError::NotInRoom)
                } else {
                    Err(SubtitleError::LiveKit(failure))
                }
            }
        }
    }
}

impl livekit_lambda_shared::lambda::Handler for SubtitleService {
    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        SubtitleService::handle(self, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_comes_from_the_path() {
        assert_eq!(room_of_path("/rooms/demo/subtitles").unwrap().unwrap(), "demo");
        assert_eq!(room_of_path("/rooms/J%C3%A9r%C3%B4me%20room/subtitles").unwrap().unwrap(), "Jérôme room");
        assert!(room_of_path("/rooms//subtitles").is_none());
        assert!(room_of_path("/rooms/a/b/subtitles").is_none());
        assert!(room_of_path("/token").is_none());
        assert!(room_of_path("/rooms/%ZZ/subtitles").unwrap().is_err());
    }
}
