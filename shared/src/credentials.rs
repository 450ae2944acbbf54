//! The LiveKit credentials a function signs and verifies with: one deployment's key,
//! secret and URLs, and the other keys it accepts. Where they come from and how long they
//! are kept is `credential_store`'s.

use std::time::Duration;

use crate::error::Error;
use crate::keys::{KeySet, KeySetError};
use crate::secret::Secret;
use crate::settings::EnvSettings;

/// LiveKit's own development credentials (`livekit-server --dev`).
pub const DEV_API_KEY: &str = "devkey";
pub const DEV_API_SECRET: &str = "secret";
pub const DEV_URL: &str = "ws://localhost:7880";

/// API key, secret and the two URLs of one LiveKit deployment, and the other keys it
/// accepts while a key is being rotated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The current key: every token and API call is signed with it.
    pub api_key: String,
    pub api_secret: Secret,
    /// What browsers connect to: always `ws://` or `wss://`, because older
    /// browsers need an explicit WebSocket scheme in `new WebSocket()`.
    pub client_url: String,
    /// Where server-side API (Twirp) calls go: `http://` or `https://`.
    pub api_url: String,
    /// Keys that verify but never sign (`${prefix}/api-keys`, `LIVEKIT_KEYS`); may list
    /// the current key too, with the same secret.
    pub verifiers: KeySet,
    /// Room links' own keys (`${prefix}/room-link-keys`, `ROOM_LINK_KEYS`), never a LiveKit
    /// secret: the first listed signs, all verify. Empty where links are off.
    pub room_link_keys: KeySet,
}

/// `CREDENTIALS_FORCED_REFRESH_SECONDS` when unset: after a token or link signed by a key
/// this container does not know, SSM is re-read at most this often (a key added by a
/// rotation is picked up; forged requests cannot hammer SSM).
pub const DEFAULT_FORCED_REFRESH: Duration = Duration::from_secs(30);

/// `CREDENTIALS_FORCED_REFRESH_SECONDS`, read the same way by every function that verifies.
pub fn forced_refresh_interval(env: &EnvSettings) -> Result<Duration, Error> {
    env.duration_secs("CREDENTIALS_FORCED_REFRESH_SECONDS", DEFAULT_FORCED_REFRESH.as_secs(), 1..=3600)
}

/// Shortest room-link secret: HS256 wants a key as long as its 256-bit output.
pub const MIN_ROOM_LINK_SECRET_CHARS: usize = 32;

