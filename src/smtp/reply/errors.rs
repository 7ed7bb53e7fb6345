//! Replies to a dialogue gone wrong: commands that do not parse or come out of order, and the
//! server ending a session (too many errors, too slow, shutting down, full, out of disk).

use super::{Reply, Status};
use crate::hints::Hint;

// ---- Errors in the dialogue ----------------------------------------------------------------

pub fn command_unrecognized() -> Reply {
    Reply::new(500, Some(Status(5, 5, 1)), "Command unrecognized").hint(Hint::TypeHelp)
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
    .hint(Hint::BareLfInCommand)
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
    .hint(Hint::EhloListsExtensions)
}

pub fn bad_sequence(text: &'static str, hint: Hint) -> Reply {
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
    .hint(Hint::TlsClientNeeded)
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
        Reply::new(552, Some(Status(5, 2, 2)), "Mailbox full").hint(Hint::QuotaTooSmall)
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

/// 452 4.3.1 (RFC 3463 §3.4, "mail system full"): the messages arriving at once already fill
/// the memory set aside for them (`max_data_memory`); the client keeps this one and sends it
/// again later, as after any 4yz.
pub fn too_much_mail_at_once() -> Reply {
    Reply::new(
        452,
        Some(Status(4, 3, 1)),
        "Too many messages arriving at once, try again later",
    )
    .hint(Hint::MaxDataMemory)
}

/// 451 4.3.0: something failed on our side; the client keeps the message and tries later.
pub fn local_error() -> Reply {
    Reply::new(
        451,
        Some(Status(4, 3, 0)),
        "Local error in processing, try again later",
    )
}
