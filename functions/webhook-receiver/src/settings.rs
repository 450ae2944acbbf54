//! The webhook receiver's settings, parsed once at start-up.

use std::time::Duration;

use livekit_lambda_shared::{credentials, EnvSettings, Error};

#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSettings {
    /// `WEBHOOK_MAX_BODY_BYTES`
    pub max_body_bytes: usize,
    /// `RECORDING_LIMIT_NOTICE` (on by default): tell the room when recording hit its limit.
    pub recording_notice: bool,
    /// `RECORDING_NOTICE_TOPIC`: the data-message topic front ends listen on.
    pub recording_topic: String,
    /// SIP dial-in, on only when `SIP_TRUNK_ID` is set.
    pub sip: Option<SipDialIn>,
    /// `LIVEKIT_API_TIMEOUT_MS`: bound on each LiveKit API call (LiveKit drops queued
    /// webhooks older than ~30 s, so the receiver must answer fast).
    pub api_timeout: Duration,
    /// `CREDENTIALS_FORCED_REFRESH_SECONDS`: after a delivery signed by an unknown key,
    /// re-read SSM at most this often (a key added by a rotation is picked up; forged
    /// requests cannot hammer SSM; a known key with a bad signature never re-reads).
    pub forced_refresh_interval: Duration,
    /// `IDEMPOTENCY_TTL_SECONDS`: how long a completed action is remembered, fleet-wide
    /// (docs/state.md). Far longer than LiveKit's redelivery window, and long enough for
    /// `egress_updated` and `egress_ended` of one egress to share one recording notice.
    pub idempotency_ttl: Duration,
    /// `LOBBY` (`off` by default): the waiting room is on (the room controls serve it), so a
    /// finished room's waiting room is closed (`webhook#finished#<room>`).
    pub lobby: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipDialIn {
    /// `SIP_TRUNK_ID`: the inbound trunk the per-room dispatch rules apply to.
    pub trunk_id: String,
    /// `SIP_DIAL_IN_NUMBER`: optional phone number published next to the PIN.
    pub number: Option<String>,
    /// `SIP_PIN_ATTEMPTS`: fresh PINs tried when LiveKit reports a collision.
    pub pin_attempts: u32,
}

/// The room-metadata key under which the dial-in PIN is published.
pub const DIAL_IN_METADATA_KEY: &str = "sip_dial_in";
/// Marks the dispatch rules this function manages (and may delete).
pub const MANAGED_BY: &str = "livekit-token-functions";
pub const PIN_DIGITS: u32 = 10;
/// `SIP_PIN_ATTEMPTS` when unset.
pub const DEFAULT_PIN_ATTEMPTS: u32 = 5;

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            recording_notice: true,
            recording_topic: "recording-status".into(),
            sip: None,
            api_timeout: Duration::from_secs(3),
            forced_refresh_interval: credentials::DEFAULT_FORCED_REFRESH,
            idempotency_ttl: Duration::from_secs(86_400),
            lobby: false,
        }
    }
}

impl WebhookSettings {
    /// Every default comes from [`Default`]: one table, read here and by the tests.
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let sip = match env.non_empty("SIP_TRUNK_ID") {
            None => None,
            Some(trunk_id) => Some(SipDialIn {
                trunk_id,
                number: env.non_empty("SIP_DIAL_IN_NUMBER"),
                pin_attempts: env.u64_in("SIP_PIN_ATTEMPTS", DEFAULT_PIN_ATTEMPTS.into(), 1..=20)? as u32,
            }),
        };
        Ok(Self {
            max_body_bytes: env.usize_in("WEBHOOK_MAX_BODY_BYTES", defaults.max_body_bytes, 1024..=6 * 1024 * 1024)?,
            recording_notice: env.bool("RECORDING_LIMIT_NOTICE", defaults.recording_notice)?,
            recording_topic: env.non_empty("RECORDING_NOTICE_TOPIC").unwrap_or(defaults.recording_topic),
            sip,
            api_timeout: livekit_lambda_shared::livekit::api_timeout(env)?,
            forced_refresh_interval: credentials::forced_refresh_interval(env)?,
            idempotency_ttl: env.duration_secs(
                "IDEMPOTENCY_TTL_SECONDS",
                defaults.idempotency_ttl.as_secs(),
                300..=30 * 86_400,
            )?,
            lobby: env.on_off("LOBBY")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_is_off_unless_a_trunk_is_configured() {
        assert_eq!(WebhookSettings::from_env(&EnvSettings::default()).unwrap(), WebhookSettings::default());
        let env = EnvSettings::from_pairs([("SIP_TRUNK_ID", "ST_abc"), ("SIP_DIAL_IN_NUMBER", "+15550100")]);
        let sip = WebhookSettings::from_env(&env).unwrap().sip.unwrap();
        assert_eq!((sip.trunk_id.as_str(), sip.number.as_deref(), sip.pin_attempts), ("ST_abc", Some("+15550100"), 5));
        let err =
            WebhookSettings::from_env(&EnvSettings::from_pairs([("SIP_TRUNK_ID", "t"), ("SIP_PIN_ATTEMPTS", "0")]))
                .unwrap_err();
        assert!(err.to_string().contains("SIP_PIN_ATTEMPTS"));
    }
}
