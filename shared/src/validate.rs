//! Input rules for names that end up in tokens and logs.

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

/// Room names, identities and display names: non-blank, at most `max_chars`
/// characters, no control characters (they break logs and UIs), and none of the
/// bidi overrides that make a name display as something else.
pub fn check_name(value: &str, max_chars: usize) -> Result<(), NameProblem> {
    if value.trim().is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name("demo-room", 128), Ok(()));
        assert_eq!(check_name("Jérôme 👋", 128), Ok(()));
        assert_eq!(check_name("", 128), Err(NameProblem::Empty));
        assert_eq!(check_name("   ", 128), Err(NameProblem::Empty));
        assert_eq!(check_name(&"a".repeat(129), 128), Err(NameProblem::TooLong(128)));
        assert_eq!(check_name(&"é".repeat(128), 128), Ok(()), "limit counts characters, not bytes");
        assert_eq!(check_name("bad\u{1}room", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("line\nbreak", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("del\u{7f}", 128), Err(NameProblem::ControlCharacter));
        assert_eq!(check_name("evil\u{202E}gnp.exe", 128), Err(NameProblem::BidiOverride));
    }
}
