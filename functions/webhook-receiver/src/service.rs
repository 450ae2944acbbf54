//! `POST /webhook`: verify a LiveKit delivery, then act on the events that matter.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use livekit_api::webhooks::{WebhookError as ReceiveError, WebhookReceiver};
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache};
use livekit_lambda_shared::routes::{Function, Matched};
use livekit_lambda_shared::token::{verifier_for, TokenRejection};
use livekit_lambda_shared::web::{self, json_response, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{pipeline, CredentialStore, Credentials, EnvSettings, Service};
use livekit_protocol as proto;
use serde_json::json;
use tokio::sync::Mutex;

use crate::actions::{self, Action};
use crate::error::WebhookError;
use crate::settings::WebhookSettings;

/// The events LiveKit sends today. Anything else is logged and acknowledged, so
/// LiveKit does not retry what we deliberately ignore.
pub const KNOWN_EVENTS: &[&str] = &[
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_connection_aborted",
    "track_published",
    "track_unpublished",
    "egress_started",
    "egress_updated",
    "egress_ended",
    "ingress_started",
    "ingress_ended",
    "agent_job_started",
    "agent_job_ended",
];

/// Recently seen ids, oldest first out.
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: &str, capacity: usize) {
        if capacity == 0 || id.is_empty() || !self.set.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

#[derive(Debug)]
struct Inner {
    settings: WebhookSettings,
    credentials: Arc<CredentialStore>,
    clients: ClientCache,
    /// Event ids handled by this container (duplicates are acknowledged, not acted on).
    seen_events: Mutex<RecentIds>,
    /// Egresses already announced: LiveKit reports a limit in both egress_updated and egress_ended.
    announced_egress: Mutex<RecentIds>,
}

#[derive(Clone, Debug)]
pub struct WebhookService {
    inner: Arc<Inner>,
}

/// How one verified event ended.
enum Outcome {
    Acted(Vec<Action>),
    Duplicate,
    Ignored,
}

impl WebhookService {
    pub fn new(settings: WebhookSettings, credentials: Arc<CredentialStore>) -> Self {
        let clients = ClientCache::new(settings.api_timeout);
        Self {
            inner: Arc::new(Inner {
                settings,
                credentials,
                clients,
                seen_events: Mutex::new(RecentIds::default()),
                announced_egress: Mutex::new(RecentIds::default()),
            }),
        }
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }

    async fn receive(&self, request: &Request<Body>, facts: &mut RequestFacts) -> Result<Response<Body>, WebhookError> {
        let settings = &self.inner.settings;
        let body = web::body_within(request, settings.max_body_bytes)?;
        match web::media_type(request.headers()).as_deref() {
            Some("application/webhook+json" | "application/json") => {}
            _ => return Err(WebhookError::UnsupportedMediaType),
        }
        // LiveKit sends the bare JWT; `Bearer <jwt>` is accepted too.
        let token = web::bearer_token(request.headers()).ok_or(WebhookError::MissingAuthorization)?;
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
        let event = verified?;
        facts.room = event_room(&event).map(str::to_string);
        facts.identity = event.participant.as_ref().map(|p| p.identity.clone());
        log_event(&event);

        let outcome = self.act(&credentials, &event).await;
        let body = match outcome {
            Ok(Outcome::Duplicate) => json!({"status": "duplicate", "event": event.event, "id": event.id}),
            Ok(Outcome::Ignored) => json!({"status": "ignored", "event": event.event, "id": event.id}),
            Ok(Outcome::Acted(done)) => json!({"status": "ok", "event": event.event, "id": event.id, "actions": done}),
            Err(failure) if failure.transient => return Err(WebhookError::LiveKitUnavailable(failure)),
            Err(failure) => {
                // A retry would fail the same way: acknowledge, and say so loudly in the log.
                tracing::error!(event = %event.event, event_id = %event.id, error = %failure, "webhook action failed permanently");
                json!({"status": "failed", "event": event.event, "id": event.id, "error": failure.code.unwrap_or_default()})
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn act(&self, credentials: &Arc<Credentials>, event: &proto::WebhookEvent) -> Result<Outcome, ApiFailure> {
        let inner = &self.inner;
        if !KNOWN_EVENTS.contains(&event.event.as_str()) {
            tracing::info!(event = %event.event, event_id = %event.id, "unknown webhook event ignored");
            return Ok(Outcome::Ignored);
        }
        if inner.seen_events.lock().await.contains(&event.id) {
            return Ok(Outcome::Duplicate);
        }
        let mut done = Vec::new();
        match event.event.as_str() {
            "egress_updated" | "egress_ended" if inner.settings.recording_notice => {
                if let Some(egress) =
                    event.egress_info.as_ref().filter(|e| e.status == proto::EgressStatus::EgressLimitReached as i32)
                {
                    if !inner.announced_egress.lock().await.contains(&egress.egress_id) {
                        let clients = inner.clients.clients(credentials).await;
                        done.push(
                            actions::send_recording_notice(&clients, &inner.settings.recording_topic, egress).await?,
                        );
                        inner
                            .announced_egress
                            .lock()
                            .await
                            .insert(&egress.egress_id, inner.settings.dedupe_capacity.max(1));
                    }
                }
            }
            "participant_joined" => {
                if let (Some(sip), Some(room)) = (&inner.settings.sip, &event.room) {
                    let clients = inner.clients.clients(credentials).await;
                    done.push(actions::ensure_dial_in(&clients, sip, room).await?);
                }
            }
            "participant_left" | "participant_connection_aborted" => {
                if let (Some(_), Some(room)) = (&inner.settings.sip, &event.room) {
                    let clients = inner.clients.clients(credentials).await;
                    if actions::room_is_empty(&clients, &room.name).await? {
                        done.push(actions::remove_dial_in(&clients, &room.name).await?);
                    }
                }
            }
            "room_finished" => {
                if let (Some(_), Some(room)) = (&inner.settings.sip, &event.room) {
                    let clients = inner.clients.clients(credentials).await;
                    done.push(actions::remove_dial_in(&clients, &room.name).await?);
                }
            }
            _ => {}
        }
        // Remembered only once handled: a failed event is acted on again when LiveKit retries.
        inner.seen_events.lock().await.insert(&event.id, inner.settings.dedupe_capacity);
        Ok(Outcome::Acted(done))
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

    fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        Ok(Self::new(WebhookSettings::from_env(env)?, credentials))
    }

    fn credentials(&self) -> &CredentialStore {
        &self.inner.credentials
    }

    // Server to server: no browser calls this, so CORS stays closed (the default).

    async fn call(
        &self,
        _route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        self.receive(request, facts).await.map_err(|error| {
            if matches!(
                error,
                WebhookError::InvalidSignature | WebhookError::UnknownKey | WebhookError::MissingAuthorization
            ) {
                tracing::warn!(error = %error, "rejected a webhook delivery");
            }
            error.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_the_oldest_beyond_capacity() {
        let mut ids = RecentIds::default();
        for id in ["a", "b", "c"] {
            ids.insert(id, 2);
        }
        assert!(!ids.contains("a") && ids.contains("b") && ids.contains("c"));
        ids.insert("", 2);
        assert!(!ids.contains(""));
    }
}
