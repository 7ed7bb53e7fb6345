//! Every response the POP3 server sends, in one catalogue.
//!
//! A POP3 response is a status indicator and text on one line (RFC 1939 §3):
//!
//! ```text
//! +OK 2 messages (320 octets)          ← done
//! -ERR [IN-USE] mailbox is in use      ← refused; [IN-USE] is an RFC 2449 §8 response code
//! ```
//!
//! A *multi-line* response (LIST, UIDL, CAPA, and RETR/TOP, whose message the server loop
//! sends) follows its `+OK` line with data lines and ends with a line holding a single `.`;
//! a data line that starts with `.` gets one more in front (byte-stuffing, RFC 1939 §3).
//!
//! Response codes in brackets (RFC 2449 §8, RFC 3206) tell a client *why* something failed,
//! so it can tell the user "wrong password" apart from "try again later". An `-ERR` may carry a
//! hint for students (`hints = en | id` in postlab.conf, from `src/hints.rs`) after the text;
//! clients read only `-ERR`.

use std::borrow::Cow;

use crate::hints::{Hint, Hints};

/// The bracketed response codes postlab uses (RFC 2449 §8, RFC 3206 §4 and §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The maildrop is open in another session.
    InUse,
    /// The credentials were wrong, or the login method is not allowed here.
    Auth,
    /// A problem on the server that may go away (a disk error).
    SysTemp,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::InUse => "IN-USE",
            Code::Auth => "AUTH",
            Code::SysTemp => "SYS/TEMP",
        }
    }
}

/// One POP3 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+OK text`, and for a multi-line response its data lines (without the final `.`).
    Ok {
        text: Cow<'static, str>,
        lines: Option<Vec<String>>,
    },
    /// `-ERR [CODE] text`.
    Err {
        code: Option<Code>,
        text: Cow<'static, str>,
        hint: Option<Hint>,
    },
    /// `+ ` and nothing else: the empty SASL challenge (RFC 5034 §4).
    Continue,
}

impl Response {
    fn ok(text: impl Into<Cow<'static, str>>) -> Response {
        Response::Ok {
            text: text.into(),
            lines: None,
        }
    }

    fn list(text: impl Into<Cow<'static, str>>, lines: Vec<String>) -> Response {
        Response::Ok {
            text: text.into(),
            lines: Some(lines),
        }
    }

    fn err(text: impl Into<Cow<'static, str>>) -> Response {
        Response::Err {
            code: None,
            text: text.into(),
            hint: None,
        }
    }

    fn err_code(code: Code, text: impl Into<Cow<'static, str>>) -> Response {
        Response::Err {
            code: Some(code),
            text: text.into(),
            hint: None,
        }
    }

    fn hint(mut self, new: Hint) -> Response {
        if let Response::Err { hint, .. } = &mut self {
            *hint = Some(new);
        }
        self
    }

    pub fn is_err(&self) -> bool {
        matches!(self, Response::Err { .. })
    }

    /// The response as sent: CRLF line endings, multi-line data byte-stuffed and ended by `.`.
    pub fn render(&self, hints: Hints) -> String {
        match self {
            Response::Continue => "+ \r\n".to_string(),
            Response::Ok { text, lines } => {
                let mut out = if text.is_empty() {
                    "+OK\r\n".to_string()
                } else {
                    format!("+OK {text}\r\n")
                };
                if let Some(lines) = lines {
                    for line in lines {
                        if line.starts_with('.') {
                            out.push('.');
                        }
                        out.push_str(line);
                        out.push_str("\r\n");
                    }
                    out.push_str(".\r\n");
                }
                out
            }
            Response::Err { code, text, hint } => {
                let mut out = String::from("-ERR ");
                if let Some(code) = code {
                    out.push_str(&format!("[{}] ", code.as_str()));
                }
                out.push_str(text);
                if let Some(suffix) = hint.and_then(|h| h.suffix(hints)) {
                    out.push_str(&suffix);
                }
                out.push_str("\r\n");
                out
            }
        }
    }
}

// ---- AUTHORIZATION state -------------------------------------------------------------------

/// The greeting (RFC 1939 §4). With APOP on offer it ends in the timestamp the client digests
/// (RFC 1939 §7); without, there is none, since the timestamp is how a server announces APOP.
pub fn greeting(hostname: &str, apop_timestamp: Option<&str>) -> Response {
    match apop_timestamp {
        Some(stamp) => Response::ok(format!("{hostname} POP3 postlab ready {stamp}")),
        None => Response::ok(format!("{hostname} POP3 postlab ready")),
    }
}

/// RFC 2595 §4.
pub fn tls_go_ahead() -> Response {
    Response::ok("Begin TLS negotiation")
}

/// A client spoke plain text (or waited for a greeting) on the POP3S port, which starts in
/// TLS (RFC 8314 §3.3).
pub fn plain_text_on_tls_port(stls_port: &str) -> Response {
    Response::err(format!(
        "This port speaks TLS from the first octet (POP3S); for plain text and STLS use port {stls_port}"
    ))
    .hint(Hint::TlsClientNeeded)
}

pub fn tls_already_active() -> Response {
    Response::err("TLS is already active")
}

pub fn tls_unavailable() -> Response {
    Response::err("TLS is not available: the server has no certificate")
}

pub fn capabilities(capabilities: Vec<String>) -> Response {
    Response::list("Capability list follows", capabilities)
}

pub fn user_accepted(name: &str) -> Response {
    Response::ok(format!("{name}: now send PASS"))
}

pub fn pass_without_user() -> Response {
    Response::err("send USER first").hint(Hint::UserThenPass)
}

