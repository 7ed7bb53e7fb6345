//! SASL PLAIN (RFC 4616): how AUTH PLAIN carries a name and a password, for every protocol.
//!
//! The client sends one base64 string (RFC 4648 §4) which decodes to three parts separated by
//! NUL octets:
//!
//! ```text
//! message = [authzid] UTF8NUL authcid UTF8NUL passwd     (RFC 4616 §2)
//! C: AUTH PLAIN AGJvYgBib2ItcGFzc3dvcmQ=                  ← "\0bob\0bob-password"
//! ```
//!
//! `authzid` (whom to act as) may be empty or equal to `authcid` (who logs in); postlab lets no
//! one act as someone else, so any other authzid is refused. The password is plain text once
//! decoded: the same policy as any plaintext login applies (`login::plaintext_allowed`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A decoded PLAIN response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub authcid: String,
    pub password: String,
}

/// Why a PLAIN response was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainError {
    /// Not base64 (RFC 4648 §4, with padding).
    NotBase64,
    /// Not three NUL-separated UTF-8 parts, or an empty name or password (RFC 4616 §2).
    Malformed,
    /// The authzid names someone other than the authcid.
    OtherIdentity,
}

/// Decodes the base64 `response` to a PLAIN message. `=` alone is an empty response
/// (RFC 5034 §4), which is malformed for PLAIN.
pub fn decode_plain(response: &str) -> Result<Plain, PlainError> {
    let bytes = if response == "=" {
        Vec::new()
    } else {
        STANDARD
            .decode(response.trim())
            .map_err(|_| PlainError::NotBase64)?
    };
    let text = String::from_utf8(bytes).map_err(|_| PlainError::Malformed)?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PlainError::Malformed);
    };
    if authcid.is_empty() || password.is_empty() {
        return Err(PlainError::Malformed);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
        return Err(PlainError::OtherIdentity);
    }
    Ok(Plain {
        authcid: authcid.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn decodes_the_three_parts() {
        let plain = decode_plain(&encode("\0bob\0bob-password")).unwrap();
        assert_eq!(
            (plain.authcid.as_str(), plain.password.as_str()),
            ("bob", "bob-password")
        );
        assert!(decode_plain(&encode("bob\0bob\0pw")).is_ok());
        assert_eq!(
            decode_plain(&encode("alice\0bob\0pw")),
            Err(PlainError::OtherIdentity)
        );
        assert_eq!(decode_plain("not base64!"), Err(PlainError::NotBase64));
        assert_eq!(decode_plain("="), Err(PlainError::Malformed));
        assert_eq!(decode_plain(&encode("bob\0pw")), Err(PlainError::Malformed));
        assert_eq!(decode_plain(&encode("\0bob\0")), Err(PlainError::Malformed));
        assert_eq!(
            decode_plain(&encode("\0bob\0pw\0x")),
            Err(PlainError::Malformed)
        );
    }
}
