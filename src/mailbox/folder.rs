//! Folders inside one account's Maildir, in the Maildir++ layout (the one Dovecot and Courier
//! use), and the rules that keep a folder name from reaching outside the account.
//!
//! ```text
//! mail/bob/                 INBOX: the Maildir itself (new/ cur/ tmp/)
//! mail/bob/.Sent/           the folder "Sent"
//! mail/bob/.Work.Reports/   the folder "Work.Reports": `.` is the hierarchy delimiter
//! mail/bob/subscriptions    subscribed folder names, one a line
//! ```
//!
//! Names travel in IMAP's modified UTF-7 (RFC 3501 §5.1.3) and are stored on disk in that same
//! form, so a file name is always printable ASCII. What can go wrong is a name that means a path:
//! `../x`, `a/b`, `~bob`, or one that only decodes to such a name (`&AC4ALgAv-` is `../`). Every
//! name passes [`check_name`] before it becomes a path, and a name that fails it is refused
//! whole: no part of the file system outside the account is ever opened for it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::durable;
use super::uids;
use super::Maildir;

/// The hierarchy delimiter of Maildir++ names (`Work.Reports`).
pub const DELIMITER: char = '.';

/// The folders every account has, with their RFC 6154 special-use attribute.
pub const SPECIAL: [(&str, &str); 4] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
];

/// A name longer than this is refused; a path component must stay well under 255 octets.
pub const MAX_NAME: usize = 200;

/// Why a folder operation failed, in words an IMAP `NO` can carry.
#[derive(Debug)]
pub enum FolderError {
    /// The name is not allowed (path characters, bad modified UTF-7, empty parts).
    BadName(&'static str),
    NotFound,
    AlreadyExists,
    /// Allowed by the syntax but not by postlab (deleting INBOX).
    Cannot(&'static str),
    Io(io::Error),
}

impl From<io::Error> for FolderError {
    fn from(e: io::Error) -> Self {
        FolderError::Io(e)
    }
}

/// Checks a folder name as a client sent it (modified UTF-7). Returns the canonical spelling:
/// `INBOX` in capitals (RFC 3501 §5.1: INBOX is case-insensitive), anything else unchanged.
pub fn check_name(name: &str) -> Result<String, FolderError> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".to_string());
    }
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(FolderError::BadName("empty or too long"));
    }
    // Only printable ASCII reaches the disk; `/` and `\` would be path separators.
    if name
        .bytes()
        .any(|b| !(0x20..0x7f).contains(&b) || b == b'/' || b == b'\\')
    {
        return Err(FolderError::BadName(
            "'/', '\\' and control characters are not allowed",
        ));
    }
    let decoded = decode_mutf7(name).ok_or(FolderError::BadName("bad modified UTF-7"))?;
    if decoded.contains(['/', '\\']) || decoded.chars().any(char::is_control) {
        return Err(FolderError::BadName("the name decodes to a path"));
    }
    if name.starts_with('~') || decoded.starts_with('~') {
        return Err(FolderError::BadName("'~' cannot start a name"));
    }
    // `a..b`, `.a` and `a.` have an empty level, and `..` would name the parent directory.
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(FolderError::BadName("empty hierarchy level"));
    }
    if name
        .split(DELIMITER)
        .next()
        .is_some_and(|top| top.eq_ignore_ascii_case("INBOX"))
    {
        return Err(FolderError::Cannot("INBOX has no sub-folders here"));
    }
    // Maildir++ would store these as `.cur/` and so on, which is safe for postlab, but a tool
    // with the other Maildir layout (one folder per level, no dot) would take them for the
    // mailbox's own tmp/, new/ and cur/: refused, so the Maildir means the same to every tool.
    if ["cur", "new", "tmp"]
        .iter()
        .any(|reserved| name.split(DELIMITER).any(|level| level == *reserved))
    {
        return Err(FolderError::BadName(
            "cur, new and tmp are the Maildir's own folders",
        ));
    }
    Ok(name.to_string())
}

/// Decodes modified UTF-7 (RFC 3501 §5.1.3): `&` starts base64 of UTF-16 (with `,` for `/`),
/// `-` ends it, `&-` is `&`. Returns `None` for anything malformed, including a shift into
/// base64 that encodes plain ASCII, which the RFC forbids.
pub fn decode_mutf7(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        rest = &after[end + 1..];
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut count = 0;
        let mut units = Vec::new();
        for c in encoded.bytes() {
            let value = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b',' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(value);
            count += 6;
            if count >= 16 {
                count -= 16;
                units.push((bits >> count) as u16);
                bits &= (1 << count) - 1;
            }
        }
        // Leftover bits must be zero padding, less than one UTF-16 unit.
        if count >= 6 || bits != 0 || units.is_empty() {
            return None;
        }
        let text = String::from_utf16(&units).ok()?;
        if text.chars().any(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(&text);
    }
    out.push_str(rest);
    Some(out)
}

