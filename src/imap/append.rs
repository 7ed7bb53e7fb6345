//! APPEND's grammar, and MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all
//! together or not at all.
//!
//! ```text
//! C: A003 APPEND saved-messages (\Seen) {329}
//! S: + Ready for literal data
//! C: …329 octets… (\Seen) " 7-Feb-1994 22:43:04 -0800" {295}
//! S: + Ready for literal data
//! C: …295 octets…
//! S: A003 OK [APPENDUID 38505 3955:3956] APPEND completed
//! ```
//!
//! All or nothing (RFC 3502 §6.3.11): the whole command is read before anything is written,
//! the quota is checked for the sum, and `folders::store_copies` syncs every message in
//! `tmp/` before it moves any of them into the folder, under the folder's lock, removing the
//! moved ones if a later one fails. The APPENDUID code names the UIDs as a set (RFC 4315 §3).
//! The whole command is one command for the framing layer, so the messages together are at
//! most `max_message_size`; and at most [`MAX_MESSAGES`] of them.

use super::command::Command;
use super::esearch::compact;
use super::flags::Flags;
use super::folders::{store_copies, NewMessage};
use super::response::{self as r, Response, Status};
use super::session::Session;
use super::syntax::{expected, Cursor, Parsed};
use crate::mailbox::folder::FolderError;

/// Messages in one APPEND. Each is a file and a rename under the folder's lock; a client
/// uploading a folder sends them in batches (Dovecot takes any number, bounded by size).
pub const MAX_MESSAGES: usize = 256;

/// One message of an APPEND: its flags (keywords included), internal date and octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<String>,
    /// Seconds since 1970, if the client gave an internal date.
    pub date: Option<i64>,
    pub message: Vec<u8>,
}

/// `append = "APPEND" SP mailbox 1*append-message`; `append-message = append-opts SP
/// append-data`; `append-opts = [SP flag-list] [SP date-time]` (RFC 3502 §6.3.11). One
/// message is the plain [`Command::Append`], several [`Command::MultiAppend`].
pub fn parse(c: &mut Cursor) -> Parsed<Command> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    let mut messages = Vec::new();
    while c.eat(" ") {
        if messages.len() == MAX_MESSAGES {
            return expected("at most 256 messages in one APPEND");
        }
        messages.push(message(c)?);
    }
    if messages.len() > 1 {
        return Ok(Command::MultiAppend { mailbox, messages });
    }
    let Some(AppendMessage {
        flags,
        date,
        message,
    }) = messages.pop()
    else {
        return expected("a space and the message");
    };
    Ok(Command::Append {
        mailbox,
        flags,
        date,
        message,
    })
}

/// `[flag-list SP] [date-time SP] literal`
fn message(c: &mut Cursor) -> Parsed<AppendMessage> {
    let flags = if c.peek() == Some(b'(') {
        let flags = c.flag_list()?;
        c.sp()?;
        flags
    } else {
        Vec::new()
    };
    let date = if c.peek() == Some(b'"') {
        let date = c.date_time()?;
        c.sp()?;
        Some(date)
    } else {
        None
    };
    if c.peek() != Some(b'{') {
        return expected("the message as a literal, {size} then the octets");
    }
    let message = c.string()?;
    Ok(AppendMessage {
        flags,
        date,
        message,
    })
}

impl Session {
    /// RFC 3502 MULTIAPPEND: every message stored, or none.
    pub(super) fn multi_append(
        &self,
        tag: &str,
        mailbox: &str,
        messages: &[AppendMessage],
    ) -> Result<Vec<Response>, FolderError> {
        let Some(folders) = self.folders.as_ref() else {
            return Ok(vec![Response::bad(tag, "No folders")]);
        };
        let (_, maildir) = match folders.maildir(mailbox) {
            // §6.3.11: TRYCREATE tells the client that CREATE would help.
            Err(FolderError::NotFound) => return Ok(vec![r::try_create(tag)]),
            other => other?,
        };
        let total: u64 = messages.iter().map(|m| m.message.len() as u64).sum();
        if let Some(refusal) = self.over_quota(tag, total) {
            return Ok(vec![refusal]);
        }
        let new: Vec<NewMessage> = messages
            .iter()
            .map(|m| NewMessage {
                content: m.message.clone(),
                flags: Flags::from_names(&m.flags),
                keywords: m
                    .flags
                    .iter()
                    .filter(|n| !n.starts_with('\\'))
                    .cloned()
                    .collect(),
                date: m.date,
            })
            .collect();
        let (validity, mut uids) = store_copies(&maildir, &new, &self.config.hostname)?;
        uids.sort_unstable();
        Ok(vec![Response::status(
            tag,
            Status::Ok,
            Some(&format!("APPENDUID {validity} {}", compact(&uids))),
            "APPEND completed",
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Parsed<Command> {
        let mut c = Cursor::new(line.as_bytes());
        let command = parse(&mut c)?;
        c.end()?;
        Ok(command)
    }

    #[test]
    fn one_or_many_messages() {
        assert!(matches!(
            parsed(" Sent (\\Seen) {2+}\r\nhi"),
            Ok(Command::Append { .. })
        ));
        let Ok(Command::MultiAppend { messages, .. }) = parsed(
            " Sent (\\Seen) {2+}\r\nhi (\\Flagged $Work) \" 7-Feb-1994 22:43:04 -0800\" {3+}\r\nyou {0+}\r\n",
        ) else {
            panic!("not a MULTIAPPEND");
        };
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1].flags, ["\\Flagged", "$Work"]);
        assert_eq!(messages[1].message, b"you");
        for bad in [" Sent", " Sent {2+}\r\nhi ", " Sent {2+}\r\nhi (\\Seen)"] {
            assert!(parsed(bad).is_err(), "{bad:?}");
        }
        let many = format!(" Sent{}", " {1+}\r\nx".repeat(MAX_MESSAGES + 1));
        assert!(parsed(&many).is_err());
    }
}
