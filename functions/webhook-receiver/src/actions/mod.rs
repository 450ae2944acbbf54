//! What the receiver does with a verified event: the decision ([`Plan`]: which action an
//! event asks for, made before anything is written) and the actions, each in its own file.
//! Every action is idempotent: LiveKit redelivers on 5xx and may deliver an event twice; an
//! action that cannot tell by itself whether it already ran is keyed in the idempotency
//! store, so it runs once across the fleet.

pub mod dial_in;
pub mod recording_notice;

use std::sync::Arc;

use livekit_lambda_shared::credentials::Credentials;
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache};
use livekit_lambda_shared::room_facts;
use livekit_lambda_shared::state::StoreError;
use livekit_protocol as proto;
use serde::Serialize;

use crate::idempotency::{Begin, Idempotency};
use crate::settings::{SipDialIn, WebhookSettings};

/// The events LiveKit sends today. Anything else is logged and acknowledged, so
/// LiveKit does not retry what we deliberately ignore.
pub const KNOWN_EVENTS: &[&str] = livekit_lambda_shared::events::WEBHOOK_EVENTS;

/// What an action did, for the log and the response: in the reply's `actions` list as
/// `{"type":"recording_notice_sent","room":…,"egress_id":…}`,
/// `{"type":"dial_in_rule_created"|"dial_in_rule_kept","room":…,"rule_id":…}` or
/// `{"type":"dial_in_rules_deleted","room":…,"count":…}` or `{"type":"lobby_closed","room":…}`
/// (docs/endpoints.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    RecordingNoticeSent {
        room: String,
        egress_id: String,
    },
    DialInRuleCreated {
        room: String,
        rule_id: String,
    },
    DialInRuleKept {
        room: String,
        rule_id: String,
    },
    DialInRulesDeleted {
        room: String,
        count: usize,
    },
    /// Another delivery is creating the room's rule at this moment.
    DialInRulePending {
        room: String,
    },
    /// The room's waiting room lapsed with it (`room_finished`, `LOBBY=on`).
    LobbyClosed {
        room: String,
    },
}

/// Why an action did not finish: LiveKit's API or the fleet's state store.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    LiveKit(#[from] ApiFailure),
    #[error(transparent)]
    State(#[from] StoreError),
    /// Another invocation is creating the room's dial-in rule right now: a retry finds it
    /// recorded (or its lock lapsed) and removes it.
    #[error("the dial-in rule of room {room:?} is being created by another delivery; retry later")]
    DialInInProgress { room: String },
}

impl ActionError {
    /// A later retry may succeed (LiveKit redelivers on 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ActionError::LiveKit(failure) => failure.transient,
            ActionError::State(_) | ActionError::DialInInProgress { .. } => true,
        }
    }
}

