//! LiveKit's webhook event names: a closed set, so a metric dimension or a log field made
//! from one can never take a value a caller chose.

/// The webhook events LiveKit sends today (livekit/protocol's webhook package). The
/// webhook receiver acknowledges anything else without acting; metrics count anything
/// else as `other`.
pub const WEBHOOK_EVENTS: &[&str] = &[
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
