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
//! most `max_message_size`; and at most 256 of them (`ext_args.rs`, the grammar).

use super::esearch::compact;
use super::ext_args::AppendMessage;
use super::flags::Flags;
use super::folders::{store_copies, NewMessage};
use super::response::{self as r, Response, Status};
use super::session::Session;
use super::syntax::Cursor;
use crate::mailbox::folder::FolderError;

impl Session {
    /// Before `+` invites a synchronizing literal: is this an APPEND to a folder that does not
    /// exist? Then the answer is `NO [TRYCREATE]` at once, and the client does not send the
    /// message at all (RFC 3501 §6.3.11 and §7.5; RFC 3502's example A004). `so_far` is the
    /// command up to the `{n}` that ends its latest line.
    ///
    /// ```text
    /// C: A004 APPEND unknown {329}
    /// S: A004 NO [TRYCREATE] No such folder; CREATE it first
    /// ```
    ///
    /// Only a literal after the folder name counts: one that is the name itself is taken, and
    /// the name checked once it is whole. A LITERAL+ literal is on its way already; it is read
    /// (within the same limits) and the whole command refused as usual.
    pub fn refuse_before_literal(&self, so_far: &[u8]) -> Option<Response> {
        let folders = self.folders.as_ref()?;
        let mut c = Cursor::new(so_far);
        let tag = c.tag().ok()?;
        c.sp().ok()?;
        if !c.atom().ok()?.eq_ignore_ascii_case("APPEND") {
            return None;
        }
        c.sp().ok()?;
        let mailbox = c.mailbox().ok()?;
        if c.peek() != Some(b' ') {
            return None;
        }
        match folders.maildir(&mailbox) {
            Err(FolderError::NotFound) => Some(r::try_create(&tag)),
            _ => None,
        }
    }

    /// RFC 3502 MULTIAPPEND: every message stored, or none.
    pub(super) fn multi_append(
        &self,
        tag: &str,
        mailbox: &str,
        messages: Vec<AppendMessage>,
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
        // The octets move into the new messages: a command near `max_message_size` is held
        // once, not twice.
        let new: Vec<NewMessage> = messages
            .into_iter()
            .map(|m| NewMessage {
                flags: Flags::from_names(&m.flags),
                keywords: m
                    .flags
                    .into_iter()
                    .filter(|n| !n.starts_with('\\'))
                    .collect(),
                date: m.date,
                content: m.message,
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
