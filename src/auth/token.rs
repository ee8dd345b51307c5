//! Opaque session tokens: 256 random bits, handed to the client once, stored only as SHA-256.

use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// A new token (URL-safe hex) and the hash to store.
pub fn generate() -> (String, String) {
    let mut bytes = [0u8; 32];
    // SystemRandom only fails when the OS has no entropy source, which is not recoverable.
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("operating system random source failed"));
    let token = format!("vt_{}", hex::encode(bytes));
    let hashed = hash(&token);
    (token, hashed)
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(digest(&SHA256, token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = super::generate();
        let (b, _) = super::generate();
        assert_ne!(a, b);
        assert_eq!(super::hash(&a), ha);
        assert_ne!(a, ha);
        assert_eq!(a.len(), 3 + 64);
    }
}
