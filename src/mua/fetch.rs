//! Reading a mailbox over POP3 (RFC 1939), as a mail program does: log in, list what is
//! there, retrieve one message, delete one.
//!
//! ```text
//! [7 ACCESS] C: USER bob
//! [7 ACCESS] C: PASS <credentials hidden>
//! [7 ACCESS] C: STAT
//! [7 ACCESS] S: +OK 2 1234
//! [7 ACCESS] C: TOP 1 0          ← headers only, to show From / Subject / Date
//! ```

use super::wire::Wire;
use crate::transcript::Step;

/// Where and as whom.
#[derive(Debug, Clone)]
pub struct Account {
    /// `host:port`, e.g. `127.0.0.1:10110`.
    pub server: String,
    pub user: String,
    pub password: String,
    pub verbose: bool,
}

/// One line of a mailbox listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub number: usize,
    pub size: u64,
    pub from: String,
    pub subject: String,
    pub date: String,
}

/// A logged-in POP3 session.
pub struct Pop3 {
    wire: Wire,
}

fn io(e: std::io::Error) -> String {
    format!("connection failed: {e}")
}

impl Pop3 {
    /// Connects, starts TLS when the server offers STLS (unless `plain`), and logs in.
    pub fn login(account: &Account, plain: bool) -> Result<Pop3, String> {
        let wire = Wire::connect(&account.server, Step::Access, account.verbose)
            .map_err(|e| format!("cannot connect to {}: {e}", account.server))?;
        let mut pop = Pop3 { wire };
        pop.status("greeting")?;
        if !plain {
            pop.command("CAPA")?;
            let capabilities = String::from_utf8_lossy(&pop.multiline()?).into_owned();
            if capabilities
                .lines()
                .any(|l| l.trim().eq_ignore_ascii_case("STLS"))
            {
                pop.command("STLS")?;
                pop.wire.start_tls(false)?;
            }
        }
        pop.command(&format!("USER {}", account.user))?;
        pop.wire
            .send_secret(&format!("PASS {}", account.password), "PASS")
            .map_err(io)?;
        pop.status("login (PASS)")?;
        Ok(pop)
    }

    fn status(&mut self, what: &str) -> Result<String, String> {
        let line = self.wire.line().map_err(io)?;
        match line.strip_prefix("+OK") {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(format!("{what}: the server said {line}")),
        }
    }

    fn command(&mut self, line: &str) -> Result<String, String> {
        self.wire.send(line).map_err(io)?;
        let verb = line.split(' ').next().unwrap_or(line).to_string();
        self.status(&verb)
    }

    /// A multi-line answer after `+OK`, dot-unstuffed, up to the line with a single dot.
    fn multiline(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            let line = self.wire.quiet_line().map_err(io)?;
            if line == b".\r\n" || line == b".\n" {
                return Ok(out);
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(line);
        }
    }

    /// Number, size, From, Subject and Date of every message.
    pub fn list(&mut self) -> Result<Vec<Summary>, String> {
        let stat = self.command("STAT")?;
        let count: usize = stat
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or(format!("STAT: {stat}"))?;
        let mut summaries = Vec::with_capacity(count);
        for number in 1..=count {
            let size = self
                .command(&format!("LIST {number}"))?
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            self.command(&format!("TOP {number} 0"))?;
            let head = self.multiline()?;
            let field = |name: &str| header(&head, name).unwrap_or_default();
            summaries.push(Summary {
                number,
                size,
                from: field("From"),
                subject: field("Subject"),
                date: field("Date"),
            });
        }
        Ok(summaries)
    }

    /// The whole message `number`.
    pub fn read(&mut self, number: usize) -> Result<Vec<u8>, String> {
        self.command(&format!("RETR {number}"))?;
        let message = self.multiline()?;
        self.wire
            .note(&format!("S: <message {number}: {} octets>", message.len()));
        Ok(message)
    }

    /// Marks message `number` deleted; it goes at [`Pop3::quit`].
    pub fn delete(&mut self, number: usize) -> Result<(), String> {
        self.command(&format!("DELE {number}")).map(|_| ())
    }

    /// Ends the session: deletions take effect now (RFC 1939 §6, the UPDATE state).
    pub fn quit(mut self) -> Result<(), String> {
        self.command("QUIT").map(|_| ())
    }
}

/// The value of header field `name` (unfolded), from a message's header section.
pub fn header(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut value: Option<String> = None;
    for line in text.split("\r\n") {
        if line.is_empty() {
            break;
        }
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => {
                v.push(' ');
                v.push_str(line.trim());
            }
            Some(_) => break,
            None => {
                if let Some((field, rest)) = line.split_once(':') {
                    if field.eq_ignore_ascii_case(name) {
                        value = Some(rest.trim().to_string());
                    }
                }
            }
        }
    }
    value
}
