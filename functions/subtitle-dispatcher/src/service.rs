//! `POST` / `DELETE /rooms/{room}/subtitles`: a participant who proves access to the room
//! with their LiveKit token starts or stops the transcriber agent there. Clients never
//! call AgentDispatchService themselves: it needs admin credentials.

use std::sync::Arc;

use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache, LiveKitClients};
use livekit_lambda_shared::routes::{self, Function, Matched};
use livekit_lambda_shared::state::{self, MemoryStore, SharedStore};
use livekit_lambda_shared::token::{verify_room_token, TokenRejection};
use livekit_lambda_shared::web::{self, json_response, CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, EnvSettings, Feature, Service};
use livekit_protocol as proto;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::SubtitleError;
use crate::rate_limit::RateLimiter;
use crate::settings::SubtitleSettings;

/// Largest accepted body (`{"language":"…"}`).
const MAX_BODY_BYTES: usize = 4096;

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
    ) -> Result<Response<Body>, ErrorResponse> {
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
        let claims = verified?;
        let identity = claims.sub;
        facts.identity = Some(identity.clone());
        let language = if request.method() == Method::POST { self.language(request)? } else { None };
        if let Err(retry_after) = inner.limiter.check(&identity).await? {
            metrics::rate_limited();
            return Err(SubtitleError::RateLimited(retry_after).into());
        }

        let clients = inner.clients.clients(&credentials).await;
        self.check_room_and_presence(&clients, room, &identity).await?;
        let dispatches = clients
            .dispatch()
            .list_dispatch(room)
            .await
            .map_err(|e| ApiFailure::from_service_error("AgentDispatchService.ListDispatch", &e))?;
        let existing = dispatches.into_iter().find(|d| d.agent_name == agent);

        if request.method() == Method::DELETE {
            let Some(dispatch) = existing else { return Err(SubtitleError::NotRunning.into()) };
            return match clients.dispatch().delete_dispatch(&dispatch.id, room).await {
                Ok(_) => Ok(web::empty_response(StatusCode::NO_CONTENT)),
                Err(e) => {
                    let failure = ApiFailure::from_service_error("AgentDispatchService.DeleteDispatch", &e);
                    // Gone between list and delete: what the caller wanted.
                    if failure.is_code("not_found") {
                        Ok(web::empty_response(StatusCode::NO_CONTENT))
                    } else {
                        Err(failure.into())
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
            .map_err(|e| ApiFailure::from_service_error("AgentDispatchService.CreateDispatch", &e))?;
        tracing::info!(room, identity = %identity, dispatch_id = %created.id, agent, "subtitle agent dispatched");
        metrics::subtitle_dispatch();
        Ok(json_response(
            StatusCode::CREATED,
            &DispatchReply { dispatch_id: &created.id, agent_name: agent, room, created: true },
        ))
    }

    /// The optional `{"language": "…"}` body, checked against the configured list.
    fn language(&self, request: &Request<Body>) -> Result<Option<String>, ErrorResponse> {
        let Some(json) = web::optional_json(request.headers(), web::body_within(request, MAX_BODY_BYTES)?)? else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct StartRequest {
            language: Option<String>,
        }
        let parsed: StartRequest =
            serde_json::from_slice(json).map_err(|e| SubtitleError::InvalidBody(e.to_string()))?;
        match parsed.language {
            None => Ok(None),
            Some(language) if self.inner.settings.languages.iter().any(|l| l.eq_ignore_ascii_case(&language)) => {
                Ok(Some(language))
            }
            Some(language) => Err(SubtitleError::LanguageNotAllowed(web::printable(&language)).into()),
        }
    }

    async fn check_room_and_presence(
        &self,
        clients: &LiveKitClients,
        room: &str,
        identity: &str,
    ) -> Result<(), ErrorResponse> {
        let rooms = clients
            .room()
            .list_rooms(vec![room.to_string()])
            .await
            .map_err(|e| ApiFailure::from_service_error("RoomService.ListRooms", &e))?;
        if !rooms.iter().any(|r| r.name == room) {
            return Err(SubtitleError::RoomNotFound(web::printable(room)).into());
        }
        if !self.inner.settings.require_presence {
            return Ok(());
        }
        match clients.room().get_participant(room, identity).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = ApiFailure::from_service_error("RoomService.GetParticipant", &e);
                if failure.is_code("not_found") {
                    Err(SubtitleError::NotInRoom.into())
                } else {
                    Err(failure.into())
                }
            }
        }
    }
}

/// The subtitle dispatcher's one route (`POST` starts, `DELETE` stops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Subtitles,
}

impl Service for SubtitleService {
    const FUNCTION: Function = Function::SubtitleDispatcher;
    type Handler = Handler;

    fn handler(path: &str) -> Option<Handler> {
        (path == routes::SUBTITLES).then_some(Handler::Subtitles)
    }

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
        handler: Handler,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        let Handler::Subtitles = handler;
        let settings = &self.inner.settings;
        let agent = settings.active_agent().unwrap_or_default();
        let room = web::room_segment(&route, settings.names)?;
        facts.room = Some(room.to_string());
        self.start_or_stop(request, agent, &room, facts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_function_has_a_handler() {
        assert_eq!(pipeline::unhandled_routes::<SubtitleService>(), Vec::<&str>::new());
    }
}