/// One account's folders.
#[derive(Debug, Clone)]
pub struct Folders {
    root: PathBuf,
}

impl Folders {
    /// Opens the account's Maildir at `root`, creating it and the special-use folders (subscribed)
    /// when missing, so every client finds Sent, Drafts, Trash and Junk.
    pub fn open(root: &Path) -> io::Result<Folders> {
        uids::ensure(&Maildir::create(root)?)?;
        let folders = Folders {
            root: root.to_path_buf(),
        };
        for (name, _) in SPECIAL {
            let path = folders.dir_of(name);
            if !path.join("cur").is_dir() {
                uids::ensure(&Maildir::create(&path)?)?;
                folders
                    .set_subscribed(name, true)
                    .map_err(|e| io::Error::other(format!("{e:?}")))?;
            }
        }
        Ok(folders)
    }

    /// The Maildir of a name that passed [`check_name`].
    pub(super) fn dir_of(&self, name: &str) -> PathBuf {
        if name == "INBOX" {
            self.root.clone()
        } else {
            self.root.join(format!("{DELIMITER}{name}"))
        }
    }

    /// The Maildir of an existing folder.
    pub fn maildir(&self, name: &str) -> Result<(String, Maildir), FolderError> {
        let name = check_name(name)?;
        let dir = self.dir_of(&name);
        if !dir.join("cur").is_dir() {
            return Err(FolderError::NotFound);
        }
        Ok((name, Maildir::create(&dir)?))
    }

    /// Every folder name, INBOX first, then in name order.
    pub fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for item in fs::read_dir(&self.root)? {
            let item = item?;
            let file = item.file_name().to_string_lossy().into_owned();
            let Some(name) = file.strip_prefix(DELIMITER) else {
                continue;
            };
            if check_name(name).is_ok() && item.path().join("cur").is_dir() {
                names.push(name.to_string());
            }
        }
        names.sort();
        names.insert(0, "INBOX".to_string());
        Ok(names)
    }

    /// RFC 3501 §6.3.3 CREATE. A trailing delimiter (`Work.`) is allowed and means the same.
    pub fn create(&self, name: &str) -> Result<(), FolderError> {
        let name = check_name(name.strip_suffix(DELIMITER).unwrap_or(name))?;
        let dir = self.dir_of(&name);
        if dir.exists() {
            return Err(FolderError::AlreadyExists);
        }
        // UIDVALIDITY and UIDNEXT are given now, once (RFC 3501 §2.3.1.1).
        uids::ensure(&Maildir::create(&dir)?)?;
        Ok(())
    }

    /// RFC 3501 §6.3.4 DELETE. Sub-folders stay (they are separate Maildirs in Maildir++).
    pub fn delete(&self, name: &str) -> Result<(), FolderError> {
        let name = check_name(name)?;
        if name == "INBOX" {
            return Err(FolderError::Cannot("INBOX cannot be deleted"));
        }
        let dir = self.dir_of(&name);
        if !dir.join("cur").is_dir() {
            return Err(FolderError::NotFound);
        }
        // Rename first so no session can deliver into a half-removed folder.
        let doomed = self
            .root
            .join("tmp")
            .join(format!("deleted{}", dir_tag(&name)));
        fs::rename(&dir, &doomed)?;
        fs::remove_dir_all(&doomed)?;
        // The subscription stays: RFC 3501 §6.3.6 forbids removing a name from the list because
        // its folder is gone (a folder may be deleted and made again); LIST (SUBSCRIBED) shows
        // it as \NonExistent (RFC 5258 §3.4) until the client unsubscribes.
        durable::sync_dir(&self.root)?;
        Ok(())
    }

    /// RFC 3501 §6.3.5 RENAME, sub-folders included (`Work` → `Job` moves `Work.Old` too).
    ///
    /// Every new name, the sub-folders' included, is checked before anything moves: a
    /// sub-folder whose new name would be too long (or taken) makes the whole RENAME fail with
    /// nothing renamed, instead of a folder and its mail vanishing from every listing.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FolderError> {
        let from = check_name(from)?;
        let to = check_name(to)?;
        if to == "INBOX" {
            return Err(FolderError::AlreadyExists);
        }
        if from == "INBOX" {
            return self.rename_inbox(&to);
        }
        if !self.dir_of(&from).join("cur").is_dir() {
            return Err(FolderError::NotFound);
        }
        if self.dir_of(&to).exists() {
            return Err(FolderError::AlreadyExists);
        }
        let prefix = format!("{from}{DELIMITER}");
        let mut moves = Vec::new();
        for name in self.names()? {
            let new = if name == from {
                to.clone()
            } else if let Some(rest) = name.strip_prefix(&prefix) {
                format!("{to}{DELIMITER}{rest}")
            } else {
                continue;
            };
            if check_name(&new).is_err() {
                return Err(FolderError::Cannot(
                    "a sub-folder's new name would be too long or not allowed; nothing renamed",
                ));
            }
            if name != from && self.dir_of(&new).exists() {
                return Err(FolderError::Cannot(
                    "a sub-folder's new name is already taken; nothing renamed",
                ));
            }
            moves.push((name, new));
        }
        for (name, new) in moves {
            fs::rename(self.dir_of(&name), self.dir_of(&new))?;
        }
        durable::sync_dir(&self.root)?;
        Ok(())
    }

    /// RFC 3501 §6.3.5: renaming INBOX moves all its messages into a new folder and leaves
    /// INBOX, empty, in place. Each message keeps its file name (and so its flags).
    fn rename_inbox(&self, to: &str) -> Result<(), FolderError> {
        let target = self.dir_of(to);
        if target.exists() {
            return Err(FolderError::AlreadyExists);
        }
        Maildir::create(&target)?;
        for sub in ["new", "cur"] {
            for item in fs::read_dir(self.root.join(sub))? {
                let item = item?;
                if !item.file_name().to_string_lossy().starts_with('.') {
                    fs::rename(item.path(), target.join(sub).join(item.file_name()))?;
                }
            }
            durable::sync_dir(&target.join(sub))?;
            durable::sync_dir(&self.root.join(sub))?;
        }
        Ok(())
    }

    fn subscriptions_file(&self) -> PathBuf {
        self.root.join("subscriptions")
    }

    /// The subscribed names (RFC 3501 §6.3.6), in the order they were added.
    pub fn subscriptions(&self) -> io::Result<Vec<String>> {
        match fs::read_to_string(self.subscriptions_file()) {
            Ok(text) => Ok(text.lines().map(str::to_string).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec!["INBOX".to_string()]),
            Err(e) => Err(e),
        }
    }

    /// Adds or removes a subscription. A name need not exist to be subscribed (RFC 3501 §6.3.6).
    pub fn set_subscribed(&self, name: &str, on: bool) -> Result<(), FolderError> {
        let name = check_name(name)?;
        // Read, change, write: one edit at a time in this server, or two sessions subscribing
        // at once (each first login subscribes the special folders) would lose one's change.
        static EDIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _edit = EDIT.lock().unwrap_or_else(|e| e.into_inner());
        let mut names = self.subscriptions()?;
        let had = names.contains(&name);
        if on && !had {
            names.push(name);
        } else if !on && had {
            names.retain(|n| *n != name);
        } else {
            return Ok(());
        }
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        durable::write_atomically(&self.subscriptions_file(), text.as_bytes())?;
        Ok(())
    }
}