pub fn plaintext_refused() -> Response {
    Response::err_code(
        Code::Auth,
        "plaintext passwords are accepted only on a secure connection",
    )
    .hint(Hint::LoginFromServer)
}

pub fn mechanism_unsupported() -> Response {
    Response::err("unsupported SASL mechanism").hint(Hint::CapaAuthPlain)
}

pub fn sasl_continue() -> Response {
    Response::Continue
}

pub fn sasl_cancelled() -> Response {
    Response::err("authentication cancelled")
}

pub fn sasl_bad_response() -> Response {
    Response::err("cannot decode that SASL PLAIN response").hint(Hint::SaslPlainBase64)
}

/// APOP when the greeting offered no timestamp (no account is stored `{PLAIN}`).
pub fn apop_not_available() -> Response {
    Response::err_code(Code::Auth, "APOP is not offered here").hint(Hint::ApopNeedsPlain)
}

/// The administrator stopped the server (SIGTERM). RFC 3206 §5: SYS/TEMP, a problem that will
/// go away; nothing was removed because the session never reached the UPDATE state.
pub fn shutting_down() -> Response {
    Response::err_code(Code::SysTemp, "server shutting down")
}

pub fn login_failed() -> Response {
    Response::err_code(Code::Auth, "invalid user name or password")
}

pub fn in_use() -> Response {
    Response::err_code(
        Code::InUse,
        "mailbox is already open in another POP3 session",
    )
    .hint(Hint::CloseOtherSession)
}

pub fn maildrop_unavailable() -> Response {
    Response::err_code(Code::SysTemp, "cannot open the mailbox just now")
}

pub fn logged_in(count: usize, octets: u64) -> Response {
    Response::ok(format!(
        "maildrop locked and ready: {count} messages ({octets} octets)"
    ))
}

// ---- TRANSACTION state ---------------------------------------------------------------------

/// STAT's answer has a fixed form: `+OK count octets` (RFC 1939 §5).
pub fn stat(count: usize, octets: u64) -> Response {
    Response::ok(format!("{count} {octets}"))
}

/// LIST without an argument: one `number size` line per message.
pub fn scan_list(count: usize, octets: u64, lines: Vec<String>) -> Response {
    Response::list(format!("{count} messages ({octets} octets)"), lines)
}

/// LIST n: `+OK n size` (a "scan listing", RFC 1939 §5).
pub fn scan_listing(number: usize, size: u64) -> Response {
    Response::ok(format!("{number} {size}"))
}

pub fn uid_list(lines: Vec<String>) -> Response {
    Response::list("unique-id listing follows", lines)
}

pub fn uid_listing(number: usize, uid: &str) -> Response {
    Response::ok(format!("{number} {uid}"))
}

/// The `+OK` before a message; the server loop sends the message and the final `.`.
pub fn message_follows(size: u64) -> Response {
    Response::ok(format!("{size} octets"))
}

pub fn top_follows() -> Response {
    Response::ok("top of message follows")
}

pub fn message_unreadable() -> Response {
    Response::err_code(Code::SysTemp, "cannot read that message just now")
}

pub fn deleted(number: usize) -> Response {
    Response::ok(format!("message {number} deleted"))
}

pub fn no_such_message() -> Response {
    Response::err("no such message").hint(Hint::MessageNumbers)
}

pub fn already_deleted(number: usize) -> Response {
    Response::err(format!("message {number} already deleted")).hint(Hint::RsetUndeletes)
}

pub fn reset(count: usize, octets: u64) -> Response {
    Response::ok(format!("maildrop has {count} messages ({octets} octets)"))
}

pub fn noop() -> Response {
    Response::ok("")
}

// ---- Leaving -------------------------------------------------------------------------------

pub fn bye() -> Response {
    Response::ok("postlab POP3 server signing off")
}

pub fn bye_after_update(left: usize) -> Response {
    Response::ok(format!(
        "postlab POP3 server signing off ({left} messages left)"
    ))
}

/// RFC 1939 §6: when some deleted messages could not be removed, QUIT answers `-ERR`.
pub fn update_failed() -> Response {
    Response::err_code(Code::SysTemp, "some deleted messages were not removed")
}

pub fn too_many_errors() -> Response {
    Response::err("too many errors, closing the connection")
}

// ---- Bad input -----------------------------------------------------------------------------

pub fn unknown_command() -> Response {
    Response::err("unknown command").hint(Hint::CapaLists)
}

pub fn syntax(usage: &'static str) -> Response {
    Response::err(format!("syntax error, use: {usage}"))
}

pub fn bad_characters() -> Response {
    Response::err("control characters or invalid UTF-8 in the command")
}

pub fn line_too_long() -> Response {
    Response::err("line too long: commands are at most 255 octets (RFC 2449)")
}

pub fn only_in_authorization() -> Response {
    Response::err("already logged in").hint(Hint::BeforeLogin)
}

pub fn only_in_transaction() -> Response {
    Response::err("not logged in yet").hint(Hint::UserThenPass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_and_multi_line() {
        assert_eq!(stat(2, 320).render(Hints::English), "+OK 2 320\r\n");
        assert_eq!(noop().render(Hints::English), "+OK\r\n");
        assert_eq!(
            uid_list(vec!["1 a".into(), ".x".into()]).render(Hints::Off),
            "+OK unique-id listing follows\r\n1 a\r\n..x\r\n.\r\n"
        );
        assert_eq!(
            in_use().render(Hints::Off),
            "-ERR [IN-USE] mailbox is already open in another POP3 session\r\n"
        );
        assert!(no_such_message().render(Hints::English).contains("(hint: "));
        assert_eq!(sasl_continue().render(Hints::English), "+ \r\n");
    }
}
