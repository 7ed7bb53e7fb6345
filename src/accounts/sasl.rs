//! SASL, the login dialogue inside SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP
//! AUTHENTICATE: mechanisms PLAIN (RFC 4616) and LOGIN (a widely used draft, never an RFC).
//!
//! ```text
//! C: AUTH PLAIN AGFsaWNlAHNlY3JldA==        ← base64 of "\0alice\0secret", in one go
//! S: 235 2.7.0 Authentication successful
//!
//! C: AUTH LOGIN                             ← or step by step
//! S: 334 VXNlcm5hbWU6                       ← base64 "Username:"
//! C: YWxpY2U=
//! S: 334 UGFzc3dvcmQ6                       ← base64 "Password:"
//! C: c2VjcmV0
//! ```
//!
//! Base64 is an encoding, not encryption: anyone on the path can read these passwords, which
//! is why they are accepted only over TLS or on loopback (`login::plaintext_allowed`).
//!
//! This module only decodes; it never checks a password. A protocol's session drives it:
//! [`start`] for the command, [`respond`] for each client line, until it yields
//! [`Step::Credentials`] or [`Step::Failed`].

use base64ct::{Base64, Encoding};

/// Where a multi-line exchange stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// PLAIN with no initial response: waiting for it.
    PlainResponse,
    /// LOGIN: waiting for the user name.
    LoginUser,
    /// LOGIN: waiting for the password.
    LoginPassword { user: String },
}

/// What the user claims, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authorization identity: who to act as (empty = the same as `user`).
    pub authzid: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why an exchange ended without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The client sent `*` (RFC 4954 §4).
    Cancelled,
    /// Not valid base64, or not the mechanism's format.
    Malformed,
    /// A mechanism we do not offer.
    UnknownMechanism,
}

/// The next move in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (already base64; may be empty) and wait for the next line.
    Challenge(&'static str, Exchange),
    Credentials(Credentials),
    Failed(Failure),
}

/// The mechanisms offered, as EHLO and CAPA list them.
pub const MECHANISMS: &str = "PLAIN LOGIN";

const USERNAME: &str = "VXNlcm5hbWU6"; // "Username:"
const PASSWORD: &str = "UGFzc3dvcmQ6"; // "Password:"

/// Starts an exchange for `mechanism` (upper case), with the optional initial response.
pub fn start(mechanism: &str, initial: Option<&str>) -> Step {
    match (mechanism, initial) {
        ("PLAIN", None) => Step::Challenge("", Exchange::PlainResponse),
        ("PLAIN", Some(response)) => respond(Exchange::PlainResponse, response),
        ("LOGIN", None) => Step::Challenge(USERNAME, Exchange::LoginUser),
        ("LOGIN", Some(response)) => respond(Exchange::LoginUser, response),
        _ => Step::Failed(Failure::UnknownMechanism),
    }
}

/// Takes the client's answer to a challenge.
pub fn respond(exchange: Exchange, line: &str) -> Step {
    if line.trim() == "*" {
        return Step::Failed(Failure::Cancelled);
    }
    let Some(decoded) = decode(line) else {
        return Step::Failed(Failure::Malformed);
    };
    match exchange {
        Exchange::PlainResponse => {
            plain(&decoded).map_or(Step::Failed(Failure::Malformed), Step::Credentials)
        }
        Exchange::LoginUser => match text(decoded) {
            Some(user) if !user.is_empty() => {
                Step::Challenge(PASSWORD, Exchange::LoginPassword { user })
            }
            _ => Step::Failed(Failure::Malformed),
        },
        Exchange::LoginPassword { user } => match text(decoded) {
            Some(password) => Step::Credentials(Credentials {
                authzid: String::new(),
                user,
                password,
            }),
            None => Step::Failed(Failure::Malformed),
        },
    }
}

/// Base64 as RFC 4954 writes it; `=` alone is an empty response.
fn decode(line: &str) -> Option<Vec<u8>> {
    let line = line.trim();
    if line == "=" {
        return Some(Vec::new());
    }
    Base64::decode_vec(line).ok()
}

