//! Replies of AUTH (RFC 4954), STARTTLS (RFC 3207) and the submission rules (RFC 6409): who
//! the client is, and what that lets it do.

use super::{Reply, Status};
use crate::hints::Hint;

// ---- AUTH (RFC 4954) ----------------------------------------------------------------------

/// 334: a SASL challenge, base64 (empty for PLAIN: "send your credentials").
pub fn auth_challenge(challenge: &'static str) -> Reply {
    Reply::new(334, None, challenge)
}

pub fn auth_ok() -> Reply {
    Reply::new(235, Some(Status(2, 7, 0)), "Authentication successful")
}

/// RFC 4954 §6: 535 5.7.8, the same words whether the user or the password was wrong.
pub fn auth_failed() -> Reply {
    Reply::new(
        535,
        Some(Status(5, 7, 8)),
        "Authentication credentials invalid",
    )
}

pub fn auth_cancelled() -> Reply {
    Reply::new(501, Some(Status(5, 0, 0)), "Authentication cancelled")
}

pub fn auth_malformed() -> Reply {
    Reply::new(
        501,
        Some(Status(5, 5, 2)),
        "Cannot decode the AUTH response",
    )
    .hint(Hint::AuthPlainBase64)
}

pub fn auth_unknown_mechanism() -> Reply {
    Reply::new(
        504,
        Some(Status(5, 5, 4)),
        "Unrecognized authentication mechanism",
    )
    .hint(Hint::EhloListsAuth)
}

/// Plaintext passwords only over TLS or on loopback (RFC 4954 §4, DESIGN.md).
pub fn encryption_required() -> Reply {
    Reply::new(
        530,
        Some(Status(5, 7, 0)),
        "Must issue a STARTTLS command first",
    )
    .hint(Hint::NoClearPasswords)
}

// ---- STARTTLS (RFC 3207) -------------------------------------------------------------------

/// RFC 3207 §4: 220, and the client starts the TLS handshake at once.
pub fn ready_to_start_tls() -> Reply {
    Reply::new(220, Some(Status(2, 0, 0)), "Ready to start TLS")
}

/// A second STARTTLS inside TLS. RFC 3207 names no code; 503 as for any command out of order.
pub fn tls_already_active() -> Reply {
    Reply::new(503, Some(Status(5, 5, 1)), "TLS already active").hint(Hint::AlreadyEncrypted)
}

/// RFC 3207 §4: "454 TLS not available due to temporary reason".
pub fn tls_not_available() -> Reply {
    Reply::new(
        454,
        Some(Status(4, 7, 0)),
        "TLS not available due to temporary reason",
    )
    .hint(Hint::NoCertificate)
}

/// RFC 6409 §4.3 / RFC 4954 §6: submission needs a login.
pub fn auth_required() -> Reply {
    Reply::new(530, Some(Status(5, 7, 0)), "Authentication required")
        .hint(Hint::SubmissionNeedsAuth)
}

/// RFC 6409 §6.1: a submission server may refuse a sender the user does not own.
pub fn sender_not_owned(user: &str) -> Reply {
    Reply::new(
        553,
        Some(Status(5, 7, 1)),
        format!("Sender address not owned by user {user}"),
    )
    .hint(Hint::SendAsYourself)
}

/// RFC 5321 §6.3 and RFC 3463 5.4.6: too many hops, a routing loop.
pub fn too_many_hops(hops: usize) -> Reply {
    Reply::new(
        554,
        Some(Status(5, 4, 6)),
        format!("Too many hops ({hops} Received: headers): mail loop"),
    )
}

/// A reply a teacher asked for in `DIR/faults` (its enhanced code written as `X.Y.Z`).
pub fn injected(code: u16, status: &str, text: &str) -> Reply {
    let mut parts = status.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let (class, subject, detail) = (
        parts.next().unwrap_or(4),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    Reply::new(
        code,
        Some(Status(class as u8, subject, detail)),
        text.to_string(),
    )
    .hint(Hint::InjectedFault)
}
