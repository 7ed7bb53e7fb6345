//! Every reply the SMTP server sends, in one catalogue.
//!
//! A reply is a three-digit code (RFC 5321 §4.2), an enhanced status code (RFC 3463, announced
//! by ENHANCEDSTATUSCODES, RFC 2034) and text. The first digit says who must act:
//!
//! ```text
//! 2yz  done            3yz  go on (354: send the message)
//! 4yz  failed for now: try again later      5yz  failed for good: do not repeat as is
//! ```
//!
//! Replies are built only here, so the wording of the server lives in one place: this file has
//! the type, and `reply/` the catalogue by kind (`dialogue.rs`, `refusals.rs`, `security.rs`,
//! `errors.rs`). An error reply may carry a hint for students (`hints = en | id` in
//! postlab.conf, from the catalogue in `src/hints.rs`), written after the RFC text in
//! parentheses; real clients read only the code.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::hints::{Hint, Hints};

mod dialogue;
mod errors;
mod refusals;
mod security;

pub use dialogue::*;
pub use errors::*;
pub use refusals::*;
pub use security::*;

/// An RFC 3463 enhanced status code `class.subject.detail`, e.g. 5.1.1 (bad destination mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8, pub u16, pub u16);

/// One SMTP reply, possibly several lines long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: Option<Status>,
    pub lines: Vec<Cow<'static, str>>,
    pub hint: Option<Hint>,
}

impl Reply {
    fn new(code: u16, status: Option<Status>, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
            hint: None,
        }
    }

    fn hint(mut self, hint: Hint) -> Reply {
        self.hint = Some(hint);
        self
    }

    /// 4yz and 5yz: the client's request failed.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Does the server close the connection after this reply (221, 421)?
    pub fn closes(&self) -> bool {
        self.code == 221 || self.code == 421
    }

    /// The reply as sent on the wire: `250-first`, …, `250 last`, each ending in CRLF
    /// (RFC 5321 §4.2.1).
    pub fn render(&self, hints: Hints) -> String {
        let mut lines: Vec<&str> = self.lines.iter().map(|l| l.as_ref()).collect();
        let with_hint;
        let suffix = self.hint.and_then(|h| h.suffix(hints));
        if let (Some(suffix), Some(last)) = (suffix, lines.last_mut()) {
            with_hint = format!("{last}{suffix}");
            *last = &with_hint;
        }
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let _ = write!(out, "{}{sep}", self.code);
            if let Some(Status(class, subject, detail)) = self.status {
                let _ = write!(out, "{class}.{subject}.{detail} ");
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_multiline_replies_with_dashes_and_a_final_space() {
        let reply = ehlo("mx.test", "laptop", &["PIPELINING".into(), "HELP".into()]);
        assert_eq!(
            reply.render(Hints::English),
            "250-mx.test greets laptop\r\n250-PIPELINING\r\n250 HELP\r\n"
        );
    }

    #[test]
    fn hints_follow_the_setting() {
        let reply = command_unrecognized();
        assert_eq!(
            reply.render(Hints::Off),
            "500 5.5.1 Command unrecognized\r\n"
        );
        assert_eq!(
            reply.render(Hints::English),
            "500 5.5.1 Command unrecognized (hint: type HELP for the list of commands)\r\n"
        );
        assert_eq!(
            reply.render(Hints::Indonesian),
            "500 5.5.1 Command unrecognized (petunjuk: ketik HELP untuk melihat daftar perintah)\r\n"
        );
    }

    #[test]
    fn every_help_topic_names_its_rfc_section() {
        for topic in [
            "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT",
        ] {
            let text = help(Some(topic)).render(Hints::Off);
            assert!(text.starts_with("214"), "{topic}");
            assert!(text.contains("RFC 5321 section 4.1.1."), "{topic}: {text}");
        }
    }
}
