//! Special-use folders a client made itself (RFC 6154 §3, CREATE-SPECIAL-USE): `CREATE
//! Letters (USE (\Drafts))` makes a folder that LIST shows with `\Drafts`, as it shows the four
//! folders every account starts with (`folder::SPECIAL`).
//!
//! ```text
//! mail/bob/.Letters/postlab-special-use     \Drafts
//! ```
//!
//! The uses are written in a small file inside the folder's own Maildir, so they travel with
//! the folder when it is renamed and go with it when it is deleted. Only uses a real folder
//! can have are taken: `\All` and `\Flagged` name virtual folders (every message, the flagged
//! ones) that postlab does not make, so asking for them is refused (`NO [USEATTR]`).

use std::fs;
use std::io;

use super::durable;
use super::folder::{check_name, special_use, FolderError, Folders, DELIMITER};

/// The file in a folder's Maildir that names its special uses, one a line.
const USE_FILE: &str = "postlab-special-use";

/// RFC 6154 §2's attributes a folder of real messages can carry.
pub const ASSIGNABLE: [&str; 5] = ["\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"];

/// The attribute as we spell it, if it is one a folder may be given (compared ignoring
/// case, as flags are).
pub fn assignable(attribute: &str) -> Option<&'static str> {
    ASSIGNABLE
        .iter()
        .find(|a| a.eq_ignore_ascii_case(attribute))
        .copied()
}

impl Folders {
    /// RFC 6154 §3: CREATE with `USE (…)`. The uses are checked first and the folder is made
    /// with them or not at all (§3: "MUST NOT create the mailbox").
    pub fn create_special(&self, name: &str, uses: &[&'static str]) -> Result<(), FolderError> {
        self.create(name)?;
        let name = check_name(name.strip_suffix(DELIMITER).unwrap_or(name))?;
        let text: String = uses.iter().map(|u| format!("{u}\n")).collect();
        let written =
            durable::write_atomically(&self.dir_of(&name).join(USE_FILE), text.as_bytes());
        if let Err(e) = written {
            let _ = fs::remove_dir_all(self.dir_of(&name));
            return Err(FolderError::Io(e));
        }
        Ok(())
    }

    /// The special-use attributes of an existing folder: the account's own four by name, and
    /// those given at CREATE.
    pub fn uses_of(&self, name: &str) -> Vec<&'static str> {
        let mut uses: Vec<&'static str> = special_use(name).into_iter().collect();
        let Ok(name) = check_name(name) else {
            return uses;
        };
        match fs::read_to_string(self.dir_of(&name).join(USE_FILE)) {
            Ok(text) => {
                for attribute in text.lines().filter_map(assignable) {
                    if !uses.contains(&attribute) {
                        uses.push(attribute);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Unreadable: the folder is listed without the attribute, not refused.
            Err(_) => {}
        }
        uses
    }
}
