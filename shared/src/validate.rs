//! Input rules for names that end up in tokens and logs, and the validated types that
//! carry them: a [`RoomName`] or an [`Identity`] exists only once it passed the rules,
//! with the one limit every function reads ([`NameLimit`]).

use std::fmt;
use std::ops::Deref;

use crate::error::Error;
use crate::settings::EnvSettings;

/// Why a name was refused; the caller turns it into a 400 naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("is empty")]
    Empty,
    #[error("is longer than {0} characters")]
    TooLong(usize),
    #[error("contains control characters")]
    ControlCharacter,
    #[error("contains invisible bidirectional-override characters")]
    BidiOverride,
}

/// Room names, identities and display names: something visible, at most `max_chars`
/// characters, no control characters (they break logs and UIs), and none of the
/// bidi overrides that make a name display as something else.
pub fn check_name(value: &str, max_chars: usize) -> Result<(), NameProblem> {
    // Blank is nothing visible: only whitespace and characters that render as nothing
    // (issue 28: a room called U+200B is a room nobody can see).
    if value.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(NameProblem::Empty);
    }
    if value.chars().count() > max_chars {
        return Err(NameProblem::TooLong(max_chars));
    }
    if value.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    if value.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        return Err(NameProblem::BidiOverride);
    }
    Ok(())
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt,
/// `Default_Ignorable_Code_Point`): zero-width spaces and joiners, word joiners, the BOM,
/// soft hyphens, variation selectors, fillers and tags. They render as nothing, so a name
/// made only of them looks empty; inside a visible name they stay (emoji sequences use some).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// `MAX_NAME_CHARS` (default 128): the longest room name, identity or display name, the
/// same for every function, so the token generator never mints a token for a room that
/// the subtitle dispatcher would refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameLimit(pub usize);

impl NameLimit {
    pub const VARIABLE: &'static str = "MAX_NAME_CHARS";

    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        Ok(Self(env.usize_in(Self::VARIABLE, Self::default().0, 1..=1024)?))
    }
}

impl Default for NameLimit {
    fn default() -> Self {
        Self(128)
    }
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>, limit: NameLimit) -> Result<Self, NameProblem> {
                let value = value.into();
                check_name(&value, limit.0)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_name!(
    /// A LiveKit room name that passed the rules.
    RoomName
);
validated_name!(
    /// A participant identity that passed the rules.
    Identity
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name("demo-room", 128), Ok(()));
        assert_eq!(check_name("Jérôme 👋", 128), Ok(()));
        assert_eq!(check_name("", 128), Err(NameProblem::Empty));
        assert_eq!(check_name("   ", 128), Err(NameProblem::Empty));
        for invisible in ["\u{200B}", "\u{2060}", "\u{FEFF}", "\u{200B}\u{2060} \u{FEFF}", "\u{00AD}", "\u{E0041}"] {
            assert_eq!(check_name(invisible, 128), Err(NameProblem::Empty), "{invisible:?}");
        }
        assert_eq!(check_name("a\u{200D}b", 128), Ok(()), "inside a visible name they stay");
        assert_eq!(check_name("\u{1F469}\u{200D}\u{1F4BB}", 128), Ok(()), "an emoji sequence is visible");
        assert_eq!(check_name(&"a".repeat(129), 128), Err(NameProblem::TooLong(128)));
        assert_eq!(check_name(&"é".repeat(128), 128), Ok(()), "limit counts characters, not bytes");
        assert_eq!(check_name("bad\u{1}room", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("line\nbreak", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("del\u{7f}", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("evil\u{202E}gnp.exe", 128), Err(NameProblem::BidiOverride));
    }

    #[test]
    fn one_limit_from_the_environment_for_every_name() {
        assert_eq!(NameLimit::from_env(&EnvSettings::default()).unwrap(), NameLimit(128));
        let wide = NameLimit::from_env(&EnvSettings::from_pairs([("MAX_NAME_CHARS", "200")])).unwrap();
        assert_eq!(RoomName::parse("r".repeat(200), wide).unwrap().len(), 200);
        assert_eq!(RoomName::parse("r".repeat(201), wide), Err(NameProblem::TooLong(200)));
        assert_eq!(Identity::parse("jane", wide).unwrap().as_str(), "jane");
        assert!(NameLimit::from_env(&EnvSettings::from_pairs([("MAX_NAME_CHARS", "0")])).is_err());
    }
}
