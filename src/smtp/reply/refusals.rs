//! Replies that refuse a sender, a recipient or a message, each with the enhanced code that
//! says why (RFC 3463): unknown users, relaying, aliases that cannot be followed, limits.

use super::{Reply, Status};
use crate::address::AddressError;
use crate::hints::Hint;

// ---- Refusals of a recipient or sender -----------------------------------------------------

pub fn unknown_user(address: &str) -> Reply {
    Reply::new(
        550,
        Some(Status(5, 1, 1)),
        format!("<{address}>: no such user here"),
    )
    .hint(Hint::UserList)
}

/// Never an open relay: mail for other domains needs authentication or a trusted network.
pub fn relay_denied(address: &str) -> Reply {
    Reply::new(
        554,
        Some(Status(5, 7, 1)),
        format!("<{address}>: Relay access denied"),
    )
    .hint(Hint::OwnDomainsOnly)
}

/// `relay_to` (a class server on a shared network) leaves this domain out.
pub fn outside_relay_to(address: &str) -> Reply {
    Reply::new(
        554,
        Some(Status(5, 7, 1)),
        format!("<{address}>: this server relays to its class's domains only"),
    )
    .hint(Hint::RelayToOnly)
}

/// 5.4.6: a routing loop (RFC 3463 §3.5).
pub fn alias_loop(address: &str) -> Reply {
    Reply::new(
        550,
        Some(Status(5, 4, 6)),
        format!("<{address}>: alias loop"),
    )
    .hint(Hint::AliasLoop)
}

/// 5.3.5 (RFC 3463 §3.4, "system incorrectly configured"): the aliases file cannot be followed
/// for this name (too many recipients, a target that is not an address).
pub fn alias_misconfigured(address: &str, why: &str) -> Reply {
    Reply::new(550, Some(Status(5, 3, 5)), format!("<{address}>: {why}")).hint(Hint::FixAliases)
}

/// RFC 5321 §4.5.3.1.8: 452 for too many recipients, so the client sends the rest later.
pub fn too_many_recipients(limit: usize) -> Reply {
    Reply::new(
        452,
        Some(Status(4, 5, 3)),
        format!("Too many recipients (at most {limit} per message)"),
    )
    .hint(Hint::SendAgainToRest)
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
    .hint(Hint::BareLfInData)
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
    Reply::new(554, Some(Status(5, 5, 1)), "No valid recipients").hint(Hint::RcptBeforeData)
}

/// 553 5.6.7: RFC 6531 §3.7.4.1, a non-ASCII address without SMTPUTF8.
pub fn non_ascii_address() -> Reply {
    Reply::new(
        553,
        Some(Status(5, 6, 7)),
        "Non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM",
    )
    .hint(Hint::Smtputf8)
}

/// An address that breaks the grammar or a length limit. The enhanced code says which side:
/// 5.1.7 the sender, 5.1.3 a recipient (RFC 3463).
pub fn bad_address(error: AddressError, sender: bool) -> Reply {
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
        AddressError::Syntax if sender => reply.hint(Hint::MailFromBrackets),
        AddressError::Syntax => reply.hint(Hint::RcptToBrackets),
        _ => reply,
    }
}

/// RFC 7489 section 6.7 and 10.3: DMARC failed and the author's domain publishes p=reject
/// (`dmarc_policy = enforce`); 550 5.7.1 is what RFC 7372 section 3.1 names for it.
pub fn dmarc_rejected() -> Reply {
    Reply::new(
        550,
        Some(Status(5, 7, 1)),
        "Rejected by DMARC policy of the sender's domain".to_string(),
    )
    .hint(Hint::DmarcReject)
}