impl Credentials {
    /// Builds credentials from the configured URL (any of ws/wss/http/https) and an
    /// optional separate API URL; the two are derived from each other when only one is given.
    pub fn new(
        api_key: impl Into<String>,
        api_secret: Secret,
        url: &str,
        api_url: Option<&str>,
    ) -> Result<Self, Error> {
        let api_key = api_key.into();
        if api_key.trim().is_empty() {
            return Err(Error::InvalidCredentials("the API key is empty".into()));
        }
        if api_secret.is_empty() {
            return Err(Error::InvalidCredentials("the API secret is empty".into()));
        }
        let (client_url, derived_api_url) = split_url(url)?;
        let api_url = match api_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(explicit) => {
                let (_, api) = split_url(explicit)?;
                api
            }
            None => derived_api_url,
        };
        Ok(Self {
            api_key,
            api_secret,
            client_url,
            api_url,
            verifiers: KeySet::default(),
            room_link_keys: KeySet::default(),
        })
    }

    /// Adds the keys that verify. A set that lists the current key with another secret
    /// is refused: one of the two is stale (or was read mid-rotation), and which one
    /// LiveKit holds cannot be known here.
    pub fn with_verifiers(mut self, verifiers: KeySet) -> Result<Self, KeySetError> {
        if verifiers.get(&self.api_key).is_some_and(|secret| secret != &self.api_secret) {
            return Err(KeySetError(format!(
                "lists the current key `{}` with a different secret than the API secret",
                self.api_key
            )));
        }
        self.verifiers = verifiers;
        Ok(self)
    }

    /// Adds the room links' keys. A secret shorter than 32 characters, or one that is also a
    /// LiveKit secret, is refused: a link key must never sign anything LiveKit accepts.
    pub fn with_room_link_keys(mut self, keys: KeySet) -> Result<Self, KeySetError> {
        for key in keys.key_ids() {
            let secret = keys.get(key).map(Secret::expose).unwrap_or_default();
            if secret.chars().count() < MIN_ROOM_LINK_SECRET_CHARS {
                return Err(KeySetError(format!(
                    "the secret of key `{key}` is shorter than {MIN_ROOM_LINK_SECRET_CHARS} characters"
                )));
            }
            let livekit =
                std::iter::once(&self.api_secret).chain(self.verifiers.key_ids().filter_map(|k| self.verifiers.get(k)));
            if livekit.into_iter().any(|s| s.expose() == secret) {
                return Err(KeySetError(format!("key `{key}` reuses a LiveKit API secret; give links their own")));
            }
        }
        self.room_link_keys = keys;
        Ok(self)
    }

    /// The secret a token issued by `key` must be verified with: the current key's, or a
    /// verifier's; `None` for a key this deployment does not accept.
    pub fn secret_for(&self, key: &str) -> Option<&Secret> {
        if key == self.api_key {
            Some(&self.api_secret)
        } else {
            self.verifiers.get(key)
        }
    }

    pub fn development() -> Self {
        Self {
            api_key: DEV_API_KEY.into(),
            api_secret: Secret::new(DEV_API_SECRET),
            client_url: DEV_URL.into(),
            api_url: "http://localhost:7880".into(),
            verifiers: KeySet::default(),
            room_link_keys: KeySet::default(),
        }
    }
}

/// Returns (client ws/wss URL, api http/https URL) for a LiveKit URL in any of the four schemes.
fn split_url(url: &str) -> Result<(String, String), Error> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::InvalidCredentials(format!("LiveKit URL `{url}` has no scheme (expected wss:// or https://)"))
    })?;
    if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidCredentials(format!("LiveKit URL `{url}` has no valid host")));
    }
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "wss" | "https" => true,
        "ws" | "http" => false,
        other => {
            return Err(Error::InvalidCredentials(format!(
                "LiveKit URL scheme `{other}` is not one of wss, ws, https, http"
            )))
        }
    };
    Ok(if secure {
        (format!("wss://{rest}"), format!("https://{rest}"))
    } else {
        (format!("ws://{rest}"), format!("http://{rest}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(url: &str, api: Option<&str>) -> Result<Credentials, Error> {
        Credentials::new("key", Secret::new("s"), url, api)
    }

    #[test]
    fn client_url_is_always_a_websocket_url_and_api_url_is_derived() {
        let c = creds("https://my.livekit.cloud/", None).unwrap();
        assert_eq!((c.client_url.as_str(), c.api_url.as_str()), ("wss://my.livekit.cloud", "https://my.livekit.cloud"));
        let c = creds("ws://localhost:7880", None).unwrap();
        assert_eq!((c.client_url.as_str(), c.api_url.as_str()), ("ws://localhost:7880", "http://localhost:7880"));
        let c = creds("wss://edge.example.com", Some("https://api.internal:7880")).unwrap();
        assert_eq!(
            (c.client_url.as_str(), c.api_url.as_str()),
            ("wss://edge.example.com", "https://api.internal:7880")
        );
    }

    #[test]
    fn bad_urls_and_empty_keys_are_rejected() {
        for url in ["localhost:7880", "ftp://x", "wss://", "wss://a b"] {
            assert!(creds(url, None).is_err(), "{url} accepted");
        }
        assert!(Credentials::new("", Secret::new("s"), "wss://x", None).is_err());
        assert!(Credentials::new("k", Secret::new(""), "wss://x", None).is_err());
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = Credentials::new("key", Secret::new("do-not-print-me"), "wss://x", None).unwrap();
        assert!(!format!("{c:?}").contains("do-not-print-me"));
    }
}
