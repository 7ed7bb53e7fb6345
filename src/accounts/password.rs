//! Password storage in Dovecot's `{SCHEME}hash` form.
//!
//! New passwords are hashed with Argon2id (the `{ARGON2ID}` scheme, a PHC string such as
//! `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), which Dovecot can read from the same file.
//! `{PLAIN}` is understood when an administrator asks for it explicitly (APOP needs the clear
//! password), never written by default.
//!
//! Verification takes the same time for an unknown user as for a wrong password: callers check
//! against [`dummy_hash`] when the user does not exist, so timing does not reveal who has an
//! account.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes `password` as `{ARGON2ID}$argon2id$…` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| format!("hashing failed: {e}"))?;
    Ok(format!("{{ARGON2ID}}{phc}"))
}

/// Checks `password` against a stored `{SCHEME}…` value. Unknown schemes never match.
pub fn verify(stored: &str, password: &str) -> bool {
    if let Some(plain) = stored.strip_prefix("{PLAIN}") {
        // Compare every byte whatever the first difference, so the time says nothing.
        let (a, b) = (plain.as_bytes(), password.as_bytes());
        return a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    }
    let phc = stored
        .strip_prefix("{ARGON2ID}")
        .or_else(|| stored.strip_prefix("{ARGON2I}"))
        .unwrap_or(stored);
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of no one's password, to spend the same time on unknown users.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&generate()).unwrap_or_default())
}

/// A random password a person can type: 12 characters without look-alikes (no 0/O, 1/l/I).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    // Without randomness there is no safe password to offer; the OS always has it on Linux.
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("{ARGON2ID}$argon2id$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong"));
    }

    #[test]
    fn plain_scheme_and_garbage() {
        assert!(verify("{PLAIN}secret", "secret"));
        assert!(!verify("{PLAIN}secret", "secreT"));
        assert!(!verify("{CRYPT}xx", "xx"));
        assert!(!verify("", ""));
        // The dummy hash parses, so checking it costs a real Argon2 run.
        assert!(PasswordHash::new(dummy_hash().trim_start_matches("{ARGON2ID}")).is_ok());
        assert!(!verify(dummy_hash(), "anything"));
    }

    #[test]
    fn generated_passwords_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
    }
}
