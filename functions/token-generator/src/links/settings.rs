//! Room links' settings (`ROOM_LINK*`): off by default; on needs `AUTH_MODE=jwt`, because
//! links are created by verified callers.

use std::time::Duration;

use livekit_lambda_shared::room_link::Admission;
use livekit_lambda_shared::{EnvSettings, Error};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use livekit_lambda_shared::auth::AuthSettings;

/// `ROOM_LINK*` settings. Off by default; on needs `AUTH_MODE=jwt`, because links are
/// created by verified callers.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSettings {
    /// `ROOM_LINKS`: `off` (default) or `on`.
    pub enabled: bool,
    /// `ROOM_LINK_URL`: the front end's join page, with `{link}` (and optionally `{room}`),
    /// e.g. `https://meet.example.com/join/{room}#{link}`: the fragment never reaches a server.
    pub url_template: String,
    /// `ROOM_LINK_TTL_SECONDS` (default 24 h): a link's life when the creator names none.
    pub default_ttl: Duration,
    /// `ROOM_LINK_MAX_TTL_SECONDS` (default 7 days): the longest `expires_in` accepted.
    pub max_ttl: Duration,
    /// `AUTH_LINK_SCOPE` (default `livekit/links`): lets an application create links.
    pub scope: String,
    /// `LOBBY` (`off` by default): the waiting room is on (the room controls serve it), so
    /// links may send their guests to knock.
    pub lobby: bool,
    /// `ROOM_LINK_ADMISSION` (`direct` by default): how a link's guest comes in when its
    /// creator does not say; `knock` needs `LOBBY=on`.
    pub default_admission: Admission,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            url_template: String::new(),
            default_ttl: Duration::from_secs(24 * 3600),
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            scope: "livekit/links".into(),
            lobby: false,
            default_admission: Admission::Direct,
        }
    }
}

/// `ROOM_LINKS`: `off` (default) or `on`.
fn switch(env: &EnvSettings) -> Result<bool, Error> {
    env.on_off("ROOM_LINKS")
}

/// Whether links are on (an invalid value is reported by [`LinkSettings::from_env`]).
pub fn enabled_in(env: &EnvSettings) -> bool {
    switch(env).unwrap_or(false)
}

impl LinkSettings {
    pub fn from_env(env: &EnvSettings, auth: &AuthSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let enabled = switch(env)?;
        let scope = env.non_empty("AUTH_LINK_SCOPE").unwrap_or(defaults.scope);
        let max_ttl = env.duration_secs("ROOM_LINK_MAX_TTL_SECONDS", defaults.max_ttl.as_secs(), 60..=90 * 86_400)?;
        let default_ttl =
            env.duration_secs("ROOM_LINK_TTL_SECONDS", defaults.default_ttl.as_secs(), 60..=90 * 86_400)?;
        let lobby = env.on_off("LOBBY")?;
        let default_admission = match env.choice("ROOM_LINK_ADMISSION", "direct", &["direct", "knock"])? {
            "knock" if !lobby => {
                return Err(Error::config("ROOM_LINK_ADMISSION", "`knock` needs the waiting room (LOBBY=on)"))
            }
            "knock" => Admission::Knock,
            _ => Admission::Direct,
        };
        if !enabled {
            return Ok(Self { scope, max_ttl, default_ttl, lobby, default_admission, ..defaults });
        }
        if !auth.enabled {
            return Err(Error::config("ROOM_LINKS", "needs AUTH_MODE=jwt: links are created by verified callers"));
        }
        let url_template = env.non_empty("ROOM_LINK_URL").ok_or_else(|| {
            Error::config("ROOM_LINK_URL", "is required with ROOM_LINKS=on (e.g. https://meet.example.com/join#{link})")
        })?;
        if !url_template.contains("{link}")
            || !(url_template.starts_with("https://") || url_template.starts_with("http://"))
        {
            return Err(Error::config("ROOM_LINK_URL", "must be an http(s) URL containing `{link}`"));
        }
        if default_ttl > max_ttl {
            return Err(Error::config("ROOM_LINK_TTL_SECONDS", "must not exceed ROOM_LINK_MAX_TTL_SECONDS"));
        }
        Ok(Self { enabled, url_template, default_ttl, max_ttl, scope, lobby, default_admission })
    }

    /// The guest's URL: the template with the room (percent-encoded) and the link.
    pub fn url(&self, room: &str, link: &str) -> String {
        self.url_template
            .replace("{room}", &utf8_percent_encode(room, NOT_UNRESERVED).to_string())
            .replace("{link}", link)
    }
}

/// Everything but RFC 3986's unreserved characters: a room in a URL's path.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_need_authentication_and_a_url_with_the_link() {
        let on = AuthSettings { enabled: true, ..AuthSettings::default() };
        let env = |pairs: &[(&str, &str)]| EnvSettings::from_pairs(pairs.iter().copied());
        assert!(!LinkSettings::from_env(&env(&[]), &on).unwrap().enabled);
        let s = LinkSettings::from_env(
            &env(&[("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://meet.example.com/join/{room}#{link}")]),
            &on,
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.url("Jérôme & co", "L.I.NK"), "https://meet.example.com/join/J%C3%A9r%C3%B4me%20%26%20co#L.I.NK");
        for (pairs, variable) in [
            (vec![("ROOM_LINKS", "on")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x/join")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "javascript:{link}")], "ROOM_LINK_URL"),
            (vec![("ROOM_LINKS", "yes")], "ROOM_LINKS"),
            (vec![("ROOM_LINK_ADMISSION", "knock")], "ROOM_LINK_ADMISSION"),
            (vec![("ROOM_LINK_ADMISSION", "wait"), ("LOBBY", "on")], "ROOM_LINK_ADMISSION"),
            (vec![("LOBBY", "maybe")], "LOBBY"),
            (
                vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x#{link}"), ("ROOM_LINK_TTL_SECONDS", "999999")],
                "ROOM_LINK_TTL_SECONDS",
            ),
        ] {
            let error = LinkSettings::from_env(&env(&pairs), &on).unwrap_err().to_string();
            assert!(error.contains(variable), "{pairs:?}: {error}");
        }
        let off = AuthSettings::default();
        let error = LinkSettings::from_env(&env(&[("ROOM_LINKS", "on"), ("ROOM_LINK_URL", "https://x#{link}")]), &off)
            .unwrap_err()
            .to_string();
        assert!(error.contains("AUTH_MODE=jwt"), "{error}");
    }
}
