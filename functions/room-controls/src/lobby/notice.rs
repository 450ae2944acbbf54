//! Telling a room's moderators that someone knocks: the moderators present are the room's
//! participants whose token carries `auth.role=moderator` (only the server sets `auth.*`),
//! and only they get the message, a reliable data packet on the lobby topic addressed by
//! `destination_identities`, carrying nothing but the guest's display name and the request
//! id. Nobody else in the room learns that anyone waits.

use livekit_api::services::room::SendDataOptions;
use livekit_lambda_shared::attributes;
use livekit_lambda_shared::livekit::{ApiFailure, LiveKitClients};
use livekit_protocol as proto;
use serde::Serialize;

use super::record::LobbyRequest;

/// The data message's `type`.
pub const KNOCK_MESSAGE: &str = "lobby_knock";

/// The data message moderators get.
#[derive(Debug, Serialize)]
pub struct KnockMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub request_id: &'a str,
    pub name: &'a str,
}

/// The identities of `room`'s moderators present now (none when the room does not exist).
pub async fn moderators_present(clients: &LiveKitClients, room: &str) -> Result<Vec<String>, ApiFailure> {
    match clients.room().list_participants(room).await {
        Ok(participants) => Ok(participants
            .into_iter()
            .filter(|p| p.attributes.get(attributes::ROLE).map(String::as_str) == Some(attributes::MODERATOR_ROLE))
            .filter(|p| p.state != proto::participant_info::State::Disconnected as i32)
            .map(|p| p.identity)
            .collect()),
        Err(error) => {
            let failure = ApiFailure::from_service_error("RoomService.ListParticipants", &error);
            if failure.is_code("not_found") {
                Ok(Vec::new())
            } else {
                Err(failure)
            }
        }
    }
}

/// Tells the moderators present about `request`; how many were told. A failure is logged
/// and the knock still waits: moderators list the waiting room when they join.
pub async fn tell_moderators(clients: &LiveKitClients, topic: &str, request: &LobbyRequest) -> usize {
    let moderators = match moderators_present(clients, &request.room).await {
        Ok(moderators) if moderators.is_empty() => return 0,
        Ok(moderators) => moderators,
        Err(failure) => {
            tracing::warn!(room = %request.room, error = %failure, "could not find the room's moderators; the knock waits");
            return 0;
        }
    };
    let message = KnockMessage { kind: KNOCK_MESSAGE, request_id: &request.id, name: &request.name };
    let payload = serde_json::to_vec(&message).unwrap_or_default();
    let count = moderators.len();
    let options = SendDataOptions {
        kind: proto::data_packet::Kind::Reliable,
        destination_identities: moderators,
        topic: Some(topic.to_string()),
        ..Default::default()
    };
    match clients.room().send_data(&request.room, payload, options).await {
        Ok(()) => count,
        Err(error) => {
            let failure = ApiFailure::from_service_error("RoomService.SendData", &error);
            tracing::warn!(room = %request.room, error = %failure, "could not tell the moderators; the knock waits");
            0
        }
    }
}