/// What a known event asks of the receiver, decided before anything is written: only
/// events that act cost a store write.
#[derive(Debug)]
pub enum Plan<'a> {
    RecordingNotice(&'a proto::EgressInfo),
    EnsureDialIn(&'a SipDialIn, &'a proto::Room),
    RemoveDialInIfEmpty(&'a str),
    RemoveDialIn(&'a str),
    /// Records that the room finished (at the event's time), so its waiting room lapses.
    CloseLobby {
        room: &'a str,
        finished_ms: u64,
    },
}

impl<'a> Plan<'a> {
    /// What a known event asks for, in order; empty: nothing to do here.
    pub fn of(settings: &'a WebhookSettings, event: &'a proto::WebhookEvent) -> Vec<Self> {
        let sip_room = settings.sip.as_ref().zip(event.room.as_ref());
        match event.event.as_str() {
            "egress_updated" | "egress_ended" if settings.recording_notice => event
                .egress_info
                .as_ref()
                .filter(|e| e.status == proto::EgressStatus::EgressLimitReached as i32)
                .map(Plan::RecordingNotice)
                .into_iter()
                .collect(),
            "participant_joined" => sip_room.map(|(sip, room)| Plan::EnsureDialIn(sip, room)).into_iter().collect(),
            "participant_left" | "participant_connection_aborted" => {
                sip_room.map(|(_, room)| Plan::RemoveDialInIfEmpty(&room.name)).into_iter().collect()
            }
            "room_finished" => {
                let lobby = event.room.as_ref().filter(|_| settings.lobby).map(|room| Plan::CloseLobby {
                    room: &room.name,
                    // The event's own time: a redelivery records the same fact.
                    finished_ms: u64::try_from(event.created_at).unwrap_or_default().saturating_mul(1000),
                });
                lobby.into_iter().chain(sip_room.map(|(_, room)| Plan::RemoveDialIn(&room.name))).collect()
            }
            _ => Vec::new(),
        }
    }

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

/// How one verified event ended.
pub enum Outcome {
    Acted(Vec<Action>),
    Duplicate,
    Ignored,
}

/// Why [`act`] did not finish.
pub enum ActError {
    /// Another invocation holds this event's lock.
    InProgress,
    Action(ActionError),
}

impl From<ActionError> for ActError {
    fn from(error: ActionError) -> Self {
        ActError::Action(error)
    }
}

/// What the actions work with: the settings, LiveKit's clients, the fleet's memory.
#[derive(Debug)]
pub struct Actors {
    pub settings: WebhookSettings,
    pub clients: ClientCache,
    pub idempotency: Idempotency,
}

impl Actors {
    /// Acts on a verified event, once across the fleet; `lock_until_ms` is how long an
    /// acting invocation holds its lock (its Lambda deadline).
    pub async fn act(
        &self,
        credentials: &Arc<Credentials>,
        event: &proto::WebhookEvent,
        lock_until_ms: u64,
    ) -> Result<Outcome, ActError> {
        if !KNOWN_EVENTS.contains(&event.event.as_str()) {
            tracing::info!(event = %event.event, event_id = %event.id, "unknown webhook event ignored");
            return Ok(Outcome::Ignored);
        }
        let plans = Plan::of(&self.settings, event);
        let planned = plans.len();
        let (mut acted, mut duplicates) = (Vec::new(), 0);
        // In order; a failure stops here, and LiveKit's redelivery repeats the whole event
        // (every action is idempotent).
        for plan in plans {
            match self.act_once(credentials, plan, lock_until_ms).await? {
                Some(done) => acted.extend(done),
                None => duplicates += 1,
            }
        }
        Ok(if planned > 0 && duplicates == planned { Outcome::Duplicate } else { Outcome::Acted(acted) })
    }

    /// One planned action, once across the fleet: `None` when an earlier delivery did it.
    async fn act_once(
        &self,
        credentials: &Arc<Credentials>,
        plan: Plan<'_>,
        lock_until_ms: u64,
    ) -> Result<Option<Vec<Action>>, ActError> {
        let Some(key) = plan.once_key() else {
            return Ok(Some(self.run(credentials, plan, lock_until_ms).await?));
        };
        let idempotency = &self.idempotency;
        match idempotency.begin(&key, lock_until_ms).await.map_err(ActionError::from)? {
            Begin::Acquired => {}
            Begin::InProgress => return Err(ActError::InProgress),
            Begin::Completed(_) => return Ok(None),
        }
        match self.run(credentials, plan, lock_until_ms).await {
            Ok(done) => {
                let outcome = serde_json::to_string(&done).unwrap_or_default();
                if let Err(error) = idempotency.complete(&key, &outcome).await {
                    // Done but not recorded: the lock still stops duplicates until the
                    // deadline, and LiveKit gets a 2xx, so it does not redeliver.
                    tracing::error!(key = %key, error = %error, "could not record a completed webhook action");
                }
                Ok(Some(done))
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

    async fn run(
        &self,
        credentials: &Arc<Credentials>,
        plan: Plan<'_>,
        lock_until_ms: u64,
    ) -> Result<Vec<Action>, ActionError> {
        let store = self.idempotency.store().as_ref();
        if let Plan::CloseLobby { room, finished_ms } = plan {
            room_facts::record_finished(store, room, finished_ms).await?;
            return Ok(vec![Action::LobbyClosed { room: room.to_string() }]);
        }
        let clients = self.clients.clients(credentials).await;
        let done = match plan {
            Plan::RecordingNotice(egress) => {
                Some(recording_notice::send_recording_notice(&clients, &self.settings.recording_topic, egress).await?)
            }
            Plan::EnsureDialIn(sip, room) => {
                Some(dial_in::ensure_dial_in(&clients, store, sip, room, lock_until_ms).await?)
            }
            Plan::RemoveDialInIfEmpty(room) => match dial_in::room_is_empty(&clients, room).await? {
                true => Some(dial_in::remove_dial_in(&clients, store, room).await?),
                false => None,
            },
            Plan::RemoveDialIn(room) => Some(dial_in::remove_dial_in(&clients, store, room).await?),
            Plan::CloseLobby { .. } => None,
        };
        Ok(done.into_iter().collect())
    }
}
