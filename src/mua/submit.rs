//! Submitting a message as a mail program does (RFC 6409): connect to the submission port,
//! EHLO, log in with AUTH PLAIN (RFC 4954), then MAIL, RCPT for each recipient, DATA.
//!
//! ```text
//! [1 MUA] C: EHLO laptop
//! [1 MUA] C: AUTH PLAIN <credentials hidden>
//! [1 MUA] C: MAIL FROM:<alice@localhost>
//! [1 MUA] C: RCPT TO:<bob@localhost>
//! [1 MUA] C: DATA
//! [1 MUA] C: <message: 1234 octets>
//! [1 MUA] S: 250 2.0.0 Ok: queued as 6612F9F5EE851
//! ```

use super::wire::Wire;
use crate::accounts::sasl;
use crate::transcript::Step;

/// When to use STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Never (a lesson that wants to show the plaintext dialogue).
    Off,
    /// When the server offers it (the default, as mail programs do).
    IfOffered,
    /// Refuse to go on without it.
    Required,
}

/// Where and how to submit.
#[derive(Debug, Clone)]
pub struct Submission {
    /// `host:port`, e.g. `127.0.0.1:10587`.
    pub server: String,
    /// (user, password) for AUTH PLAIN, if any.
    pub auth: Option<(String, String)>,
    pub tls: Tls,
    /// Check the server's certificate (lab servers are self-signed, so off by default).
    pub verify: bool,
    pub verbose: bool,
}

/// The outcome: the server's final reply, and the recipients it refused (with their reply).
#[derive(Debug)]
pub struct Submitted {
    pub reply: String,
    pub refused: Vec<(String, String)>,
}

/// Sends `message` from `from` to `recipients`. An error says which step failed and why.
pub fn submit(
    how: &Submission,
    from: &str,
    recipients: &[String],
    message: &[u8],
) -> Result<Submitted, String> {
    let mut wire = Wire::connect(&how.server, Step::Mua, how.verbose)
        .map_err(|e| format!("cannot connect to {}: {e}", how.server))?;
    let io = |e: std::io::Error| format!("connection to {} failed: {e}", how.server);
    let expect = |wire: &mut Wire, what: &str, ok: u16| -> Result<String, String> {
        let (code, text) = wire.smtp_reply().map_err(io)?;
        if code == ok {
            Ok(text)
        } else {
            Err(format!("{what}: the server said {code} {text}"))
        }
    };
    expect(&mut wire, "greeting", 220)?;
    let ehlo = format!("EHLO {}", crate::config::machine_hostname());
    wire.send(&ehlo).map_err(io)?;
    let (code, extensions) = wire.smtp_reply_lines().map_err(io)?;
    if code != 250 {
        return Err(format!("EHLO: the server said {code}"));
    }
    let offers_tls = extensions
        .iter()
        .any(|e| e.eq_ignore_ascii_case("STARTTLS"));
    match (how.tls, offers_tls) {
        (Tls::Required, false) => {
            return Err("the server does not offer STARTTLS, and --starttls requires it".into())
        }
        (Tls::Required | Tls::IfOffered, true) => {
            wire.send("STARTTLS").map_err(io)?;
            expect(&mut wire, "STARTTLS", 220)?;
            wire.start_tls(how.verify)?;
            // RFC 3207 §4.2: the server forgot everything; greet it again.
            wire.send(&ehlo).map_err(io)?;
            expect(&mut wire, "EHLO after STARTTLS", 250)?;
        }
        _ => wire.note("no TLS: everything, the password too, travels readable"),
    }
    if let Some((user, password)) = &how.auth {
        let token = sasl::encode(format!("\0{user}\0{password}").as_bytes());
        wire.send_secret(&format!("AUTH PLAIN {token}"), "AUTH PLAIN")
            .map_err(io)?;
        expect(&mut wire, "login (AUTH)", 235)?;
    }
    wire.send(&format!("MAIL FROM:<{from}>")).map_err(io)?;
    expect(&mut wire, "sender (MAIL FROM)", 250)?;
    let mut refused = Vec::new();
    for rcpt in recipients {
        wire.send(&format!("RCPT TO:<{rcpt}>")).map_err(io)?;
        let (code, text) = wire.smtp_reply().map_err(io)?;
        if code != 250 && code != 251 {
            refused.push((rcpt.clone(), format!("{code} {text}")));
        }
    }
    if refused.len() == recipients.len() {
        let _ = wire.send("QUIT");
        return Err(format!("every recipient was refused: {refused:?}"));
    }
    wire.send("DATA").map_err(io)?;
    expect(&mut wire, "DATA", 354)?;
    wire.send_bytes(&dot_stuff(message), "message")
        .map_err(io)?;
    let (code, text) = wire.smtp_reply().map_err(io)?;
    let _ = wire.send("QUIT");
    if code != 250 {
        return Err(format!("the message was refused: {code} {text}"));
    }
    Ok(Submitted {
        reply: format!("{code} {text}"),
        refused,
    })
}

/// RFC 5321 §4.5.2: a line starting with a dot gets one more; the data ends with `.` alone.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
