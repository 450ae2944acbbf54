//! The recording-limit notice: when LiveKit stops a recording at its limit, everyone in the
//! room is told, as one reliable data message (LiveKit itself does not tell participants).
//! Once per egress across the fleet: `mod.rs` keys it in the idempotency store.

use livekit_api::services::room::SendDataOptions;
use livekit_lambda_shared::livekit::{ApiFailure, LiveKitClients};
use livekit_protocol as proto;
use serde_json::{json, Value};

use super::Action;

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

/// Tells everyone in the room that the recording stopped at its limit.
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
