//! SIP dial-in PINs per room (docs/state.md): on a join the room gets exactly one dispatch
//! rule with a random PIN, published in the room's metadata; when the room empties or ends
//! the rule goes. The room's item in the fleet store is the lock and the memory, so the
//! work is O(1) in the number of rooms; LiveKit's rule list is read only by the one-time
//! reconciliation (`reconcile`).

use livekit_api::services::sip::CreateSIPDispatchRuleOptions;
use livekit_lambda_shared::livekit::{ApiFailure, LiveKitClients};
use livekit_lambda_shared::random::random_digits;
use livekit_lambda_shared::state::{now_millis, now_secs, Claim, Fields, StateStore};
use livekit_protocol as proto;
use serde_json::{json, Map, Value};

use super::{Action, ActionError};
use crate::settings::{SipDialIn, DIAL_IN_METADATA_KEY, MANAGED_BY, PIN_DIGITS};

/// The room and PIN of a rule this function manages, when `rule` is one.
pub fn managed_rule(rule: &proto::SipDispatchRuleInfo) -> Option<(&str, &str)> {
    let marker: Value = serde_json::from_str(&rule.metadata).ok()?;
    if marker["managed_by"] != MANAGED_BY {
        return None;
    }
    match rule.rule.as_ref()?.rule.as_ref()? {
        proto::sip_dispatch_rule::Rule::DispatchRuleDirect(direct) => Some((&direct.room_name, &direct.pin)),
        _ => None,
    }
}

fn is_pin_collision(failure: &ApiFailure) -> bool {
    failure.is_code("already_exists") || failure.detail.contains("Conflicting SIP Dispatch Rules")
}

/// The room's dial-in record: `state` is `creating` (a lock, while one container makes
/// the rule) or `ready` with `rule_id` and `pin`.
fn room_key(room: &str) -> String {
    format!("webhook#sip-room#{room}")
}

/// Held by the room whose rule uses the PIN: a conditional write makes PINs unique
/// across the fleet before LiveKit is asked.
fn pin_key(pin: &str) -> String {
    format!("webhook#sip-pin#{pin}")
}

const STATE: &str = "state";
const CREATING: &str = "creating";
const READY: &str = "ready";
const RULE_ID: &str = "rule_id";
const PIN: &str = "pin";
const ROOM: &str = "room";

/// A backstop only: the record goes when the room ends (`remove_dial_in`).
const ROOM_RECORD_TTL_SECS: u64 = 30 * 86_400;

