//! The waiting room's settings (`LOBBY*`): off by default; on needs `AUTH_MODE=jwt`, because
//! only verified callers can be moderators.

use std::time::Duration;

use livekit_lambda_shared::auth::AuthSettings;
use livekit_lambda_shared::{EnvSettings, Error};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LobbySettings {
    /// `LOBBY`: `off` (default) or `on`.
    pub enabled: bool,
    /// `LOBBY_TOPIC` (default `lobby`): the data-message topic moderators are told on.
    pub topic: String,
    /// `LOBBY_POLL_SECONDS` (default 2): the `Retry-After` a waiting guest is given.
    pub poll_interval: Duration,
    /// `LOBBY_HEARTBEAT_SECONDS` (default 20): a waiting guest who has not asked for this
    /// long (the tab was closed) has left the waiting room.
    pub heartbeat_timeout: Duration,
    /// `LOBBY_MAX_WAIT_SECONDS` (default 900): the longest anyone waits; the request lapses.
    pub max_wait: Duration,
    /// `LOBBY_MAX_PER_ROOM` (default 50): how many may wait at one room at once.
    pub max_per_room: u32,
    /// `LOBBY_MAX_PER_GUEST` (default 5): how many requests one guest handle (a room link,
    /// or a signed-in user) may have waiting at one room at once.
    pub max_per_guest: u32,
}

impl Default for LobbySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            topic: "lobby".into(),
            poll_interval: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(20),
            max_wait: Duration::from_secs(900),
            max_per_room: 50,
            max_per_guest: 5,
        }
    }
}

impl LobbySettings {
    pub fn from_env(env: &EnvSettings, auth: &AuthSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let enabled = env.on_off("LOBBY")?;
        if enabled && !auth.enabled {
            return Err(Error::config("LOBBY", "needs AUTH_MODE=jwt: only verified callers can be moderators"));
        }
        let topic = env.non_empty("LOBBY_TOPIC").unwrap_or(defaults.topic);
        if topic.len() > 64 || !topic.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(Error::config("LOBBY_TOPIC", "must be 1 to 64 letters, digits, '-', '_' or '.'"));
        }
        let poll_interval = env.duration_secs("LOBBY_POLL_SECONDS", defaults.poll_interval.as_secs(), 1..=30)?;
        let heartbeat_timeout =
            env.duration_secs("LOBBY_HEARTBEAT_SECONDS", defaults.heartbeat_timeout.as_secs(), 5..=600)?;
        // Two polls may be lost (a slow network) before a guest counts as gone.
        if heartbeat_timeout < poll_interval * 3 {
            return Err(Error::config("LOBBY_HEARTBEAT_SECONDS", "must be at least three LOBBY_POLL_SECONDS"));
        }
        let max_wait = env.duration_secs("LOBBY_MAX_WAIT_SECONDS", defaults.max_wait.as_secs(), 60..=86_400)?;
        Ok(Self {
            enabled,
            topic,
            poll_interval,
            heartbeat_timeout,
            max_wait,
            max_per_room: env.u64_in("LOBBY_MAX_PER_ROOM", defaults.max_per_room.into(), 1..=500)? as u32,
            max_per_guest: env.u64_in("LOBBY_MAX_PER_GUEST", defaults.max_per_guest.into(), 1..=100)? as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> AuthSettings {
        AuthSettings { enabled: true, ..AuthSettings::default() }
    }

    #[test]
    fn off_by_default_and_on_needs_authentication() {
        let env = |pairs: &[(&str, &str)]| EnvSettings::from_pairs(pairs.iter().copied());
        assert_eq!(LobbySettings::from_env(&env(&[]), &on()).unwrap(), LobbySettings::default());
        assert!(LobbySettings::from_env(&env(&[("LOBBY", "on")]), &on()).unwrap().enabled);
        let error = LobbySettings::from_env(&env(&[("LOBBY", "on")]), &AuthSettings::default()).unwrap_err();
        assert!(error.to_string().contains("AUTH_MODE=jwt"), "{error}");
        for (pairs, variable) in [
            (vec![("LOBBY", "yes")], "LOBBY"),
            (vec![("LOBBY_TOPIC", "a b")], "LOBBY_TOPIC"),
            (vec![("LOBBY_POLL_SECONDS", "0")], "LOBBY_POLL_SECONDS"),
            (vec![("LOBBY_POLL_SECONDS", "10"), ("LOBBY_HEARTBEAT_SECONDS", "20")], "LOBBY_HEARTBEAT_SECONDS"),
            (vec![("LOBBY_MAX_PER_ROOM", "0")], "LOBBY_MAX_PER_ROOM"),
            (vec![("LOBBY_MAX_WAIT_SECONDS", "5")], "LOBBY_MAX_WAIT_SECONDS"),
        ] {
            let error = LobbySettings::from_env(&env(&pairs), &on()).unwrap_err().to_string();
            assert!(error.contains(variable), "{pairs:?}: {error}");
        }
    }
}
