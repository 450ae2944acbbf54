//! What the receiver does with verified events. Every action is idempotent: LiveKit
//! redelivers on 5xx and may deliver an event twice.

use livekit_api::services::room::SendDataOptions;
use livekit_api::services::sip::{CreateSIPDispatchRuleOptions, ListSIPDispatchRuleFilter};
use livekit_lambda_shared::livekit::{ApiFailure, LiveKitClients};
use livekit_lambda_shared::random::random_digits;
use livekit_protocol as proto;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::settings::{SipDialIn, DIAL_IN_METADATA_KEY, MANAGED_BY, PIN_DIGITS};

/// What an action did, for the log and the response: in the reply's `actions` list as
/// `{"type":"recording_notice_sent","room":…,"egress_id":…}`,
/// `{"type":"dial_in_rule_created"|"dial_in_rule_kept","room":…,"rule_id":…}` or
/// `{"type":"dial_in_rules_deleted","room":…,"count":…}` (docs/endpoints.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    RecordingNoticeSent { room: String, egress_id: String },
    DialInRuleCreated { room: String, rule_id: String },
    DialInRuleKept { room: String, rule_id: String },
    DialInRulesDeleted { room: String, count: usize },
}

/// The JSON payload of the recording-limit data message.
pub fn recording_notice_payload(room: &str, egress_id: &str) -> Value {
    json!({
        "type": "recording_stopped",
        "reason": "limit_reached",
        "room": room,
        "egress_id": egress_id,
        "message": "Recording stopped: time limit reached",
    })
}

/// Tells everyone in the room that the recording stopped at its limit, as one reliable
/// data message (LiveKit itself does not tell participants).
pub async fn send_recording_notice(
    clients: &LiveKitClients,
    topic: &str,
    egress: &proto::EgressInfo,
) -> Result<Action, ApiFailure> {
    let payload = recording_notice_payload(&egress.room_name, &egress.egress_id).to_string();
    let options = SendDataOptions {
        kind: proto::data_packet::Kind::Reliable,
        topic: Some(topic.to_string()),
        ..Default::default()
    };
    clients
        .room()
        .send_data(&egress.room_name, payload.into_bytes(), options)
        .await
        .map_err(|e| ApiFailure::from_service_error("RoomService.SendData", &e))?;
    Ok(Action::RecordingNoticeSent { room: egress.room_name.clone(), egress_id: egress.egress_id.clone() })
}

/// The PIN of a rule we manage for `room`, when `rule` is one.
fn managed_pin<'a>(rule: &'a proto::SipDispatchRuleInfo, room: &str) -> Option<&'a str> {
    let marker: Value = serde_json::from_str(&rule.metadata).ok()?;
    if marker["managed_by"] != MANAGED_BY {
        return None;
    }
    match rule.rule.as_ref()?.rule.as_ref()? {
        proto::sip_dispatch_rule::Rule::DispatchRuleDirect(direct) if direct.room_name == room => {
            Some(direct.pin.as_str())
        }
        _ => None,
    }
}

async fn managed_rules(clients: &LiveKitClients, room: &str) -> Result<Vec<(String, String)>, ApiFailure> {
    let rules = clients
        .sip()
        .list_sip_dispatch_rule(ListSIPDispatchRuleFilter::All)
        .await
        .map_err(|e| ApiFailure::from_service_error("SIP.ListSIPDispatchRule", &e))?;
    let mut ours: Vec<(String, String)> = rules
        .iter()
        .filter_map(|r| managed_pin(r, room).map(|pin| (r.sip_dispatch_rule_id.clone(), pin.to_string())))
        .collect();
    ours.sort();
    Ok(ours)
}

fn is_pin_collision(failure: &ApiFailure) -> bool {
    failure.is_code("already_exists") || failure.detail.contains("Conflicting SIP Dispatch Rules")
}