fn record_expiry() -> u64 {
    now_secs() + ROOM_RECORD_TTL_SECS
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// On a join: make sure the room has exactly one dial-in rule with a random PIN, and
/// publish that PIN in the room's metadata. O(1) in the number of rooms: one read when
/// the room has its rule, three conditional writes and two LiveKit calls when it does
/// not; LiveKit's rule list is never read.
pub async fn ensure_dial_in(
    clients: &LiveKitClients,
    store: &dyn StateStore,
    sip: &SipDialIn,
    room: &proto::Room,
    lock_until_ms: u64,
) -> Result<Action, ActionError> {
    let key = room_key(&room.name);
    let kept = |record: &Fields| {
        let rule_id = record.get(RULE_ID).cloned().unwrap_or_default();
        Action::DialInRuleKept { room: room.name.clone(), rule_id }
    };
    // `ready` means the rule exists and its PIN is published: a join, or a redelivered
    // one, then costs this one read and no LiveKit call.
    if let Some(record) = store.get(&key).await?.filter(|r| r.get(STATE).map(String::as_str) == Some(READY)) {
        return Ok(kept(&record));
    }
    match store.claim(&key, &fields(&[(STATE, CREATING)]), Some(lock_until_ms), record_expiry()).await? {
        Claim::Claimed => {}
        Claim::Taken(record) if record.get(STATE).map(String::as_str) == Some(READY) => return Ok(kept(&record)),
        // Another container is making this room's rule right now; if it fails, its own
        // delivery is retried and its lock lapses with its deadline.
        Claim::Taken(_) => return Ok(Action::DialInRulePending { room: room.name.clone() }),
    }
    let created = async {
        let (rule_id, pin) = create_rule(clients, store, sip, &room.name).await?;
        let finished = async {
            publish_pin(clients, sip, room, &pin).await?;
            let ready = fields(&[(STATE, READY), (RULE_ID, &rule_id), (PIN, &pin)]);
            store.put(&key, &ready, record_expiry()).await?;
            Ok::<_, ActionError>(())
        };
        if let Err(error) = finished.await {
            // Unpublished or unrecorded, the rule is undone: LiveKit's retry starts afresh.
            delete_rule(clients, &room.name, &rule_id).await.ok();
            store.delete(&pin_key(&pin)).await.ok();
            return Err(error);
        }
        Ok(rule_id)
    };
    match created.await {
        Ok(rule_id) => Ok(Action::DialInRuleCreated { room: room.name.clone(), rule_id }),
        Err(error) => {
            if let Err(release) = store.delete(&key).await {
                tracing::warn!(room = %room.name, error = %release, "could not release the dial-in lock; it lapses with the deadline");
            }
            Err(error)
        }
    }
}

/// Claims a free PIN in the store, then creates the rule with it. A PIN that LiveKit
/// says collides belongs to a rule made outside the store (before the table existed):
/// another PIN is tried.
async fn create_rule(
    clients: &LiveKitClients,
    store: &dyn StateStore,
    sip: &SipDialIn,
    room: &str,
) -> Result<(String, String), ActionError> {
    for attempt in 1..=sip.pin_attempts {
        let pin = random_digits(PIN_DIGITS).map_err(|e| ApiFailure {
            method: "random PIN",
            code: None,
            detail: e.to_string(),
            transient: true,
        })?;
        if let Claim::Taken(_) = store.claim(&pin_key(&pin), &fields(&[(ROOM, room)]), None, record_expiry()).await? {
            tracing::warn!(room, attempt, "dial-in PIN already held by another room; trying a fresh PIN");
            continue;
        }
        let rule = proto::sip_dispatch_rule::Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
            room_name: room.to_string(),
            pin: pin.clone(),
        });
        let options = CreateSIPDispatchRuleOptions {
            name: format!("dial-in {room}"),
            metadata: json!({"managed_by": MANAGED_BY, "room": room}).to_string(),
            trunk_ids: vec![sip.trunk_id.clone()],
            ..Default::default()
        };
        match clients.sip().create_sip_dispatch_rule(rule, options).await {
            Ok(info) => return Ok((info.sip_dispatch_rule_id, pin)),
            Err(error) => {
                store.delete(&pin_key(&pin)).await.ok();
                let failure = ApiFailure::from_service_error("SIP.CreateSIPDispatchRule", &error);
                if !is_pin_collision(&failure) {
                    return Err(failure.into());
                }
                tracing::warn!(room, attempt, "dial-in PIN collided with a rule outside the store; trying a fresh PIN");
            }
        }
    }
    Err(ApiFailure {
        method: "SIP.CreateSIPDispatchRule",
        code: Some("already_exists".into()),
        detail: format!("no free PIN after {} attempts", sip.pin_attempts),
        transient: true,
    }
    .into())
}

/// Deletes one rule; already gone is what we wanted.
pub async fn delete_rule(clients: &LiveKitClients, room: &str, rule_id: &str) -> Result<(), ApiFailure> {
    match clients.sip().delete_sip_dispatch_rule(rule_id).await {
        Ok(_) => Ok(()),
        Err(error) => {
            let failure = ApiFailure::from_service_error("SIP.DeleteSIPDispatchRule", &error);
            if failure.is_code("not_found") {
                return Ok(());
            }
            tracing::error!(room, rule_id, error = %failure, "could not delete a dial-in rule");
            Err(failure)
        }
    }
}

