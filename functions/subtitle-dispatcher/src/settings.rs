//! The subtitle dispatcher's settings, parsed once at start-up.

use std::time::Duration;

use livekit_lambda_shared::validate::NameLimit;
use livekit_lambda_shared::web::CorsPolicy;
use livekit_lambda_shared::{credentials, EnvSettings, Error};

#[derive(Clone, Debug, PartialEq)]
pub struct SubtitleSettings {
    /// `SUBTITLE_AGENT_NAME`: the transcriber agent to dispatch. Unset = feature off.
    pub agent_name: Option<String>,
    /// `SUBTITLES_ENABLED` (default true): switch the feature off without removing the name.
    pub enabled: bool,
    /// `SUBTITLE_LANGUAGES`: languages a caller may ask for; empty = no `language` accepted.
    pub languages: Vec<String>,
    /// `REQUIRE_PARTICIPANT_PRESENCE` (default true): the caller must be in the room now.
    pub require_presence: bool,
    /// `SUBTITLE_REQUESTS_PER_MINUTE`: per identity, per warm container.
    pub requests_per_minute: u32,
    pub cors: CorsPolicy,
    /// `LIVEKIT_API_TIMEOUT_MS`
    pub api_timeout: Duration,
    /// `MAX_NAME_CHARS`: the room-name limit, the same as the token generator's.
    pub names: NameLimit,
    /// `CREDENTIALS_FORCED_REFRESH_SECONDS`: after a token issued by an unknown key,
    /// re-read SSM at most this often (a key added by a rotation is picked up at once).
    pub forced_refresh_interval: Duration,
}

impl Default for SubtitleSettings {
    fn default() -> Self {
        Self {
            agent_name: None,
            enabled: true,
            languages: Vec::new(),
            require_presence: true,
            requests_per_minute: 10,
            cors: CorsPolicy::Closed,
            api_timeout: Duration::from_secs(3),
            names: NameLimit::default(),
            forced_refresh_interval: credentials::DEFAULT_FORCED_REFRESH,
        }
    }
}

impl SubtitleSettings {
    /// Every default comes from [`Default`]: one table, read here and by the tests.
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let languages = env.list("SUBTITLE_LANGUAGES");
        if let Some(bad) = languages.iter().find(|l| !is_language_tag(l)) {
            return Err(Error::config(
                "SUBTITLE_LANGUAGES",
                format!("entry `{bad}` is not a language tag like `en` or `pt-BR`"),
            ));
        }
        Ok(Self {
            agent_name: env.non_empty("SUBTITLE_AGENT_NAME"),
            enabled: env.bool("SUBTITLES_ENABLED", defaults.enabled)?,
            languages,
            require_presence: env.bool("REQUIRE_PARTICIPANT_PRESENCE", defaults.require_presence)?,
            requests_per_minute: env.u64_in(
                "SUBTITLE_REQUESTS_PER_MINUTE",
                defaults.requests_per_minute.into(),
                1..=10_000,
            )? as u32,
            cors: CorsPolicy::from_env(env)?,
            api_timeout: livekit_lambda_shared::livekit::api_timeout(env)?,
            names: NameLimit::from_env(env)?,
            forced_refresh_interval: credentials::forced_refresh_interval(env)?,
        })
    }

    /// The agent to dispatch when the feature is on.
    pub fn active_agent(&self) -> Option<&str> {
        self.agent_name.as_deref().filter(|_| self.enabled)
    }
}

/// BCP 47-ish: letters, digits and hyphens, 2 to 35 characters.
fn is_language_tag(tag: &str) -> bool {
    (2..=35).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_an_agent_is_named_and_not_disabled() {
        assert_eq!(SubtitleSettings::from_env(&EnvSettings::default()).unwrap().active_agent(), None);
        let on =
            SubtitleSettings::from_env(&EnvSettings::from_pairs([("SUBTITLE_AGENT_NAME", "transcriber")])).unwrap();
        assert_eq!(on.active_agent(), Some("transcriber"));
        let off = SubtitleSettings::from_env(&EnvSettings::from_pairs([
            ("SUBTITLE_AGENT_NAME", "t"),
            ("SUBTITLES_ENABLED", "false"),
        ]))
        .unwrap();
        assert_eq!(off.active_agent(), None);
    }

    #[test]
    fn languages_are_validated() {
        let s = SubtitleSettings::from_env(&EnvSettings::from_pairs([("SUBTITLE_LANGUAGES", "en, pt-BR")])).unwrap();
        assert_eq!(s.languages, vec!["en", "pt-BR"]);
        let err =
            SubtitleSettings::from_env(&EnvSettings::from_pairs([("SUBTITLE_LANGUAGES", "en;drop")])).unwrap_err();
        assert!(err.to_string().contains("SUBTITLE_LANGUAGES"));
    }
}
