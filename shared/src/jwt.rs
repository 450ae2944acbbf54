//! The process's one JSON Web Token crypto provider, installed explicitly.
//!
//! jsonwebtoken 10, which livekit-api signs and verifies LiveKit tokens with and room links
//! use too, resolves its signing backend through a process-wide `CryptoProvider`. livekit-token
//! installs an HMAC-only one as a side effect of its first use, which left room links working
//! only because a LiveKit token happened to be touched first. This module installs ours,
//! once, before anything signs: HMAC (HS256/384/512) on ring, the crypto library the rest of
//! the process (rustls, the AWS SDK's TLS) already links, so no second backend is built in.
//! `lambda::start` and the local server call [`install`] first thing; every signer and
//! verifier of this crate calls it too, so a library caller (a test) gets the same.

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::hmac;

/// An HMAC key of one of the three JWT algorithms.
struct Hmac {
    algorithm: Algorithm,
    key: hmac::Key,
}

impl Hmac {
    fn new(algorithm: Algorithm, secret: &[u8]) -> Result<Self> {
        let ring = match algorithm {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return Err(Error::from(ErrorKind::InvalidAlgorithm)),
        };
        Ok(Self { algorithm, key: hmac::Key::new(ring, secret) })
    }
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    /// Constant time (ring's `hmac::verify`).
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        hmac::verify(&self.key, message, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(Hmac::new(*algorithm, key.try_get_hmac_secret()?)?))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hmac::new(*algorithm, key.try_get_hmac_secret()?)?))
}

/// HMAC only: LiveKit tokens, webhooks and room links are HS256. (The local server's
/// stand-in for API Gateway's authorizer checks RSA signatures itself, with ring.)
static PROVIDER: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, jwk_utils: JwkUtils::new_unimplemented() };

/// Installs the provider as jsonwebtoken's process default, once; later calls cost one
/// atomic load. Returns whether ours is the default (false only if another provider was
/// installed before, e.g. by livekit-token in a process that signed a token through
/// livekit-api first: HMAC still works then, through that provider).
pub fn install() -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| PROVIDER.install_default().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signs_and_verifies_like_the_reference_and_refuses_other_algorithms() {
        // RFC 4231 test case 2 (HMAC-SHA-256, key "Jefe").
        let signer = Hmac::new(Algorithm::HS256, b"Jefe").unwrap();
        let mac = signer.try_sign(b"what do ya want for nothing?").unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(signer.verify(b"what do ya want for nothing?", &mac).is_ok());
        assert!(signer.verify(b"what do ya want for nothing!", &mac).is_err());
        assert!(Hmac::new(Algorithm::RS256, b"k").is_err());
    }

    #[test]
    fn tokens_round_trip_through_the_installed_provider() {
        install();
        let header = jsonwebtoken::Header::new(Algorithm::HS256);
        let claims = serde_json::json!({"sub": "x", "exp": 4_102_444_800u64});
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"secret")).unwrap();
        let validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_secret(b"secret"), &validation);
        assert_eq!(decoded.unwrap().claims["sub"], "x");
        let wrong = jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_secret(b"other"), &validation);
        assert!(wrong.is_err());
    }
}
