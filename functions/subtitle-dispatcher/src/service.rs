//! `POST` / `DELETE /rooms/{room}/subtitles`: a participant who proves access to the room
//! with their LiveKit token starts or stops the transcriber agent there. Clients never
//! call AgentDispatchService themselves: it needs admin credentials.

use std::sync::Arc;

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache, LiveKitClients};
use livekit_lambda_shared::routes::{Function, Matched};
use livekit_lambda_shared::state::{self, MemoryStore, SharedStore};
use livekit_lambda_shared::token::{verify_room_token, TokenRejection};
use livekit_lambda_shared::validate::RoomName;
use livekit_lambda_shared::web::{self, json_response, CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, CredentialStore, EnvSettings, Feature, Service};
use livekit_protocol as proto;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::SubtitleError;
use crate::rate_limit::RateLimiter;
use crate::settings::SubtitleSettings;

/// Largest accepted body (`{"language":"…"}`).
const MAX_BODY_BYTES: usize = 4096;

/// The room named by the route's `{room}` segment, percent-decoded and validated with
/// the limit every function shares (`MAX_NAME_CHARS`).
fn room_of_segment(segment: &str, settings: &SubtitleSettings) -> Result<RoomName, SubtitleError> {
    RoomName::parse(web::decode_segment(segment)?, settings.names).map_err(SubtitleError::InvalidRoom)
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
    /// In-process state: one process is the whole fleet (tests, `make dev`).
    pub fn new(settings: SubtitleSettings, credentials: Arc<CredentialStore>) -> Self {
        Self::with_store(settings, credentials, Arc::new(MemoryStore::default()))
    }

    pub fn with_store(settings: SubtitleSettings, credentials: Arc<CredentialStore>, store: SharedStore) -> Self {
        let clients = ClientCache::new(settings.api_timeout);
        let limiter = RateLimiter::new(settings.requests_per_minute, store);
        Self { inner: Arc::new(Inner { settings, credentials, clients, limiter }) }
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }

    async fn start_or_stop(
        &self,
        request: &Request<Body>,
        agent: &str,
        room: &str,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, SubtitleError> {
        let inner = &self.inner;
        // Bounded before anything else, authenticated or not.
        web::body_within(request, MAX_BODY_BYTES)?;
        let token = web::bearer_token(request.headers()).ok_or(SubtitleError::MissingToken)?;
        // The whole point: a token for room A never acts in room B. Nothing reaches
        // LiveKit before this check passes. A key this container does not know yet (added
        // by a rotation) gets one rate-limited re-read of SSM; a known key with a bad
        // signature costs nothing.
        let (credentials, verified) = inner
            .credentials
            .verify_by_issuer(
                inner.settings.forced_refresh_interval,
                |rejection| *rejection == TokenRejection::UnknownIssuer,
                |credentials| verify_room_token(credentials, token, room),
            )
            .await?;
        let claims = verified.map_err(SubtitleError::Token)?;
        let identity = claims.sub;
        facts.identity = Some(identity.clone());
        let language = if request.method() == Method::POST { self.language(request)? } else { None };
        inner.limiter.check(&identity).await?.map_err(|retry_after| {
            metrics::rate_limited();
            SubtitleError::RateLimited(retry_after)
        })?;

        let clients = inner.clients.clients(&credentials).await;
        self.check_room_and_presence(&clients, room, &identity).await?;
        let dispatches = clients.dispatch().list_dispatch(room).await.map_err(|e| {
            SubtitleError::LiveKit(ApiFailure::from_service_error("AgentDispatchService.ListDispatch", &e))
        })?;
        let existing = dispatches.into_iter().find(|d| d.agent_name == agent);

        if request.method() == Method::DELETE {
            let Some(dispatch) = existing else { return Err(SubtitleError::NotRunning) };
            return match clients.dispatch().delete_dispatch(&dispatch.id, room).await {
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
            .dispatch()
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
        metrics::subtitle_dispatch();
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
            .room()
            .list_rooms(vec![room.to_string()])
            .await
            .map_err(|e| SubtitleError::LiveKit(ApiFailure::from_service_error("RoomService.ListRooms", &e)))?;
        if !rooms.iter().any(|r| r.name == room) {
            return Err(SubtitleError::RoomNotFound(web::printable(room)));
        }
        if !self.inner.settings.require_presence {
            return Ok(());
        }
        match clients.room().get_participant(room, identity).await {
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

impl Service for SubtitleService {
    const FUNCTION: Function = Function::SubtitleDispatcher;

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = SubtitleSettings::from_env(env)?;
        Ok(Self::with_store(settings, credentials, state::from_env(env).await?))
    }

    fn credentials(&self) -> &CredentialStore {
        &self.inner.credentials
    }

    fn cors(&self) -> &CorsPolicy {
        &self.inner.settings.cors
    }

    /// Off (`SUBTITLE_AGENT_NAME` unset or `SUBTITLES_ENABLED=false`): 404 everywhere.
    fn enabled(&self) -> bool {
        self.inner.settings.active_agent().is_some()
    }

    fn features(&self) -> Vec<Feature> {
        vec![Feature {
            name: "subtitles (/rooms/{room}/subtitles)",
            on: self.enabled(),
            switch: "SUBTITLE_AGENT_NAME=<agent> (and SUBTITLES_ENABLED not false)",
        }]
    }

    async fn call(
        &self,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        let settings = &self.inner.settings;
        let agent = settings.active_agent().unwrap_or_default();
        let room = room_of_segment(route.segment().unwrap_or_default(), settings)?;
        facts.room = Some(room.to_string());
        Ok(self.start_or_stop(request, agent, &room, facts).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_comes_from_the_path_with_the_shared_limit() {
        let settings = SubtitleSettings::default();
        let room = |segment: &str| room_of_segment(segment, &settings).map(RoomName::into_string);
        assert_eq!(room("demo").unwrap(), "demo");
        assert_eq!(room("J%C3%A9r%C3%B4me%20room").unwrap(), "Jérôme room");
        assert!(matches!(room("%ZZ"), Err(SubtitleError::Request(_))));
        assert!(matches!(room(&"r".repeat(129)), Err(SubtitleError::InvalidRoom(_))));
        let wide = SubtitleSettings::from_env(&EnvSettings::from_pairs([("MAX_NAME_CHARS", "200")])).unwrap();
        assert!(room_of_segment(&"r".repeat(200), &wide).is_ok(), "MAX_NAME_CHARS applies here too");
    }
}
