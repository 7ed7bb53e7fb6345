//! The webmail's side of IMAP (RFC 3501), built on postlab's own client (`mua::imap`): the
//! webmail is a real MUA, so what it does shows in the server's transcripts as step 7, like
//! any mail program's session.
//!
//! ```text
//! C: a3 LIST "" "*"
//! C: a4 SELECT "Archive"
//! C: a5 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])
//! C: a6 UID MOVE 7 "Trash"
//! ```
//!
//! Folder names reach this file checked (see [`folder_name`]); every name is sent quoted.

use crate::mua::fetch::{header, Account};
use crate::mua::imap::Imap;

/// One line of a folder listing.
pub struct Summary {
    pub uid: u32,
    pub seen: bool,
    pub from: String,
    pub subject: String,
    pub date: String,
}

/// A folder name as the webmail accepts it in a parameter: printable, no path pieces
/// (`..`, `/`, `\`), no IMAP wildcards, at most 100 characters. Anything else is refused
/// before it gets near the server (which checks again for itself).
pub fn folder_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && !name.contains("..")
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '*' | '%' | '"'));
    ok.then_some(name)
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// Logs in over loopback IMAP as `user`.
pub fn connect(server: String, user: &str, password: &str) -> Result<Imap, String> {
    let account = Account {
        server,
        user: user.to_string(),
        password: password.to_string(),
        verbose: false,
    };
    // Loopback: no TLS needed for the password (accounts::login::plaintext_allowed).
    Imap::login(&account, true)
}

/// Every folder, INBOX first.
pub fn folders(imap: &mut Imap) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = imap
        .command("LIST \"\" \"*\"")?
        .iter()
        .filter_map(|r| {
            // * LIST (\HasNoChildren) "." "Archive"   or   … "." INBOX
            let rest = r.text.strip_prefix("* LIST ")?;
            let after_flags = rest.split_once(") ")?.1;
            let name = after_flags.split_once(' ')?.1;
            Some(name.trim_matches('"').to_string())
        })
        .collect();
    names.sort_by_key(|n| (n != "INBOX", n.clone()));
    Ok(names)
}

pub fn select(imap: &mut Imap, folder: &str) -> Result<u32, String> {
    let responses = imap.command(&format!("SELECT {}", quoted(folder)))?;
    Ok(responses
        .iter()
        .find_map(|r| {
            r.text
                .strip_suffix(" EXISTS")?
                .strip_prefix("* ")?
                .parse()
                .ok()
        })
        .unwrap_or(0))
}

/// The messages of `folder`, newest first.
pub fn list(imap: &mut Imap, folder: &str) -> Result<Vec<Summary>, String> {
    if select(imap, folder)? == 0 {
        return Ok(Vec::new());
    }
    let responses =
        imap.command("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")?;
    let mut summaries: Vec<Summary> = responses
        .iter()
        .filter(|r| r.text.contains(" FETCH ("))
        .filter_map(|r| {
            let uid = r
                .text
                .split("UID ")
                .nth(1)?
                .split([' ', ')'])
                .next()?
                .parse()
                .ok()?;
            let flags = r.text.split("FLAGS (").nth(1)?.split(')').next()?;
            let head = r.literals.first().map(Vec::as_slice).unwrap_or_default();
            let field = |name: &str| header(head, name).unwrap_or_default();
            Some(Summary {
                uid,
                seen: flags.contains("\\Seen"),
                from: field("From"),
                subject: field("Subject"),
                date: field("Date"),
            })
        })
        .collect();
    summaries.sort_by_key(|s| std::cmp::Reverse(s.uid));
    Ok(summaries)
}

/// The whole message; reading marks it \Seen (BODY[], not BODY.PEEK[]).
pub fn read(imap: &mut Imap, folder: &str, uid: u32) -> Result<Vec<u8>, String> {
    select(imap, folder)?;
    imap.command(&format!("UID FETCH {uid} BODY[]"))?
        .into_iter()
        .find_map(|r| r.literals.into_iter().next())
        .ok_or_else(|| format!("no message {uid} in {folder}"))
}

/// Flags it \Deleted and expunges just it (RFC 4315 UID EXPUNGE).
pub fn delete(imap: &mut Imap, folder: &str, uid: u32) -> Result<(), String> {
    select(imap, folder)?;
    imap.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))?;
    imap.command(&format!("UID EXPUNGE {uid}")).map(|_| ())
}

/// RFC 6851 UID MOVE.
pub fn move_to(imap: &mut Imap, folder: &str, uid: u32, to: &str) -> Result<(), String> {
    select(imap, folder)?;
    imap.command(&format!("UID MOVE {uid} {}", quoted(to)))
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_with_path_pieces_are_refused() {
        for bad in [
            "../../etc",
            "a/b",
            ".hidden",
            "a\\b",
            "",
            "x\u{0}",
            "*",
            "a\"b",
        ] {
            assert_eq!(folder_name(bad), None, "{bad:?}");
        }
        for good in ["INBOX", "Archive", "Surat Masuk"] {
            assert_eq!(folder_name(good), Some(good));
        }
    }
}
