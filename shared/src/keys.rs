//! LiveKit API keys that verify, in LiveKit's own `key: secret` format (its `keys:` map,
//! `key_file` and `LIVEKIT_KEYS`).

use std::collections::BTreeMap;

use crate::secret::Secret;

/// API keys and their secrets, by key. Parsed strictly: a malformed entry is an error
/// that says which entry and why, never printing a secret; the caller names the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: BTreeMap<String, Secret>,
    /// The key listed first: where a set also signs (room links), it signs with this one,
    /// so a rotation puts the new key on top and leaves the old one below to verify.
    first: Option<String>,
}

impl KeySet {
    /// Parses `key: secret` entries, one per line or separated by commas
    /// (`LIVEKIT_KEYS="key1: secret1, key2: secret2"`). Blank entries and `#` comment
    /// lines are skipped; a secret may be quoted (`key: "secret"`). Keys and secrets
    /// contain no whitespace and no commas; a key is listed once.
    pub fn parse(text: &str) -> Result<Self, KeySetError> {
        let mut keys = BTreeMap::new();
        let mut first = None;
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let n = index + 1;
            // Nothing of a malformed entry is printed: it may be a secret pasted alone.
            let (key, secret) =
                entry.split_once(':').ok_or_else(|| KeySetError(format!("entry {n} is not `key: secret` (no `:`)")))?;
            let (key, secret) = (key.trim(), unquote(secret.trim()));
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | ':')) {
                return Err(KeySetError(format!(
                    "entry {n} has an empty key or one with spaces, quotes or control characters"
                )));
            }
            if secret.is_empty() || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(KeySetError(format!(
                    "the secret of key `{key}` (entry {n}) is empty or contains spaces or control characters"
                )));
            }
            if keys.insert(key.to_string(), Secret::new(secret)).is_some() {
                return Err(KeySetError(format!("key `{key}` is listed twice")));
            }
            first.get_or_insert_with(|| key.to_string());
        }
        Ok(Self { keys, first })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let pairs: Vec<_> = pairs.into_iter().collect();
        Self {
            first: pairs.first().map(|(k, _)| k.to_string()),
            keys: pairs.into_iter().map(|(k, s)| (k.to_string(), Secret::new(s))).collect(),
        }
    }

    /// The key listed first and its secret: the one that signs.
    pub fn signing(&self) -> Option<(&str, &Secret)> {
        let key = self.first.as_deref()?;
        Some((key, self.keys.get(key)?))
    }

    /// The secret of `key`, if the set has it.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.keys.get(key)
    }

    /// The keys (never the secrets), sorted.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why a key set was refused (names a key at most, never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeySetError(pub String);

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_livekit_keys_one_per_line_or_comma_separated() {
        let set = KeySet::parse("APIone: secret-one\nAPItwo:  \"secret-two\"\n\n# retired\n").unwrap();
        assert_eq!(set.key_ids().collect::<Vec<_>>(), ["APIone", "APItwo"]);
        assert_eq!(set.get("APItwo").unwrap().expose(), "secret-two");
        let env = KeySet::parse("key1: secret1, key2: secret2").unwrap();
        assert_eq!((env.len(), env.get("key1").unwrap().expose()), (2, "secret1"));
        assert!(KeySet::parse(" \n").unwrap().is_empty());
        assert!(KeySet::parse("k: s\r\nj: t\r\n").unwrap().get("j").is_some());
    }

    #[test]
    fn malformed_entries_say_which_and_why_and_never_print_the_secret() {
        let cases = [
            ("just-a-secret-value", "entry 1"),
            ("k: s\nhidden-secret-value", "entry 2"),
            (": lonely-secret-value", "empty key"),
            ("my key: spaced-secret-value", "empty key or one with spaces"),
            ("k:", "secret of key `k`"),
            ("k: two words-secret-value", "secret of key `k`"),
            ("k: a\nk: b", "key `k` is listed twice"),
        ];
        for (text, expected) in cases {
            let error = KeySet::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            for secret in ["just-a-secret-value", "hidden-secret-value", "lonely-secret-value", "spaced-secret-value"] {
                assert!(!error.contains(secret), "{text:?}: {error}");
            }
        }
    }

    #[test]
    fn the_key_listed_first_signs() {
        let set = KeySet::parse("# newest first\nzz-new: s1\naa-old: s2").unwrap();
        assert_eq!(set.signing().map(|(k, s)| (k, s.expose())), Some(("zz-new", "s1")), "not the sorted first");
        assert_eq!(KeySet::from_pairs([("b", "1"), ("a", "2")]).signing().unwrap().0, "b");
        assert!(KeySet::default().signing().is_none());
    }

    #[test]
    fn debug_hides_the_secrets() {
        let set = KeySet::parse("APIone: do-not-print-me").unwrap();
        let printed = format!("{set:?}");
        assert!(printed.contains("APIone") && !printed.contains("do-not-print-me"), "{printed}");
    }
}
