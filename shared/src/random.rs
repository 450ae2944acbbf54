//! Unguessable identifiers from the operating system's CSPRNG.

use crate::error::Error;

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `len` characters of a 32-symbol alphabet (5 bits each): 16 characters = 80 bits.
pub fn random_id(len: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| Error::Signing(format!("no randomness available: {e}")))?;
    Ok(bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char).collect())
}

/// `digits` decimal digits (at most 19), uniformly distributed: a PIN.
pub fn random_digits(digits: u32) -> Result<String, Error> {
    assert!((1..=19).contains(&digits), "1 to 19 digits fit in a u64");
    let modulus = 10u64.pow(digits);
    // Reject the top of the range so every value is equally likely (no modulo bias).
    let limit = u64::MAX - (u64::MAX % modulus);
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| Error::Signing(format!("no randomness available: {e}")))?;
        let value = u64::from_le_bytes(bytes);
        if value < limit {
            return Ok(format!("{:0width$}", value % modulus, width = digits as usize));
        }
    }
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

    #[test]
    fn digits_are_digits_of_the_requested_length() {
        for _ in 0..200 {
            let pin = random_digits(10).unwrap();
            assert_eq!(pin.len(), 10);
            assert!(pin.bytes().all(|c| c.is_ascii_digit()), "{pin}");
        }
        assert_ne!(random_digits(10).unwrap(), random_digits(10).unwrap());
    }
}
