//! The moderator controls' switch (`MODERATION`): off by default; on needs `AUTH_MODE=jwt`,
//! because moderators are verified callers. The token generator reads the same switch to
//! honour what moderators decide.

use livekit_lambda_shared::auth::AuthSettings;
use livekit_lambda_shared::{membership, EnvSettings, Error};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModerationSettings {
    /// `MODERATION`: `off` (default) or `on`.
    pub enabled: bool,
}

impl ModerationSettings {
    pub fn from_env(env: &EnvSettings, auth: &AuthSettings) -> Result<Self, Error> {
        Ok(Self { enabled: membership::switch(env, auth.enabled)? })
    }
}