/// Writes `{"sip_dial_in": {"pin", "number"?}}` into the room metadata, keeping whatever
/// else a JSON-object metadata holds. Metadata that is not a JSON object is the
/// application's own format: it is left alone and the PIN is not published.
async fn publish_pin(
    clients: &LiveKitClients,
    sip: &SipDialIn,
    room: &proto::Room,
    pin: &str,
) -> Result<(), ApiFailure> {
    let mut metadata = match room.metadata.trim() {
        "" => Map::new(),
        text => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                tracing::warn!(room = %room.name, "room metadata is not a JSON object; the dial-in PIN is not published");
                return Ok(());
            }
        },
    };
    let mut dial_in = json!({"pin": pin});
    if let Some(number) = &sip.number {
        dial_in["number"] = Value::String(number.clone());
    }
    metadata.insert(DIAL_IN_METADATA_KEY.into(), dial_in);
    clients
        .room()
        .update_room_metadata(&room.name, &Value::Object(metadata).to_string())
        .await
        .map(|_| ())
        .map_err(|e| ApiFailure::from_service_error("RoomService.UpdateRoomMetadata", &e))
}

/// Whether nobody is in the room any more (a room LiveKit no longer knows is empty).
pub async fn room_is_empty(clients: &LiveKitClients, room: &str) -> Result<bool, ApiFailure> {
    match clients.room().list_participants(room).await {
        Ok(participants) => Ok(participants.is_empty()),
        Err(error) => {
            let failure = ApiFailure::from_service_error("RoomService.ListParticipants", &error);
            if failure.is_code("not_found") {
                Ok(true)
            } else {
                Err(failure)
            }
        }
    }
}

/// Reconciliation: the rule the room keeps, and whether it was adopted just now
/// (`None`: a join is creating the room's rule at this moment; leave the room alone).
pub async fn adopt_rule(
    store: &dyn StateStore,
    room: &str,
    rule_id: &str,
    pin: &str,
) -> Result<Option<(String, bool)>, ActionError> {
    let key = room_key(room);
    if let Some(record) = store.get(&key).await? {
        return Ok(match record.get(STATE).map(String::as_str) {
            Some(READY) => record.get(RULE_ID).map(|id| (id.clone(), false)),
            _ => None,
        });
    }
    // The PIN is the rule's already: LiveKit made it unique; the store now knows it.
    store.put(&pin_key(pin), &fields(&[(ROOM, room)]), record_expiry()).await?;
    let ready = fields(&[(STATE, READY), (RULE_ID, rule_id), (PIN, pin)]);
    match store.claim(&key, &ready, None, record_expiry()).await? {
        Claim::Claimed => Ok(Some((rule_id.to_string(), true))),
        Claim::Taken(record) => Ok(record.get(RULE_ID).map(|id| (id.clone(), false))),
    }
}

/// Reconciliation: a room that no longer exists loses its record and PIN.
pub async fn forget_room(store: &dyn StateStore, room: &str) -> Result<(), ActionError> {
    let key = room_key(room);
    if let Some(pin) = store.get(&key).await?.and_then(|record| record.get(PIN).cloned()) {
        store.delete(&pin_key(&pin)).await?;
    }
    store.delete(&key).await?;
    Ok(())
}

/// Deletes the room's dial-in rule, found through the store (O(1); LiveKit's rule list
/// is never read), then its PIN and its record.
pub async fn remove_dial_in(
    clients: &LiveKitClients,
    store: &dyn StateStore,
    room: &str,
) -> Result<Action, ActionError> {
    let key = room_key(room);
    let Some(record) = store.get(&key).await? else {
        return Ok(Action::DialInRulesDeleted { room: room.to_string(), count: 0 });
    };
    if record.get(STATE).map(String::as_str) != Some(READY) {
        // A join is making the rule right now: come back when it is recorded. A lock
        // whose holder died has lapsed and is ours to clear.
        return match store.claim(&key, &record, Some(now_millis() + 1_000), record_expiry()).await? {
            Claim::Claimed => {
                store.delete(&key).await?;
                Ok(Action::DialInRulesDeleted { room: room.to_string(), count: 0 })
            }
            Claim::Taken(_) => Err(ActionError::DialInInProgress { room: room.to_string() }),
        };
    }
    if let Some(rule_id) = record.get(RULE_ID) {
        delete_rule(clients, room, rule_id).await?;
    }
    if let Some(pin) = record.get(PIN) {
        store.delete(&pin_key(pin)).await?;
    }
    store.delete(&key).await?;
    Ok(Action::DialInRulesDeleted { room: room.to_string(), count: 1 })
}
