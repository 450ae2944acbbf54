//! The room controls' settings, parsed once at start-up: who is asking (the same `AUTH_*`
//! the token generator reads), what an admitted guest's token gets (the same
//! `TOKEN_TTL_SECONDS` and publish sources), and the waiting room's own (`lobby::settings`).

use std::time::Duration;

use livekit_lambda_shared::auth::AuthSettings;
use livekit_lambda_shared::token::TokenPolicy;
use livekit_lambda_shared::validate::NameLimit;
use livekit_lambda_shared::web::CorsPolicy;
use livekit_lambda_shared::{credentials, EnvSettings, Error};

use crate::lobby::settings::LobbySettings;
use crate::moderation::settings::ModerationSettings;

#[derive(Clone, Debug, PartialEq)]
pub struct RoomControlsSettings {
    /// Who may ask (`AUTH_*`): moderators are verified callers, so the waiting room needs
    /// `AUTH_MODE=jwt`.
    pub auth: AuthSettings,
    /// What an admitted guest's token gets, as the token generator mints it.
    pub policy: TokenPolicy,
    pub lobby: LobbySettings,
    pub moderation: ModerationSettings,
    pub cors: CorsPolicy,
    /// `MAX_NAME_CHARS`: room names and display names, the token generator's limit.
    pub names: NameLimit,
    /// `LIVEKIT_API_TIMEOUT_MS`
    pub api_timeout: Duration,
    /// `CREDENTIALS_FORCED_REFRESH_SECONDS`: a link or a participant token signed by a key
    /// this container does not know yet re-reads SSM at most this often.
    pub forced_refresh: Duration,
}

impl Default for RoomControlsSettings {
    fn default() -> Self {
        Self {
            auth: AuthSettings::default(),
            policy: TokenPolicy::default(),
            lobby: LobbySettings::default(),
            moderation: ModerationSettings::default(),
            cors: CorsPolicy::Closed,
            names: NameLimit::default(),
            api_timeout: Duration::from_secs(3),
            forced_refresh: credentials::DEFAULT_FORCED_REFRESH,
        }
    }
}

impl RoomControlsSettings {
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let auth = AuthSettings::from_env(env)?;
        Ok(Self {
            lobby: LobbySettings::from_env(env, &auth)?,
            moderation: ModerationSettings::from_env(env, &auth)?,
            policy: TokenPolicy::from_env(env)?,
            auth,
            cors: CorsPolicy::from_env(env)?,
            names: NameLimit::from_env(env)?,
            api_timeout: livekit_lambda_shared::livekit::api_timeout(env)?,
            forced_refresh: credentials::forced_refresh_interval(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(RoomControlsSettings::from_env(&EnvSettings::default()).unwrap(), RoomControlsSettings::default());
    }
}
