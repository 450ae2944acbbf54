//! The token generator's settings, parsed once at start-up: what every token gets, who may
//! ask (`auth`) and room links (`links::settings`).

use livekit_lambda_shared::token::TokenPolicy;
use livekit_lambda_shared::validate::NameLimit;
use livekit_lambda_shared::web::CorsPolicy;
use livekit_lambda_shared::{EnvSettings, Error};

use crate::links::settings::LinkSettings;
use livekit_lambda_shared::auth::AuthSettings;

#[derive(Clone, Debug, PartialEq)]
pub struct TokenSettings {
    /// What every token gets (`TOKEN_TTL_SECONDS`, `PUBLISH_SOURCES`,
    /// `AUTH_ADMIN_PUBLISH_SOURCES`), read by the shared crate as the room controls read it.
    pub policy: TokenPolicy,
    /// `ALLOWED_AGENT_NAMES`: agents a caller may dispatch through `room_config`; empty means none.
    pub allowed_agents: Vec<String>,
    /// `APPEND_IDENTITY_SUFFIX`: for `GET /token`, make the identity `<participant>-<random>`
    /// so two people called Jane do not kick each other out of the room.
    pub append_identity_suffix: bool,
    pub cors: CorsPolicy,
    pub limits: Limits,
    /// Who may mint a token (`AUTH_*`); off by default.
    pub auth: AuthSettings,
    /// Room links (`ROOM_LINK*`); off by default.
    pub links: LinkSettings,
    /// `MODERATION` (`off` by default): the room controls' moderator controls are on, so
    /// every token is checked against what the room's moderators decided (a removal, a
    /// role; `shared::membership`). Needs `AUTH_MODE=jwt`.
    pub moderation: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_BODY_BYTES`
    pub body_bytes: usize,
    /// `MAX_NAME_CHARS`: room names, identities and display names (shared by every function).
    pub names: NameLimit,
    /// `MAX_METADATA_BYTES`: participant metadata and each agent's metadata.
    pub metadata_bytes: usize,
    /// `MAX_ATTRIBUTES`: number of participant attributes.
    pub attributes: usize,
}

/// Attribute keys and values have fixed bounds: they travel inside the token, and the
/// token travels in the WebSocket URL.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 128;
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            policy: TokenPolicy::default(),
            allowed_agents: Vec::new(),
            append_identity_suffix: false,
            cors: CorsPolicy::Closed,
            limits: Limits { body_bytes: 16 * 1024, names: NameLimit(128), metadata_bytes: 4096, attributes: 32 },
            auth: AuthSettings::default(),
            links: LinkSettings::default(),
            moderation: false,
        }
    }
}

impl TokenSettings {
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let auth = AuthSettings::from_env(env)?;
        Ok(Self {
            policy: TokenPolicy::from_env(env)?,
            allowed_agents: env.list("ALLOWED_AGENT_NAMES"),
            append_identity_suffix: env.bool("APPEND_IDENTITY_SUFFIX", defaults.append_identity_suffix)?,
            cors: CorsPolicy::from_env(env)?,
            limits: Limits {
                body_bytes: env.usize_in("MAX_BODY_BYTES", defaults.limits.body_bytes, 256..=1024 * 1024)?,
                names: NameLimit::from_env(env)?,
                metadata_bytes: env.usize_in("MAX_METADATA_BYTES", defaults.limits.metadata_bytes, 0..=64 * 1024)?,
                attributes: env.usize_in("MAX_ATTRIBUTES", defaults.limits.attributes, 0..=256)?,
            },
            links: LinkSettings::from_env(env, &auth)?,
            moderation: livekit_lambda_shared::membership::switch(env, auth.enabled)?,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(TokenSettings::from_env(&EnvSettings::default()).unwrap(), TokenSettings::default());
    }

    #[test]
    fn parses_every_setting() {
        let env = EnvSettings::from_pairs([
            ("TOKEN_TTL_SECONDS", "600"),
            ("PUBLISH_SOURCES", "camera,microphone"),
            ("ALLOWED_AGENT_NAMES", "transcriber, helper"),
            ("APPEND_IDENTITY_SUFFIX", "true"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("MAX_BODY_BYTES", "4096"),
        ]);
        let s = TokenSettings::from_env(&env).unwrap();
        assert_eq!(s.policy.ttl, Duration::from_secs(600));
        assert_eq!(s.policy.publish_sources, vec!["camera", "microphone"]);
        assert_eq!(s.allowed_agents, vec!["transcriber", "helper"]);
        assert!(s.append_identity_suffix);
        assert_eq!(s.cors, CorsPolicy::Origins(vec!["https://app.example.com".into()]));
        assert_eq!(s.limits.body_bytes, 4096);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (name, value) in [
            ("TOKEN_TTL_SECONDS", "10"),
            ("PUBLISH_SOURCES", "webcam"),
            ("AUTH_ADMIN_PUBLISH_SOURCES", "webcam"),
            ("APPEND_IDENTITY_SUFFIX", "sometimes"),
            ("MAX_BODY_BYTES", "huge"),
        ] {
            let err = TokenSettings::from_env(&EnvSettings::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }
}
