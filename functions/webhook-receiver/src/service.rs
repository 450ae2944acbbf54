//! `POST /webhook`: verify a LiveKit delivery, then act on the events that matter.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{Request, Response, StatusCode};
use lambda_http::Body;
use lambda_http::RequestExt;
use livekit_api::webhooks::{WebhookError as ReceiveError, WebhookReceiver};
use livekit_lambda_shared::livekit::ClientCache;
use livekit_lambda_shared::routes::{Function, Matched};
use livekit_lambda_shared::state::{self, now_millis, MemoryStore, SharedStore};
use livekit_lambda_shared::token::{verifier_for, TokenRejection};
use livekit_lambda_shared::web::{self, json_response, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{metrics, pipeline, CredentialStore, Credentials, EnvSettings, Feature, Service};
use livekit_protocol as proto;
use serde_json::json;

use crate::actions::{self, Action, ActionError};
use crate::error::WebhookError;
use crate::idempotency::{Begin, Idempotency};
use crate::settings::{SipDialIn, WebhookSettings};

/// The events LiveKit sends today. Anything else is logged and acknowledged, so
/// LiveKit does not retry what we deliberately ignore.
pub const KNOWN_EVENTS: &[&str] = livekit_lambda_shared::token::WEBHOOK_EVENTS;

#[derive(Debug)]
struct Inner {
    settings: WebhookSettings,
    credentials: Arc<CredentialStore>,
    clients: ClientCache,
    /// What the fleet already did (docs/state.md).
    idempotency: Idempotency,
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

/// What a known event asks of the receiver, decided before anything is written: only
/// events that act cost a store write.
enum Plan<'a> {
    RecordingNotice(&'a proto::EgressInfo),
    EnsureDialIn(&'a SipDialIn, &'a proto::Room),
    RemoveDialInIfEmpty(&'a str),
    RemoveDialIn(&'a str),
}

impl Plan<'_> {
    /// The idempotency key of an action that must happen once and cannot tell by itself
    /// whether it already did: the recording notice, one per egress (LiveKit reports a
    /// limit in both `egress_updated` and `egress_ended`, under two event ids). The dial-in
    /// actions need no event record: the room's own item is their lock and their memory,
    /// so a duplicate join costs one read and a duplicate room end finds nothing to do.
    fn once_key(&self) -> Option<String> {
        match self {
            Plan::RecordingNotice(egress) => Some(format!("webhook#notice#{}", egress.egress_id)),
            _ => None,
        }
    }
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
        Self { inner: Arc::new(Inner { settings, credentials, clients, idempotency }) }
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
        if matches!(verified, Err(WebhookError::InvalidSignature | WebhookError::UnknownKey)) {
            metrics::webhook_verification_failure();
        }
        let event = verified?;
        metrics::webhook_event(&event.event);
        facts.room = event_room(&event).map(str::to_string);
        facts.identity = event.participant.as_ref().map(|p| p.identity.clone());
        log_event(&event);

        let outcome = self.act(&credentials, &event, lock_until_ms(request)).await;
        let body = match outcome {
            Ok(Outcome::Duplicate) => {
                metrics::webhook_duplicate();
                json!({"status": "duplicate", "event": event.event, "id": event.id})
            }
            Ok(Outcome::Ignored) => json!({"status": "ignored", "event": event.event, "id": event.id}),
            Ok(Outcome::Acted(done)) => json!({"status": "ok", "event": event.event, "id": event.id, "actions": done}),
            Err(ActError::InProgress) => return Err(WebhookError::InProgress),
            Err(ActError::Action(ActionError::State(error))) => return Err(WebhookError::StateUnavailable(error)),
            Err(ActError::Action(ActionError::DialInInProgress { .. })) => return Err(WebhookError::DialInInProgress),
            Err(ActError::Action(ActionError::LiveKit(failure))) if failure.transient => {
                return Err(WebhookError::LiveKitUnavailable(failure))
            }
            Err(ActError::Action(ActionError::LiveKit(failure))) => {
                // A retry would fail the same way: acknowledge, and say so loudly in the log.
                tracing::error!(event = %event.event, event_id = %event.id, error = %failure, "webhook action failed permanently");
                json!({"status": "failed", "event": event.event, "id": event.id, "error": failure.code.unwrap_or_default()})
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn act(
        &self,
        credentials: &Arc<Credentials>,
        event: &proto::WebhookEvent,
        lock_until_ms: u64,
    ) -> Result<Outcome, ActError> {
        if !KNOWN_EVENTS.contains(&event.event.as_str()) {
            tracing::info!(event = %event.event, event_id = %event.id, "unknown webhook event ignored");
            return Ok(Outcome::Ignored);
        }
        let Some(plan) = self.plan(event) else {
            return Ok(Outcome::Acted(Vec::new()));
        };
        let Some(key) = plan.once_key() else {
            return Ok(Outcome::Acted(self.run(credentials, plan, lock_until_ms).await?));
        };
        let idempotency = &self.inner.idempotency;
        match idempotency.begin(&key, lock_until_ms).await.map_err(ActionError::from)? {
            Begin::Acquired => {}
            Begin::InProgress => return Err(ActError::InProgress),
            Begin::Completed(_) => return Ok(Outcome::Duplicate),
        }
        match self.run(credentials, plan, lock_until_ms).await {
            Ok(done) => {
                let outcome = serde_json::to_string(&done).unwrap_or_default();
                if let Err(error) = idempotency.complete(&key, &outcome).await {
                    // Done but not recorded: the lock still stops duplicates until the
                    // deadline, and LiveKit gets a 2xx, so it does not redeliver.
                    tracing::error!(key = %key, error = %error, "could not record a completed webhook action");
                }
                Ok(Outcome::Acted(done))
            }
            Err(error) if error.is_transient() => {
                if let Err(release) = idempotency.release(&key).await {
                    tracing::warn!(key = %key, error = %release, "could not release the webhook lock; it lapses with the deadline");
                }
                Err(error.into())
            }
            Err(error) => {
                // A retry would fail the same way: remembered as done.
                idempotency.complete(&key, "[]").await.ok();
                Err(error.into())
            }
        }
    }

    /// `None`: a known event with nothing to do here.
    fn plan<'a>(&'a self, event: &'a proto::WebhookEvent) -> Option<Plan<'a>> {
        let settings = &self.inner.settings;
        let sip_room = settings.sip.as_ref().zip(event.room.as_ref());
        match event.event.as_str() {
            "egress_updated" | "egress_ended" if settings.recording_notice => event
                .egress_info
                .as_ref()
                .filter(|e| e.status == proto::EgressStatus::EgressLimitReached as i32)
                .map(Plan::RecordingNotice),
            "participant_joined" => sip_room.map(|(sip, room)| Plan::EnsureDialIn(sip, room)),
            "participant_left" | "participant_connection_aborted" => {
                sip_room.map(|(_, room)| Plan::RemoveDialInIfEmpty(&room.name))
            }
            "room_finished" => sip_room.map(|(_, room)| Plan::RemoveDialIn(&room.name)),
            _ => None,
        }
    }

    async fn run(
        &self,
        credentials: &Arc<Credentials>,
        plan: Plan<'_>,
        lock_until_ms: u64,
    ) -> Result<Vec<Action>, ActionError> {
        let inner = &self.inner;
        let store = inner.idempotency.store().as_ref();
        let clients = inner.clients.clients(credentials).await;
        let done = match plan {
            Plan::RecordingNotice(egress) => {
                Some(actions::send_recording_notice(&clients, &inner.settings.recording_topic, egress).await?)
            }
            Plan::EnsureDialIn(sip, room) => {
                Some(actions::ensure_dial_in(&clients, store, sip, room, lock_until_ms).await?)
            }
            Plan::RemoveDialInIfEmpty(room) => match actions::room_is_empty(&clients, room).await? {
                true => Some(actions::remove_dial_in(&clients, store, room).await?),
                false => None,
            },
            Plan::RemoveDialIn(room) => Some(actions::remove_dial_in(&clients, store, room).await?),
        };
        Ok(done.into_iter().collect())
    }
}

/// Why `act` did not finish.
enum ActError {
    /// Another invocation holds this event's lock.
    InProgress,
    Action(ActionError),
}

impl From<ActionError> for ActError {
    fn from(error: ActionError) -> Self {
        ActError::Action(error)
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
        let settings = &self.inner.settings;
        vec![
            Feature {
                name: "recording-limit notice",
                on: settings.recording_notice,
                switch: "RECORDING_LIMIT_NOTICE=true",
            },
            Feature { name: "SIP dial-in PINs per room", on: settings.sip.is_some(), switch: "SIP_TRUNK_ID=<trunk>" },
        ]
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
