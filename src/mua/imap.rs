//! Reading a mailbox over IMAP (RFC 3501), as a mail program does: the mail stays on the
//! server; the client looks at it, marks it read, deletes it with a flag and EXPUNGE.
//!
//! ```text
//! [7 ACCESS] C: a1 LOGIN bob <credentials hidden>
//! [7 ACCESS] C: a2 SELECT INBOX
//! [7 ACCESS] S: * 2 EXISTS
//! [7 ACCESS] C: a3 FETCH 1:* (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])
//! ```

use super::fetch::{header, Account, Summary};
use super::wire::Wire;
use crate::transcript::Step;

/// One untagged response: its text (literals replaced by `{n}`) and the literals' bytes.
#[derive(Debug, Default)]
pub struct Untagged {
    pub text: String,
    pub literals: Vec<Vec<u8>>,
}

pub struct Imap {
    wire: Wire,
    next_tag: u32,
}

fn io(e: std::io::Error) -> String {
    format!("connection failed: {e}")
}

/// An IMAP quoted string (RFC 3501 §4.3): backslash and double quote escaped.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Imap {
    /// Connects, starts TLS when offered (unless `plain`), and logs in.
    pub fn login(account: &Account, plain: bool) -> Result<Imap, String> {
        let wire = Wire::connect(&account.server, Step::Access, account.verbose)
            .map_err(|e| format!("cannot connect to {}: {e}", account.server))?;
        let mut imap = Imap { wire, next_tag: 1 };
        let greeting = imap.wire.line().map_err(io)?;
        if !greeting.starts_with("* OK") {
            return Err(format!("greeting: {greeting}"));
        }
        if greeting.contains("STARTTLS") && !plain {
            imap.command("STARTTLS")?;
            imap.wire.start_tls(false)?;
        }
        let tag = imap.tag();
        imap.wire
            .send_secret(
                &format!(
                    "{tag} LOGIN {} {}",
                    quoted(&account.user),
                    quoted(&account.password)
                ),
                &format!("{tag} LOGIN {}", account.user),
            )
            .map_err(io)?;
        imap.finish(&tag, "LOGIN")?;
        imap.command("SELECT INBOX")?;
        Ok(imap)
    }

    fn tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends a command and collects its untagged responses until the tagged OK (the webmail
    /// builds its folder commands on this).
    pub fn command(&mut self, command: &str) -> Result<Vec<Untagged>, String> {
        let tag = self.tag();
        self.wire.send(&format!("{tag} {command}")).map_err(io)?;
        let verb = command.split(' ').next().unwrap_or(command).to_string();
        self.finish(&tag, &verb)
    }

    fn finish(&mut self, tag: &str, verb: &str) -> Result<Vec<Untagged>, String> {
        let mut responses = Vec::new();
        loop {
            let mut response = Untagged::default();
            let mut line = self.wire.line().map_err(io)?;
            // A line ending in {n} announces n octets of literal, then the line goes on.
            while let Some(n) = literal_size(&line) {
                response.text.push_str(&line);
                response.literals.push(self.wire.exact(n).map_err(io)?);
                line = self.wire.line().map_err(io)?;
            }
            response.text.push_str(&line);
            if let Some(rest) = response.text.strip_prefix(&format!("{tag} ")) {
                return if rest.starts_with("OK") {
                    Ok(responses)
                } else {
                    Err(format!("{verb}: the server said {rest}"))
                };
            }
            responses.push(response);
        }
    }

    /// Number, size, From, Subject and Date of every message in INBOX.
    pub fn list(&mut self) -> Result<Vec<Summary>, String> {
        let responses =
            self.command("FETCH 1:* (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])");
        // An empty mailbox answers FETCH 1:* with BAD or NO: there is no message 1.
        let responses = match responses {
            Ok(responses) => responses,
            Err(_) => return Ok(Vec::new()),
        };
        let mut summaries = Vec::new();
        for r in responses.iter().filter(|r| r.text.contains(" FETCH (")) {
            let number = r
                .text
                .split(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let size = r
                .text
                .split("RFC822.SIZE ")
                .nth(1)
                .and_then(|s| s.split([' ', ')']).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let head = r.literals.first().cloned().unwrap_or_default();
            let field = |name: &str| header(&head, name).unwrap_or_default();
            summaries.push(Summary {
                number,
                size,
                from: field("From"),
                subject: field("Subject"),
                date: field("Date"),
            });
        }
        summaries.sort_by_key(|s| s.number);
        Ok(summaries)
    }

    /// The whole message `number`; fetching BODY[] marks it \Seen, as reading does.
    pub fn read(&mut self, number: usize) -> Result<Vec<u8>, String> {
        let responses = self.command(&format!("FETCH {number} BODY[]"))?;
        let message = responses
            .into_iter()
            .find_map(|r| r.literals.into_iter().next())
            .ok_or(format!("no message {number}"))?;
        self.wire
            .note(&format!("S: <message {number}: {} octets>", message.len()));
        Ok(message)
    }

    /// Flags message `number` \Deleted and expunges it (RFC 3501 §6.4.3).
    pub fn delete(&mut self, number: usize) -> Result<(), String> {
        self.command(&format!("STORE {number} +FLAGS.SILENT (\\Deleted)"))?;
        self.command("EXPUNGE").map(|_| ())
    }

    pub fn logout(mut self) -> Result<(), String> {
        self.command("LOGOUT").map(|_| ())
    }
}

/// `{123}` (or `{123+}`) at the end of a line: the size of the literal that follows.
fn literal_size(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}
