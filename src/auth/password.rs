//! Password hashing with argon2id (PHC string format, parameters stored with the hash).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be 8 to 128 characters long")]
    Length,
    #[error("password must mix lower case, upper case, digits and symbols (at least three of the four)")]
    Weak,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks a new password against the policy (QCVN 12:2026 asks for ≥ 8 characters mixing
/// character classes; we require three of the four classes).
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Err(PasswordError::Length);
    }
    let classes = [
        password.chars().any(char::is_lowercase),
        password.chars().any(char::is_uppercase),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(PasswordError::Weak);
    }
    Ok(())
}

fn hasher(memory_kib: u32, iterations: u32) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password. CPU-heavy: call from a blocking thread.
pub fn hash(password: &str, memory_kib: u32, iterations: u32) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher(memory_kib, iterations)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Verifies a password against a stored PHC string. CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A hash of a random password, used to spend the same time on unknown user names.
pub fn decoy_hash(memory_kib: u32, iterations: u32) -> String {
    hash("decoy-Password-1", memory_kib, iterations).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Mat-khau-2026", 1024, 1).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Mat-khau-2026", &h));
        assert!(!verify("mat-khau-2026", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short1A").is_err());
        assert!(check_policy("alllowercaseletters").is_err());
        assert!(check_policy("vanthu-demo").is_err());
        assert!(check_policy("Vanthu-demo1").is_ok());
        assert!(check_policy("Mật-khẩu-Mới-2026").is_ok());
    }
}
