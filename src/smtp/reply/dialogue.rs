//! Replies of a dialogue that goes well: the greeting, HELO/EHLO, the 250s of a transaction,
//! 354 for DATA, 221 at QUIT, and HELP (RFC 5321 §4.1.1, §4.2).

use std::borrow::Cow;

use super::{Reply, Status};
use crate::hints::Hint;
use crate::ids::QueueId;

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
    .hint(Hint::VrfyVague)
}

/// RFC 5321 §3.5.2: EXPN may be disabled for security.
pub fn expn_disabled() -> Reply {
    Reply::new(502, Some(Status(5, 5, 1)), "EXPN is disabled").hint(Hint::ExpnOff)
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
        _ => return Reply::new(504, Some(Status(5, 5, 1)), "HELP topic unknown").hint(Hint::HelpAlone),
    };
    let mut reply = Reply::new(214, Some(Status(2, 0, 0)), text[0]);
    reply
        .lines
        .extend(text[1..].iter().map(|l| Cow::Borrowed(*l)));
    reply
}