/// UTF-8 without NUL or control characters.
fn text(bytes: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(bytes).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.
fn plain(bytes: &[u8]) -> Option<Credentials> {
    let mut parts = bytes.split(|&b| b == 0);
    let (authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || user.is_empty() || password.is_empty() {
        return None;
    }
    Some(Credentials {
        authzid: text(authzid.to_vec())?,
        user: text(user.to_vec())?,
        password: text(password.to_vec())?,
    })
}

/// A PLAIN response decoded in one step, for a session that runs the exchange itself (POP3).
#[derive(Clone, PartialEq, Eq)]
pub struct Plain {
    pub authcid: String,
    pub password: String,
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plain")
            .field("authcid", &self.authcid)
            .finish_non_exhaustive()
    }
}

/// Why a PLAIN response was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainError {
    /// Not base64 (RFC 4648 §4).
    NotBase64,
    /// Not three NUL-separated UTF-8 parts, or an empty name or password (RFC 4616 §2).
    Malformed,
    /// The authzid names someone other than the authcid: postlab lets no one act as another.
    OtherIdentity,
}

/// Decodes a base64 PLAIN response (`=` alone is an empty one, RFC 5034 §4: malformed here).
pub fn decode_plain(response: &str) -> Result<Plain, PlainError> {
    let bytes = decode(response).ok_or(PlainError::NotBase64)?;
    let credentials = plain(&bytes).ok_or(PlainError::Malformed)?;
    if !credentials.authzid.is_empty()
        && !credentials.authzid.eq_ignore_ascii_case(&credentials.user)
    {
        return Err(PlainError::OtherIdentity);
    }
    Ok(Plain {
        authcid: credentials.user,
        password: credentials.password,
    })
}

/// Encodes for a client (used by tests and our own SMTP client).
pub fn encode(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(authzid: &str, user: &str, password: &str) -> Step {
        Step::Credentials(Credentials {
            authzid: authzid.into(),
            user: user.into(),
            password: password.into(),
        })
    }

    #[test]
    fn plain_in_one_go_and_in_two_steps() {
        assert_eq!(
            start("PLAIN", Some(&encode(b"\0alice\0secret"))),
            creds("", "alice", "secret")
        );
        assert_eq!(
            start("PLAIN", Some(&encode(b"admin\0alice\0secret"))),
            creds("admin", "alice", "secret")
        );
        assert_eq!(
            start("PLAIN", None),
            Step::Challenge("", Exchange::PlainResponse)
        );
        assert_eq!(
            respond(Exchange::PlainResponse, &encode(b"\0bob\0pw")),
            creds("", "bob", "pw")
        );
    }

    #[test]
    fn login_asks_for_user_then_password() {
        let Step::Challenge(challenge, exchange) = start("LOGIN", None) else {
            panic!()
        };
        assert_eq!(decode(challenge).unwrap(), b"Username:");
        let Step::Challenge(challenge, exchange) = respond(exchange, &encode(b"alice")) else {
            panic!()
        };
        assert_eq!(decode(challenge).unwrap(), b"Password:");
        assert_eq!(
            respond(exchange, &encode(b"secret")),
            creds("", "alice", "secret")
        );
    }

    #[test]
    fn decode_plain_in_one_step() {
        let plain = decode_plain(&encode(b"\0bob\0bob-password")).unwrap();
        assert_eq!(
            (plain.authcid.as_str(), plain.password.as_str()),
            ("bob", "bob-password")
        );
        assert!(decode_plain(&encode(b"bob\0bob\0pw")).is_ok());
        assert_eq!(
            decode_plain(&encode(b"alice\0bob\0pw")),
            Err(PlainError::OtherIdentity)
        );
        assert_eq!(decode_plain("@@@"), Err(PlainError::NotBase64));
        assert_eq!(decode_plain("="), Err(PlainError::Malformed));
    }

    #[test]
    fn hostile_responses_fail_cleanly() {
        use Failure::*;
        for (mechanism, initial, want) in [
            ("PLAIN", "=", Malformed),
            ("PLAIN", "*", Cancelled),
            ("PLAIN", "!!!not base64", Malformed),
            ("PLAIN", &encode(b"\0\0pw"), Malformed),
            ("PLAIN", &encode(b"\0alice\0"), Malformed),
            ("PLAIN", &encode(b"\0alice\0pw\0extra"), Malformed),
            ("PLAIN", &encode(b"\0ali\r\nce\0pw"), Malformed),
            ("PLAIN", &encode(b"\0\xff\xfe\0pw"), Malformed),
            ("CRAM-MD5", "x", UnknownMechanism),
        ] {
            assert_eq!(
                start(mechanism, Some(initial)),
                Step::Failed(want),
                "{mechanism} {initial}"
            );
        }
        let secret = format!(
            "{:?}",
            Credentials {
                authzid: String::new(),
                user: "a".into(),
                password: "hunter2".into()
            }
        );
        assert!(!secret.contains("hunter2"));
    }
}
