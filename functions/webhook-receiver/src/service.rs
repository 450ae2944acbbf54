//! `POST /webhook`: verify a LiveKit delivery, hand the event to `actions`, and reply.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use lambda_http::RequestExt;
use livekit_api::webhooks::{WebhookError as ReceiveError, WebhookReceiver};
use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::credentials::Credentials;
use livekit_lambda_shared::livekit::ClientCache;
use livekit_lambda_shared::routes::{self, Function, Matched};
use livekit_lambda_shared::state::{self, now_millis, MemoryStore, SharedStore};
use livekit_lambda_shared::token::{verifier_for, TokenRejection};
use livekit_lambda_shared::web::{self, json_response, ErrorResponse, RequestError, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, EnvSettings, Feature, Service};
use livekit_protocol as proto;
use serde_json::json;

use crate::actions::{ActError, ActionError, Actors, Outcome};
use crate::error::WebhookError;
use crate::idempotency::Idempotency;
use crate::settings::WebhookSettings;

#[derive(Debug)]
struct Inner {
    credentials: Arc<CredentialStore>,
    actors: Actors,
}

#[derive(Clone, Debug)]
pub struct WebhookService {
    inner: Arc<Inner>,
}

/// The webhook receiver's one route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Webhook,
}

/// The lock of an invocation without a Lambda deadline (the local server, tests).
const LOCAL_LOCK: Duration = Duration::from_secs(30);

/// Until when an acting invocation holds its lock: Lambda's deadline for this
/// invocation, after which a retry may act (the invocation is dead by then).
fn lock_until_ms(request: &Request<Body>) -> u64 {
    request
        .lambda_context_ref()
        .map(|context| context.deadline)
        .filter(|deadline| *deadline > 0)
        .unwrap_or_else(|| now_millis() + LOCAL_LOCK.as_millis() as u64)
}

impl WebhookService {
    /// In-process state: one process is the whole fleet (tests, `make dev`).
    pub fn new(settings: WebhookSettings, credentials: Arc<CredentialStore>) -> Self {
        Self::with_store(settings, credentials, Arc::new(MemoryStore::default()))
    }

    pub fn with_store(settings: WebhookSettings, credentials: Arc<CredentialStore>, store: SharedStore) -> Self {
        let clients = ClientCache::new(settings.api_timeout);
        let idempotency = Idempotency::new(store, settings.idempotency_ttl);
        Self { inner: Arc::new(Inner { credentials, actors: Actors { settings, clients, idempotency } }) }
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }

