//! The text of a queue file's envelope (`DIR/queue/active/ID.env`): written by [`Entry::to_text`],
//! read back by [`Entry::parse`].
//!
//! ```text
//! # postlab queue file: the envelope of 19A3C4F2B8D10 (content in 19A3C4F2B8D10.msg)
//! from: <alice@a.test>
//! arrived: 1795707025
//! attempts: 1
//! next-attempt: 1795707325
//! rcpt: <bob@b.test>
//! status: pending 421 4.4.0 mx.b.test did not answer
//! rcpt: <"x> y"@c.test>
//! status: delivered 250 2.0.0 Ok: queued as 6612F9F5EE851
//! rcpt: <dan@d.test>
//! status: failed 5.1.1 550 5.1.1 no such user
//! ```
//!
//! **One field per line, and a value runs to the end of its line.** Nothing inside a value is a
//! delimiter, so no address needs escaping: RFC 5321 §4.1.2 lets a quoted local part hold `>`,
//! spaces, `@`, `:` and backslash pairs (`<"x> y"@c.test>`), and RFC 6531 §3.3 adds UTF-8 — but
//! no address holds a line break (quoted text is printable characters only). A recipient's
//! status is the `status:` line after its `rcpt:` line. Status texts come from remote servers;
//! their control characters become spaces, so they too stay on one line.
//!
//! Before this format (up to issue 14) the status followed the address on the `rcpt:` line, and
//! the reader looked for `"> "` to find the address's end: a quoted local part holding `"> "`
//! made the file unreadable, and the message was skipped forever. Such old files are still
//! read: the address's end is found with the Path grammar (quotes and brackets respected).
//!
//! The queue checks every envelope it writes by reading it back (`Queue::stage`), so an
//! envelope that this reader could not read is never acknowledged.

use crate::address::{self, Address, ReversePath};
use crate::ids::QueueId;

/// Where one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not delivered yet; the last temporary error, if any.
    Pending(String),
    /// Accepted by the receiving server, with its reply.
    Delivered(String),
    /// Failed for good: enhanced status code and the reason. The sender gets a bounce.
    Failed { status: String, diagnostic: String },
}

/// One recipient in a queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub address: Address,
    pub status: Status,
}

/// A queue file's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: QueueId,
    pub from: ReversePath,
    /// Seconds since 1970 when the message arrived.
    pub arrived: u64,
    pub attempts: u32,
    /// Seconds since 1970 of the next delivery attempt.
    pub next_attempt: u64,
    pub recipients: Vec<QueuedRecipient>,
}

impl Entry {
    pub fn new(id: QueueId, from: ReversePath, recipients: Vec<Address>) -> Entry {
        let now = crate::clock::unix_now();
        Entry {
            id,
            from,
            arrived: now,
            attempts: 0,
            next_attempt: now,
            recipients: recipients
                .into_iter()
                .map(|address| QueuedRecipient {
                    address,
                    status: Status::Pending(String::new()),
                })
                .collect(),
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &QueuedRecipient> {
        self.recipients
            .iter()
            .filter(|r| matches!(r.status, Status::Pending(_)))
    }

    /// The envelope file's text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# postlab queue file: the envelope of {id} (content in {id}.msg)\nfrom: {}\narrived: {}\nattempts: {}\nnext-attempt: {}\n",
            self.from,
            self.arrived,
            self.attempts,
            self.next_attempt,
            id = self.id
        );
        for r in &self.recipients {
            text.push_str(&format!(
                "rcpt: <{}>\nstatus: {}\n",
                r.address,
                status_text(&r.status)
            ));
        }
        text
    }

    /// Reads an envelope file. Any line it does not understand makes the whole file an error:
    /// guessing could send mail to the wrong place.
    pub fn parse(id: QueueId, text: &str) -> Result<Entry, String> {
        let mut entry = Entry {
            id,
            from: ReversePath::Null,
            arrived: 0,
            attempts: 0,
            next_attempt: 0,
            recipients: Vec::new(),
        };
        for (index, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let at = |what: String| format!("line {}: {what}", index + 1);
            let (key, value) = line
                .split_once(": ")
                .ok_or_else(|| at(format!("expected 'key: value', got {line:?}")))?;
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| at(format!("bad number {value:?}")))
            };
            match key {
                "from" if value == "<>" => entry.from = ReversePath::Null,
                "from" => entry.from = ReversePath::Mailbox(path(value).map_err(at)?),
                "arrived" => entry.arrived = number()?,
                "attempts" => {
                    entry.attempts =
                        u32::try_from(number()?).map_err(|_| at(format!("bad number {value:?}")))?
                }
                "next-attempt" => entry.next_attempt = number()?,
                "rcpt" => entry.recipients.push(recipient(value).map_err(at)?),
                "status" => {
                    let last = entry
                        .recipients
                        .last_mut()
                        .ok_or_else(|| at("a status line before any rcpt line".into()))?;
                    last.status = parse_status(value).map_err(at)?;
                }
                _ => return Err(at(format!("unknown field {key:?}"))),
            }
        }
        if entry.recipients.is_empty() {
            return Err("no recipients".into());
        }
        Ok(entry)
    }
}

/// `pending REASON` / `delivered REPLY` / `failed STATUS DIAGNOSTIC`, on one line.
fn status_text(status: &Status) -> String {
    let text = match status {
        Status::Pending(why) => format!("pending {why}"),
        Status::Delivered(reply) => format!("delivered {reply}"),
        Status::Failed { status, diagnostic } => format!("failed {status} {diagnostic}"),
    };
    // Reasons come from remote servers: keep them on one line.
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.trim_end().to_string()
}

fn parse_status(text: &str) -> Result<Status, String> {
    let (word, detail) = text.split_once(' ').unwrap_or((text, ""));
    Ok(match word {
        "pending" => Status::Pending(detail.to_string()),
        "delivered" => Status::Delivered(detail.to_string()),
        "failed" => {
            let (status, diagnostic) = detail.split_once(' ').unwrap_or((detail, ""));
            Status::Failed {
                status: status.to_string(),
                diagnostic: diagnostic.to_string(),
            }
        }
        _ => return Err(format!("bad status {text:?}")),
    })
}

/// A whole value that is one Path, `<local@domain>`.
fn path(value: &str) -> Result<Address, String> {
    address::parse_path(value, true).map_err(|e| format!("{e:?} in the address {value:?}"))
}

/// `rcpt: <address>`, or the old one-line form `rcpt: <address> STATUS`.
fn recipient(value: &str) -> Result<QueuedRecipient, String> {
    if let Ok(address) = address::parse_path(value, true) {
        return Ok(QueuedRecipient {
            address,
            status: Status::Pending(String::new()),
        });
    }
    let end = path_end(value).ok_or_else(|| format!("no complete address in {value:?}"))?;
    Ok(QueuedRecipient {
        address: path(&value[..end])?,
        status: parse_status(value[end..].trim())?,
    })
}

/// Where the Path at the start of `text` ends (just after its `>`), following RFC 5321's
/// grammar: a `>` inside a quoted string (`"x> y"`, with `\` pairs) or inside an address
/// literal's brackets does not end it.
fn path_end(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut bracket = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !bracket => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            '>' if !quoted && !bracket => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
#[path = "envelope_file_tests.rs"]
mod tests;