/// The special-use attribute of a top-level folder (RFC 6154), if it has one.
pub fn special_use(name: &str) -> Option<&'static str> {
    SPECIAL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// A name-safe, unique suffix for a folder being removed.
fn dir_tag(name: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let safe: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("-{}-{}-{safe}", now.as_nanos(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `make stress`: ten sessions of one user logging in at once each subscribe the
    /// special folders; every subscription must survive.
    #[test]
    fn concurrent_subscriptions_are_all_kept() {
        let root = std::env::temp_dir().join(format!("postlab-subs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    let folders = Folders::open(&root).unwrap();
                    folders.set_subscribed(&format!("Folder{t}"), true).unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let subscribed = Folders::open(&root).unwrap().subscriptions().unwrap();
        for t in 0..8 {
            assert!(subscribed.contains(&format!("Folder{t}")), "{subscribed:?}");
        }
        for (name, _) in SPECIAL {
            assert!(subscribed.iter().any(|s| s == name), "{subscribed:?}");
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_that_would_leave_the_maildir_are_refused() {
        for bad in [
            "..",
            "../etc",
            "a/b",
            "/etc",
            "~bob",
            "a..b",
            ".hidden",
            "Work.",
            "&AC4ALgAv-",
            "&AC8-",
            "&Jjo",
            "&AGE-",
            "\\x",
            "a\tb",
            "INBOX.x",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(check_name("inbox").unwrap(), "INBOX");
        assert_eq!(check_name("Work.Reports").unwrap(), "Work.Reports");
        assert_eq!(check_name("&ZeVnLIqe-").unwrap(), "&ZeVnLIqe-");
    }

    #[test]
    fn modified_utf7_decodes() {
        assert_eq!(decode_mutf7("&ZeVnLIqe-").unwrap(), "日本語");
        assert_eq!(decode_mutf7("Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(decode_mutf7("&AC4ALgAv-"), None); // encodes ASCII "../": forbidden
        assert_eq!(decode_mutf7("&Jjo"), None); // no closing '-'
    }
}
