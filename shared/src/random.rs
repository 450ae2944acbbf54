//! Unguessable identifiers from the operating system's CSPRNG.

use crate::error::Error;

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `len` characters of a 32-symbol alphabet (5 bits each): 16 characters = 80 bits.
pub fn random_id(len: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| Error::Signing(format!("no randomness available: {e}")))?;
    Ok(bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_length_and_alphabet_and_differ() {
        let a = random_id(16).unwrap();
        let b = random_id(16).unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }
}