    async fn receive(
        &self,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        let settings = &self.inner.actors.settings;
        let body = web::body_within(request, settings.max_body_bytes)?;
        match web::media_type(request.headers()).as_deref() {
            Some("application/webhook+json" | "application/json") => {}
            _ => return Err(RequestError::UnsupportedMediaType("application/webhook+json").into()),
        }
        // LiveKit sends the bare JWT; `Bearer <jwt>` is accepted too.
        let Some(token) = web::bearer_token(request.headers()) else {
            tracing::warn!(error = %WebhookError::MissingAuthorization, "rejected a webhook delivery");
            return Err(WebhookError::MissingAuthorization.into());
        };
        let body = std::str::from_utf8(body).map_err(|_| WebhookError::InvalidBody)?;

        // A key this container does not know yet (added by a rotation) gets one
        // rate-limited re-read of SSM; a known key with a bad signature costs nothing.
        let (credentials, verified) = self
            .inner
            .credentials
            .verify_by_issuer(
                settings.forced_refresh_interval,
                |error| matches!(error, WebhookError::UnknownKey),
                |credentials| verify(credentials, body, token),
            )
            .await?;
        if let Err(error @ (WebhookError::InvalidSignature | WebhookError::UnknownKey)) = &verified {
            metrics::webhook_verification_failure();
            tracing::warn!(error = %error, "rejected a webhook delivery");
        }
        let event = verified?;
        metrics::webhook_event(&event.event);
        facts.room = event_room(&event).map(str::to_string);
        facts.identity = event.participant.as_ref().map(|p| p.identity.clone());
        log_event(&event);

        let outcome = self.inner.actors.act(&credentials, &event, lock_until_ms(request)).await;
        let body = match outcome {
            Ok(Outcome::Duplicate) => {
                metrics::webhook_duplicate();
                json!({"status": "duplicate", "event": event.event, "id": event.id})
            }
            Ok(Outcome::Ignored) => json!({"status": "ignored", "event": event.event, "id": event.id}),
            Ok(Outcome::Acted(done)) => json!({"status": "ok", "event": event.event, "id": event.id, "actions": done}),
            Err(ActError::InProgress) => return Err(WebhookError::InProgress.into()),
            Err(ActError::Action(ActionError::State(error))) => return Err(error.into()),
            Err(ActError::Action(ActionError::DialInInProgress { .. })) => {
                return Err(WebhookError::DialInInProgress.into())
            }
            Err(ActError::Action(ActionError::LiveKit(failure))) if failure.transient => return Err(failure.into()),
            Err(ActError::Action(ActionError::LiveKit(failure))) => {
                // A retry would fail the same way: acknowledge, and say so loudly in the log.
                tracing::error!(event = %event.event, event_id = %event.id, error = %failure, "webhook action failed permanently");
                json!({"status": "failed", "event": event.event, "id": event.id, "error": failure.code.unwrap_or_default()})
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    }
}

/// Signature and time first (livekit-api's receiver verifies the JWT with the secret of
/// the key its `iss` names, then the body's SHA-256 against the `sha256` claim), and only
/// then the body is parsed.
fn verify(credentials: &Credentials, body: &str, token: &str) -> Result<proto::WebhookEvent, WebhookError> {
    let verifier = verifier_for(credentials, token).map_err(|rejection| match rejection {
        TokenRejection::UnknownIssuer => WebhookError::UnknownKey,
        _ => WebhookError::InvalidSignature,
    })?;
    WebhookReceiver::new(verifier).receive(body, token).map_err(|error| match error {
        ReceiveError::InvalidData(e) => WebhookError::InvalidEvent(e.to_string()),
        ReceiveError::InvalidSignature | ReceiveError::InvalidBase64(_) | ReceiveError::InvalidAuth(_) => {
            WebhookError::InvalidSignature
        }
    })
}

fn event_room(event: &proto::WebhookEvent) -> Option<&str> {
    event
        .room
        .as_ref()
        .map(|r| r.name.as_str())
        .or_else(|| event.egress_info.as_ref().map(|e| e.room_name.as_str()))
        .filter(|r| !r.is_empty())
}

/// One structured line per event. Never the Authorization header or any token.
fn log_event(event: &proto::WebhookEvent) {
    tracing::info!(
        target: "webhook",
        event = %event.event,
        event_id = %event.id,
        room = event_room(event).unwrap_or(""),
        room_sid = event.room.as_ref().map(|r| r.sid.as_str()).unwrap_or(""),
        participant = event.participant.as_ref().map(|p| p.identity.as_str()).unwrap_or(""),
        egress_id = event.egress_info.as_ref().map(|e| e.egress_id.as_str()).unwrap_or(""),
        created_at = event.created_at,
        "webhook event"
    );
}

impl Service for WebhookService {
    const FUNCTION: Function = Function::WebhookReceiver;
    type Handler = Handler;

    fn handler(path: &str) -> Option<Handler> {
        (path == routes::WEBHOOK).then_some(Handler::Webhook)
    }

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = WebhookSettings::from_env(env)?;
        Ok(Self::with_store(settings, credentials, state::from_env(env).await?))
    }

    fn credentials(&self) -> &CredentialStore {
        &self.inner.credentials
    }

    fn features(&self) -> Vec<Feature> {
        let settings = &self.inner.actors.settings;
        vec![
            Feature {
                name: "recording-limit notice",
                on: settings.recording_notice,
                switch: "RECORDING_LIMIT_NOTICE=true",
            },
            Feature { name: "SIP dial-in PINs per room", on: settings.sip.is_some(), switch: "SIP_TRUNK_ID=<trunk>" },
            Feature { name: "a finished room's waiting room closed", on: settings.lobby, switch: "LOBBY=on" },
        ]
    }

    // Server to server: no browser calls this, so CORS stays closed (the default).

    async fn call(
        &self,
        handler: Handler,
        _route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        match handler {
            Handler::Webhook => self.receive(request, facts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_function_has_a_handler() {
        assert_eq!(pipeline::unhandled_routes::<WebhookService>(), Vec::<&str>::new());
    }
}
