//! Settings from environment variables, parsed once at start-up. Every parse error
//! names the variable, so a bad deployment stops with a message saying what to fix.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::error::Error;

/// Where this process is running: LiveKit's development defaults are only ever used
/// locally, and log lines are JSON in Lambda, text locally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Lambda,
    Local,
}

/// A snapshot of the environment. Tests build one from pairs instead of mutating
/// the process environment.
#[derive(Clone, Debug, Default)]
pub struct EnvSettings {
    vars: HashMap<String, String>,
}

impl EnvSettings {
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The trimmed value, or `None` when unset or blank.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// Whether the variable is present at all, even blank (blank can mean "none").
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    pub fn u64_in(&self, name: &str, default: u64, range: RangeInclusive<u64>) -> Result<u64, Error> {
        let Some(raw) = self.non_empty(name) else { return Ok(default) };
        let value: u64 =
            raw.parse().map_err(|_| Error::config(name, format!("must be a whole number, got `{raw}`")))?;
        if !range.contains(&value) {
            return Err(Error::config(
                name,
                format!("must be between {} and {}, got {value}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    pub fn usize_in(&self, name: &str, default: usize, range: RangeInclusive<usize>) -> Result<usize, Error> {
        let value = self.u64_in(name, default as u64, *range.start() as u64..=*range.end() as u64)?;
        Ok(value as usize)
    }

    pub fn duration_secs(&self, name: &str, default: u64, range: RangeInclusive<u64>) -> Result<Duration, Error> {
        self.u64_in(name, default, range).map(Duration::from_secs)
    }

    pub fn duration_millis(&self, name: &str, default: u64, range: RangeInclusive<u64>) -> Result<Duration, Error> {
        self.u64_in(name, default, range).map(Duration::from_millis)
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, Error> {
        let Some(raw) = self.non_empty(name) else { return Ok(default) };
        match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(Error::config(name, format!("must be true or false, got `{raw}`"))),
        }
    }

    /// One of `allowed` (case-insensitive), `default` when unset: a switch or a mode.
    pub fn choice(&self, name: &str, default: &'static str, allowed: &[&'static str]) -> Result<&'static str, Error> {
        let Some(raw) = self.non_empty(name) else { return Ok(default) };
        let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&raw))
            .copied()
            .ok_or_else(|| Error::config(name, format!("must be {}, got `{raw}`", quoted.join(" or "))))
    }

    /// A feature switch: `off` (the default) or `on`.
    pub fn on_off(&self, name: &str) -> Result<bool, Error> {
        Ok(self.choice(name, "off", &["off", "on"])? == "on")
    }

    /// A comma-separated list; blank entries are ignored.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.non_empty(name)
            .map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// A comma-separated list whose every entry must be one of `allowed`.
    pub fn list_of(&self, name: &str, allowed: &[&str]) -> Result<Vec<String>, Error> {
        let values = self.list(name);
        if let Some(bad) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
            return Err(Error::config(name, format!("has unknown entry `{bad}` (allowed: {})", allowed.join(", "))));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_and_switches() {
        let env = EnvSettings::from_pairs([("A", "KNOCK"), ("B", "on"), ("C", "maybe")]);
        assert_eq!(env.choice("A", "direct", &["direct", "knock"]).unwrap(), "knock");
        assert_eq!(env.choice("UNSET", "direct", &["direct", "knock"]).unwrap(), "direct");
        assert!(env.on_off("B").unwrap() && !env.on_off("UNSET").unwrap());
        let error = env.on_off("C").unwrap_err().to_string();
        assert!(error.contains('C') && error.contains("`off` or `on`"), "{error}");
    }

    #[test]
    fn numbers_default_parse_and_name_the_variable_on_error() {
        let env = EnvSettings::from_pairs([("A", "42"), ("B", "x"), ("C", "0"), ("D", " ")]);
        assert_eq!(env.u64_in("A", 1, 1..=100).unwrap(), 42);
        assert_eq!(env.u64_in("MISSING", 7, 1..=100).unwrap(), 7);
        assert_eq!(env.u64_in("D", 7, 1..=100).unwrap(), 7, "blank means default");
        let err = env.u64_in("B", 1, 1..=100).unwrap_err().to_string();
        assert!(err.contains("B") && err.contains("whole number"), "{err}");
        let err = env.u64_in("C", 1, 1..=100).unwrap_err().to_string();
        assert!(err.contains("C") && err.contains("between 1 and 100"), "{err}");
    }

    #[test]
    fn bools_and_lists() {
        let env = EnvSettings::from_pairs([("T", "TRUE"), ("F", "off"), ("X", "maybe"), ("L", " a, ,b ,")]);
        assert!(env.bool("T", false).unwrap());
        assert!(!env.bool("F", true).unwrap());
        assert!(env.bool("X", true).unwrap_err().to_string().contains("X"));
        assert_eq!(env.list("L"), vec!["a", "b"]);
        assert!(env.list_of("L", &["a"]).unwrap_err().to_string().contains("`b`"));
        assert_eq!(env.list_of("L", &["a", "b"]).unwrap(), vec!["a", "b"]);
    }
}
