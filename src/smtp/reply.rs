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
//! Replies are built only here, so the wording of the server lives in one file. An error reply
//! may carry a hint for students (`hints = yes` in postlab.conf), written after the RFC text in
//! parentheses; real clients read only the code.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::address::AddressError;
use crate::ids::QueueId;

/// An RFC 3463 enhanced status code `class.subject.detail`, e.g. 5.1.1 (bad destination mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8, pub u16, pub u16);

/// One SMTP reply, possibly several lines long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: Option<Status>,
    pub lines: Vec<Cow<'static, str>>,
    pub hint: Option<Cow<'static, str>>,
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

    fn hint(mut self, hint: impl Into<Cow<'static, str>>) -> Reply {
        self.hint = Some(hint.into());
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
    pub fn render(&self, hints: bool) -> String {
        let mut lines: Vec<&str> = self.lines.iter().map(|l| l.as_ref()).collect();
        let with_hint;
        if let (true, Some(hint), Some(last)) = (hints, &self.hint, lines.last_mut()) {
            with_hint = format!("{last} (hint: {hint})");
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

// ---- Connection ----------------------------------------------------------------------------

/// The greeting. RFC 2034 §3: no enhanced code on the greeting or the HELO/EHLO reply.
pub fn greeting(hostname: &str) -> Reply {
    Reply::new(
        220,
        None,
        format!("{hostname} ESMTP postlab ready (type HELP for the commands)"),
    )
}

pub fn helo(hostname: &str, client: &str) -> Reply {
    Reply::new(250, None, format!("{hostname} greets {client}"))
}

/// The EHLO reply: a greeting line, then one line per extension (RFC 5321 §4.1.1.1).
pub fn ehlo(hostname: &str, client: &str, extensions: &[String]) -> Reply {
    let mut reply = Reply::new(250, None, format!("{hostname} greets {client}"));
    reply
        .lines
        .extend(extensions.iter().cloned().map(Cow::Owned));
    reply
}

pub fn bye() -> Reply {
    Reply::new(221, Some(Status(2, 0, 0)), "Bye")
}

// ---- Transaction ---------------------------------------------------------------------------

pub fn ok() -> Reply {
    Reply::new(250, Some(Status(2, 0, 0)), "Ok")
}

pub fn sender_ok(id: &QueueId) -> Reply {
    Reply::new(
        250,
        Some(Status(2, 1, 0)),
        format!("Sender ok, queue id {id}"),
    )
}

pub fn recipient_ok() -> Reply {
    Reply::new(250, Some(Status(2, 1, 5)), "Recipient ok")
}

pub fn start_mail_input() -> Reply {
    Reply::new(
        354,
        None,
        "Send the message, end with <CRLF>.<CRLF> (a line holding only a dot)",
    )
}

pub fn delivered(id: &QueueId) -> Reply {
    Reply::new(250, Some(Status(2, 0, 0)), format!("Ok: queued as {id}"))
}

/// RFC 5321 §3.5.3: 252 when the server will not say whether a user exists.
pub fn cannot_vrfy() -> Reply {
    Reply::new(
        252,
        Some(Status(2, 5, 0)),
        "Cannot VRFY user, but will accept message and attempt delivery",
    )
    .hint("VRFY is answered vaguely on purpose: spammers used it to harvest addresses")
}

/// RFC 5321 §3.5.2: EXPN may be disabled for security.
pub fn expn_disabled() -> Reply {
    Reply::new(502, Some(Status(5, 5, 1)), "EXPN is disabled")
        .hint("mailing-list members are private; servers turn EXPN off")
}

// ---- Refusals of a recipient or sender -----------------------------------------------------

pub fn unknown_user(address: &str) -> Reply {
    Reply::new(
        550,
        Some(Status(5, 1, 1)),
        format!("<{address}>: no such user here"),
    )
    .hint("postlab user list shows the accounts")
}

/// Never an open relay: mail for other domains needs authentication or a trusted network.
pub fn relay_denied(address: &str) -> Reply {
    Reply::new(
        554,
        Some(Status(5, 7, 1)),
        format!("<{address}>: Relay access denied"),
    )
    .hint("this server only accepts mail for its own domains from you")
}

/// RFC 7489 section 6.7 and 10.3: DMARC failed and the author's domain publishes p=reject
/// (`dmarc_policy = enforce`); 550 5.7.1 is what RFC 7372 section 3.1 names for it.
pub fn dmarc_rejected() -> Reply {
    Reply::new(
        550,
        Some(Status(5, 7, 1)),
        "Rejected by DMARC policy of the sender's domain".to_string(),
    )
    .hint("SPF and DKIM both failed for the From: domain, and its _dmarc record says p=reject")
}

/// 5.4.6: a routing loop (RFC 3463 §3.5).
pub fn alias_loop(address: &str) -> Reply {
    Reply::new(
        550,
        Some(Status(5, 4, 6)),
        format!("<{address}>: alias loop"),
    )
    .hint("the aliases file points these names at each other")
}

/// An alias that forwards to another domain needs the outbound MTA, which is not running.
pub fn remote_alias(address: &str) -> Reply {
    Reply::new(
        451,
        Some(Status(4, 3, 0)),
        format!("<{address}>: alias forwards to another domain; no outbound delivery here"),
    )
}

/// RFC 5321 §4.5.3.1.8: 452 for too many recipients, so the client sends the rest later.
pub fn too_many_recipients(limit: usize) -> Reply {
    Reply::new(
        452,
        Some(Status(4, 5, 3)),
        format!("Too many recipients (at most {limit} per message)"),
    )
    .hint("send the message, then send it again to the remaining recipients")
}

/// RFC 1870 §6.1 and RFC 3463: 552 5.3.4 for a message over the fixed size limit.
pub fn message_too_big(limit: usize) -> Reply {
    Reply::new(
        552,
        Some(Status(5, 3, 4)),
        format!("Message size exceeds fixed limit of {limit} octets"),
    )
}

/// A NUL, bare CR or bare LF in a message: refused, never repaired (SMTP smuggling,
/// CVE-2023-51764). Lines must end in CRLF (RFC 5321 §2.3.8).
pub fn bare_newline_in_data() -> Reply {
    Reply::new(
        550,
        Some(Status(5, 6, 0)),
        "Message refused: bare CR or LF in the content; lines must end with CRLF",
    )
    .hint("netcat sends bare LF unless started as nc -C")
}

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
pub fn data_line_too_long() -> Reply {
    Reply::new(
        550,
        Some(Status(5, 6, 0)),
        "Message refused: a line is over 1000 octets (RFC 5321 section 4.5.3.1.6)",
    )
}

pub fn no_valid_recipients() -> Reply {
    Reply::new(554, Some(Status(5, 5, 1)), "No valid recipients")
        .hint("at least one RCPT TO must get a 250 before DATA")
}

/// 553 5.6.7: RFC 6531 §3.7.4.1, a non-ASCII address without SMTPUTF8.
pub fn non_ascii_address() -> Reply {
    Reply::new(
        553,
        Some(Status(5, 6, 7)),
        "Non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM",
    )
    .hint("MAIL FROM:<you@example.org> SMTPUTF8")
}

/// An address that breaks the grammar or a length limit. The enhanced code says which side:
/// 5.1.7 the sender, 5.1.3 a recipient (RFC 3463).
pub fn bad_address(error: AddressError, sender: bool, usage: &'static str) -> Reply {
    let status = if sender {
        Status(5, 1, 7)
    } else {
        Status(5, 1, 3)
    };
    let text = match error {
        AddressError::Syntax => "Bad address syntax",
        AddressError::LocalPartTooLong => "Local part over 64 octets (RFC 5321 section 4.5.3.1.1)",
        AddressError::DomainTooLong => "Domain over 255 octets (RFC 5321 section 4.5.3.1.2)",
        AddressError::PathTooLong => "Path over 256 octets (RFC 5321 section 4.5.3.1.3)",
        AddressError::NonAscii => return non_ascii_address(),
    };
    let reply = Reply::new(501, Some(status), text);
    match error {
        AddressError::Syntax => reply.hint(format!("{usage}, with the angle brackets")),
        _ => reply,
    }
}

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
    .hint("PLAIN wants base64 of NUL user NUL password: printf '\\0bob\\0pw' | base64")
}

pub fn auth_unknown_mechanism() -> Reply {
    Reply::new(
        504,
        Some(Status(5, 5, 4)),
        "Unrecognized authentication mechanism",
    )
    .hint("EHLO lists AUTH PLAIN LOGIN")
}

/// Plaintext passwords only over TLS or on loopback (RFC 4954 §4, DESIGN.md).
pub fn encryption_required() -> Reply {
    Reply::new(
        530,
        Some(Status(5, 7, 0)),
        "Must issue a STARTTLS command first",
    )
    .hint("passwords are not accepted in the clear over the network")
}

// ---- STARTTLS (RFC 3207) -------------------------------------------------------------------

/// RFC 3207 §4: 220, and the client starts the TLS handshake at once.
pub fn ready_to_start_tls() -> Reply {
    Reply::new(220, Some(Status(2, 0, 0)), "Ready to start TLS")
}

/// A second STARTTLS inside TLS. RFC 3207 names no code; 503 as for any command out of order.
pub fn tls_already_active() -> Reply {
    Reply::new(503, Some(Status(5, 5, 1)), "TLS already active")
        .hint("the connection is already encrypted: EHLO, then go on")
}

/// RFC 3207 §4: "454 TLS not available due to temporary reason".
pub fn tls_not_available() -> Reply {
    Reply::new(
        454,
        Some(Status(4, 7, 0)),
        "TLS not available due to temporary reason",
    )
    .hint("this server has no certificate set up")
}

/// RFC 6409 §4.3 / RFC 4954 §6: submission needs a login.
pub fn auth_required() -> Reply {
    Reply::new(530, Some(Status(5, 7, 0)), "Authentication required")
        .hint("the submission port needs AUTH before MAIL")
}

/// RFC 6409 §6.1: a submission server may refuse a sender the user does not own.
pub fn sender_not_owned(user: &str) -> Reply {
    Reply::new(
        553,
        Some(Status(5, 7, 1)),
        format!("Sender address not owned by user {user}"),
    )
    .hint("send as your own address, or one of your aliases")
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
    .hint("this failure was injected on purpose (DIR/faults)")
}

// ---- Errors in the dialogue ----------------------------------------------------------------

pub fn command_unrecognized() -> Reply {
    Reply::new(500, Some(Status(5, 5, 1)), "Command unrecognized")
        .hint("type HELP for the list of commands")
}

pub fn command_not_implemented(verb: &str) -> Reply {
    Reply::new(
        502,
        Some(Status(5, 5, 1)),
        format!("{verb} is not implemented here"),
    )
}

/// A command line over 512 octets (RFC 5321 §4.5.3.1.4).
pub fn line_too_long() -> Reply {
    Reply::new(
        500,
        Some(Status(5, 5, 2)),
        "Line too long (a command line is at most 512 octets)",
    )
}

/// A command line that ended in LF alone, held a CR on its own, a NUL, or bytes that are not
/// UTF-8 (RFC 5321 §2.3.8: lines end in CRLF).
pub fn bad_line_ending() -> Reply {
    Reply::new(
        500,
        Some(Status(5, 5, 2)),
        "Syntax error: lines must end with CRLF",
    )
    .hint("your client sent a bare LF; netcat needs nc -C, telnet does this right")
}

pub fn bad_characters() -> Reply {
    Reply::new(
        500,
        Some(Status(5, 5, 2)),
        "Syntax error: NUL, control or non-UTF-8 bytes in the command",
    )
}

pub fn syntax(usage: &'static str) -> Reply {
    Reply::new(501, Some(Status(5, 5, 4)), format!("Syntax: {usage}"))
}

pub fn bad_parameter(text: &'static str) -> Reply {
    Reply::new(501, Some(Status(5, 5, 4)), text)
}

/// RFC 5321 §4.1.1.11: 555 for MAIL/RCPT parameters the server does not know.
pub fn parameter_not_recognized(keyword: &str) -> Reply {
    Reply::new(
        555,
        Some(Status(5, 5, 4)),
        format!("Parameter {keyword} not recognized or not implemented"),
    )
    .hint("EHLO lists the extensions this server supports")
}

pub fn bad_sequence(text: &'static str, hint: &'static str) -> Reply {
    Reply::new(
        503,
        Some(Status(5, 5, 1)),
        format!("Bad sequence of commands: {text}"),
    )
    .hint(hint)
}

// ---- The server gives up -------------------------------------------------------------------

pub fn too_many_errors() -> Reply {
    Reply::new(
        421,
        Some(Status(4, 7, 0)),
        "Too many errors, closing connection",
    )
}

/// RFC 5321 §4.5.3.2.7: the server may close after 5 minutes of silence.
pub fn idle_timeout() -> Reply {
    Reply::new(
        421,
        Some(Status(4, 4, 2)),
        "Idle too long, closing connection",
    )
}

/// The administrator stopped the server (SIGTERM). RFC 5321 §3.8: a server that must shut down
/// answers 421 and closes; RFC 3463 §3.4: X.3.2 "system not accepting network messages".
pub fn shutting_down() -> Reply {
    Reply::new(421, Some(Status(4, 3, 2)), "Service shutting down")
}

/// 421 4.4.2: a line, a handshake or the message came too slowly (`src/pace.rs`).
pub fn too_slow() -> Reply {
    Reply::new(421, Some(Status(4, 4, 2)), "Too slow, closing connection")
}

/// 421 4.7.0: every place was taken, and this stalled connection gave its place to a newcomer.
pub fn made_room() -> Reply {
    Reply::new(
        421,
        Some(Status(4, 7, 0)),
        "Server full: this connection made room for a new client, closing",
    )
}

/// A client spoke plain text (or waited for a greeting) on the SMTPS port, which starts in
/// TLS (RFC 8314 §3.3). RFC 5321 §3.1 lets a server that will not serve a client greet it
/// with 554; the text says where plain SMTP and STARTTLS are.
pub fn plain_text_on_tls_port(starttls_ports: &str) -> Reply {
    Reply::new(
        554,
        Some(Status(5, 7, 0)),
        format!("This port speaks TLS from the first octet (SMTPS); for plain text and STARTTLS use port {starttls_ports}"),
    )
}

pub fn too_many_connections() -> Reply {
    Reply::new(
        421,
        Some(Status(4, 7, 0)),
        "Too many connections, try again later",
    )
}

/// 452 4.3.1: the disk is full; the client keeps the message and tries later.
/// The recipient's quota (RFC 3463 §3.3, X.2.2 "mailbox full"): 552 when the message can never
/// fit, 452 when it will once the owner deletes mail.
pub fn mailbox_full(permanent: bool) -> Reply {
    if permanent {
        Reply::new(552, Some(Status(5, 2, 2)), "Mailbox full")
            .hint("the message is bigger than the recipient's whole quota")
    } else {
        Reply::new(452, Some(Status(4, 2, 2)), "Mailbox full, try again later")
    }
}

pub fn insufficient_storage() -> Reply {
    Reply::new(
        452,
        Some(Status(4, 3, 1)),
        "Insufficient system storage, try again later",
    )
}

/// 451 4.3.0: something failed on our side; the client keeps the message and tries later.
pub fn local_error() -> Reply {
    Reply::new(
        451,
        Some(Status(4, 3, 0)),
        "Local error in processing, try again later",
    )
}

// ---- HELP ----------------------------------------------------------------------------------

/// `HELP` alone: the command list. `HELP MAIL`: what MAIL does and where the RFC says so.
pub fn help(topic: Option<&str>) -> Reply {
    let Some(topic) = topic else {
        let mut reply = Reply::new(
            214,
            Some(Status(2, 0, 0)),
            "postlab: commands, in the order a client uses them:",
        );
        for line in [
            "  HELO or EHLO   introduce yourself      MAIL FROM:<sender>   start a message",
            "  RCPT TO:<rcpt> add a recipient         DATA                 send the message",
            "  RSET  start over   NOOP  do nothing   VRFY  check a user   QUIT  say goodbye",
            "HELP <command> explains one command (for example HELP MAIL)",
        ] {
            reply.lines.push(Cow::Borrowed(line));
        }
        return reply;
    };
    let text: &[&str] = match topic.to_ascii_uppercase().as_str() {
        "HELO" => &["HELO <your-name>: the old greeting (RFC 5321 section 4.1.1.1).", "The server answers 250 and you may send mail. No extensions."],
        "EHLO" => &["EHLO <your-name>: the extended greeting (RFC 5321 section 4.1.1.1).", "The 250 reply lists the extensions (SIZE, PIPELINING, ...) the server offers."],
        "MAIL" => &["MAIL FROM:<sender@domain> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]", "starts a message and names the envelope sender, where bounces go (RFC 5321 section 4.1.1.2).", "MAIL FROM:<> is the null sender that bounces use."],
        "RCPT" => &["RCPT TO:<recipient@domain>: one recipient per command (RFC 5321 section 4.1.1.3).", "Repeat it for each recipient; each gets its own reply."],
        "DATA" => &["DATA: after 354, send headers, a blank line, the body (RFC 5321 section 4.1.1.4).", "End with a line holding only a dot. A line that starts with a dot gets one more dot."],
        "RSET" => &["RSET: abandon the current message; the greeting stays (RFC 5321 section 4.1.1.5)."],
        "VRFY" => &["VRFY <user>: ask whether a user exists (RFC 5321 section 4.1.1.6).", "Answered with 252 here: servers do not confirm addresses to strangers."],
        "EXPN" => &["EXPN <list>: ask for a mailing list's members (RFC 5321 section 4.1.1.7). Disabled here."],
        "HELP" => &["HELP [command]: this help (RFC 5321 section 4.1.1.8)."],
        "NOOP" => &["NOOP: do nothing, get 250: checks the connection is alive (RFC 5321 section 4.1.1.9)."],
        "QUIT" => &["QUIT: say goodbye; the server answers 221 and closes (RFC 5321 section 4.1.1.10)."],
        "STARTTLS" => &["STARTTLS: after 220, the TLS handshake starts; then EHLO again (RFC 3207 section 4).", "Try it with: openssl s_client -starttls smtp -crlf -connect HOST:PORT"],
        _ => return Reply::new(504, Some(Status(5, 5, 1)), "HELP topic unknown").hint("HELP alone lists the commands"),
    };
    let mut reply = Reply::new(214, Some(Status(2, 0, 0)), text[0]);
    reply
        .lines
        .extend(text[1..].iter().map(|l| Cow::Borrowed(*l)));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_multiline_replies_with_dashes_and_a_final_space() {
        let reply = ehlo("mx.test", "laptop", &["PIPELINING".into(), "HELP".into()]);
        assert_eq!(
            reply.render(true),
            "250-mx.test greets laptop\r\n250-PIPELINING\r\n250 HELP\r\n"
        );
    }

    #[test]
    fn hints_follow_the_setting() {
        let reply = command_unrecognized();
        assert_eq!(reply.render(false), "500 5.5.1 Command unrecognized\r\n");
        assert_eq!(
            reply.render(true),
            "500 5.5.1 Command unrecognized (hint: type HELP for the list of commands)\r\n"
        );
    }

    #[test]
    fn every_help_topic_names_its_rfc_section() {
        for topic in [
            "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT",
        ] {
            let text = help(Some(topic)).render(false);
            assert!(text.starts_with("214"), "{topic}");
            assert!(text.contains("RFC 5321 section 4.1.1."), "{topic}: {text}");
        }
    }
}
