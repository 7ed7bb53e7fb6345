//! APOP (RFC 1939 §7): logging in without sending the password.
//!
//! The greeting ends in a timestamp unique to this session, such as
//! `<1896.697170952@mail.school.test>`. The client sends the MD5 of that timestamp followed by
//! the password, in lower-case hex:
//!
//! ```text
//! S: +OK mail.school.test POP3 postlab ready <1896.697170952@mail.school.test>
//! C: APOP bob 7e2c… (md5("<1896.697170952@mail.school.test>bob-password"))
//! ```
//!
//! The server must compute the same digest, so it must know the password itself: APOP works only
//! for accounts stored `{PLAIN}` in `DIR/users`. postlab therefore puts the timestamp in the
//! greeting (announcing APOP, RFC 1939 §7) only when at least one account is stored that way.
//! APOP does not send the password, so the plaintext rule (loopback or TLS) does not apply to
//! it. An account stored hashed gets the same `-ERR [AUTH]` as a wrong digest, so the answer does
//! not tell a stranger which accounts exist.
//! MD5 is long broken as a hash, and a stored clear password is a risk of its own; APOP is
//! here because the RFC and old clients have it, and the lesson asks why it fell out of use.

use md5::{Digest, Md5};

use crate::accounts::{password, Directory};
use crate::ids::SessionId;

/// The greeting's timestamp when APOP is on offer (some account is `{PLAIN}`), else `None`.
/// RFC 1939 §7 asks for a msg-id form, different on every greeting: the process id and the
/// session id (a microsecond counter) make it so.
pub fn timestamp(directory: &Directory, session: &SessionId, hostname: &str) -> Option<String> {
    let offered = directory
        .users
        .iter()
        .any(|user| user.password.starts_with("{PLAIN}"));
    offered.then(|| format!("<{}.{}@{hostname}>", std::process::id(), session))
}

/// What checking an APOP digest found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The account's canonical name.
    Ok(String),
    /// Unknown account or wrong digest.
    Wrong,
    /// The account exists but its password is hashed, so no digest can be checked.
    NotPlain,
}

pub fn check(directory: &Directory, name: &str, timestamp: &str, digest: &str) -> Check {
    // A disabled account (`postlab user disable`) may not log in by any method.
    let Some(user) = directory
        .users
        .get(name)
        .filter(|u| !crate::accounts::extra::is_disabled(u))
    else {
        return Check::Wrong;
    };
    let Some(secret) = user.password.strip_prefix("{PLAIN}") else {
        return Check::NotPlain;
    };
    let expected: String = Md5::digest(format!("{timestamp}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Compared the way stored {PLAIN} passwords are: the time does not depend on where they differ.
    if password::verify(
        &format!("{{PLAIN}}{expected}"),
        &digest.to_ascii_lowercase(),
    ) {
        Check::Ok(user.name.clone())
    } else {
        Check::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Users;

    #[test]
    fn the_rfc_example_digest() {
        // RFC 1939 §7: the shared secret "tanstaaf" and this timestamp give this digest.
        let directory = Directory {
            users: Users::parse("mrose:{PLAIN}tanstaaf\nbob:{ARGON2ID}$argon2id$x\n").unwrap(),
            ..Directory::default()
        };
        let stamp = "<1896.697170952@dbc.mtview.ca.us>";
        assert_eq!(
            check(
                &directory,
                "mrose",
                stamp,
                "c4c9334bac560ecc979e58001b3e22fb"
            ),
            Check::Ok("mrose".into())
        );
        assert_eq!(check(&directory, "mrose", stamp, "00"), Check::Wrong);
        assert_eq!(check(&directory, "nobody", stamp, "00"), Check::Wrong);
        assert_eq!(check(&directory, "bob", stamp, "00"), Check::NotPlain);
        let session = SessionId::new();
        assert!(timestamp(&directory, &session, "mx.test").is_some());
        let hashed = Directory {
            users: Users::parse("bob:{ARGON2ID}$argon2id$x\n").unwrap(),
            ..Directory::default()
        };
        assert_eq!(timestamp(&hashed, &session, "mx.test"), None);
    }
}