/// On a join: make sure the room has exactly one dial-in rule with a random PIN, and
/// publish that PIN in the room's metadata.
pub async fn ensure_dial_in(
    clients: &LiveKitClients,
    sip: &SipDialIn,
    room: &proto::Room,
) -> Result<Action, ApiFailure> {
    let existing = managed_rules(clients, &room.name).await?;
    if let Some((rule_id, _)) = existing.first() {
        return Ok(Action::DialInRuleKept { room: room.name.clone(), rule_id: rule_id.clone() });
    }
    let mut created = None;
    for attempt in 1..=sip.pin_attempts {
        let pin = random_digits(PIN_DIGITS).map_err(|e| ApiFailure {
            method: "random PIN",
            code: None,
            detail: e.to_string(),
            transient: true,
        })?;
        let rule = proto::sip_dispatch_rule::Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
            room_name: room.name.clone(),
            pin,
        });
        let options = CreateSIPDispatchRuleOptions {
            name: format!("dial-in {}", room.name),
            metadata: json!({"managed_by": MANAGED_BY, "room": room.name}).to_string(),
            trunk_ids: vec![sip.trunk_id.clone()],
            ..Default::default()
        };
        match clients.sip().create_sip_dispatch_rule(rule, options).await {
            Ok(info) => {
                created = Some(info);
                break;
            }
            Err(error) => {
                let failure = ApiFailure::from_service_error("SIP.CreateSIPDispatchRule", &error);
                if !is_pin_collision(&failure) {
                    return Err(failure);
                }
                tracing::warn!(room = %room.name, attempt, "dial-in PIN collided with another rule; trying a fresh PIN");
            }
        }
    }
    let Some(info) = created else {
        return Err(ApiFailure {
            method: "SIP.CreateSIPDispatchRule",
            code: Some("already_exists".into()),
            detail: format!("no free PIN after {} attempts", sip.pin_attempts),
            transient: true,
        });
    };

    // Two containers may have handled two joins at once: converge on the rule with the
    // smallest id (every container picks the same one) and remove the others.
    let mut rules = managed_rules(clients, &room.name).await?;
    if rules.is_empty() {
        let pin = managed_pin(&info, &room.name).unwrap_or_default().to_string();
        rules.push((info.sip_dispatch_rule_id.clone(), pin));
    }
    let (kept_id, kept_pin) = rules[0].clone();
    for (duplicate, _) in &rules[1..] {
        if let Err(error) = clients.sip().delete_sip_dispatch_rule(duplicate).await {
            tracing::warn!(room = %room.name, rule_id = %duplicate, error = %error, "could not remove a duplicate dial-in rule");
        }
    }
    publish_pin(clients, sip, room, &kept_pin).await?;
    Ok(Action::DialInRuleCreated { room: room.name.clone(), rule_id: kept_id })
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

/// Deletes every dial-in rule this function made for the room, carrying on past a
/// failed delete and reporting all failures together.
pub async fn remove_dial_in(clients: &LiveKitClients, room: &str) -> Result<Action, ApiFailure> {
    let rules = managed_rules(clients, room).await?;
    let mut failures = Vec::new();
    let mut deleted = 0;
    for (rule_id, _) in &rules {
        match clients.sip().delete_sip_dispatch_rule(rule_id).await {
            Ok(_) => deleted += 1,
            Err(error) => {
                let failure = ApiFailure::from_service_error("SIP.DeleteSIPDispatchRule", &error);
                // Already gone is what we wanted.
                if failure.is_code("not_found") {
                    deleted += 1;
                } else {
                    tracing::error!(room, rule_id = %rule_id, error = %failure, "could not delete a dial-in rule");
                    failures.push(failure);
                }
            }
        }
    }
    if failures.is_empty() {
        return Ok(Action::DialInRulesDeleted { room: room.to_string(), count: deleted });
    }
    Err(ApiFailure {
        method: "SIP.DeleteSIPDispatchRule",
        code: failures[0].code.clone(),
        detail: format!(
            "{} of {} dial-in rules could not be deleted: {}",
            failures.len(),
            rules.len(),
            failures.iter().map(|f| f.detail.as_str()).collect::<Vec<_>>().join("; ")
        ),
        transient: failures.iter().any(|f| f.transient),
    })
}
