//! Keywords: the flags a mail client invents (`$Forwarded`, `$Junk`, `Work`), kept the way
//! Dovecot keeps them, so both servers read the same Maildir.
//!
//! A message's file name has room for letters after `:2,`. Upper-case letters are the system
//! flags (`S` seen, `F` flagged …); the 26 lower-case letters `a`–`z` stand for keywords, and
//! a small file in each folder says which keyword each letter means:
//!
//! ```text
//! mail/bob/.Work/dovecot-keywords
//! 0 $Forwarded           ← letter a
//! 1 Urgent               ← letter b
//! ```
//!
//! What can go wrong: more than 26 keywords in one folder. The 27th is not kept, and IMAP's
//! STORE still answers OK with the flags the message really has, which is how RFC 3501 §6.4.6
//! lets a server show what it kept.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use super::durable;

/// The file's name inside each folder's Maildir.
pub const FILE: &str = "dovecot-keywords";

/// Only 26 letters: `a` to `z`.
pub const MAX: usize = 26;

static LOCK: Mutex<()> = Mutex::new(());

/// The folder's keywords; the one at index 0 is letter `a`.
pub fn load(root: &Path) -> Vec<String> {
    let text = fs::read_to_string(root.join(FILE)).unwrap_or_default();
    let mut table: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some((index, name)) = line.split_once(' ') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        if index < MAX && !name.is_empty() {
            if table.len() <= index {
                table.resize(index + 1, String::new());
            }
            table[index] = name.to_string();
        }
    }
    table
}

/// The letters of `names` (case-insensitive, as IMAP compares flags). With `create`, new
/// keywords get the next free letters and the table is saved; keywords past the 26th, or
/// unknown ones without `create`, are left out.
pub fn letters_for(root: &Path, names: &[String], create: bool) -> io::Result<String> {
    if names.is_empty() {
        return Ok(String::new());
    }
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut table = load(root);
    let mut grew = false;
    let mut letters = String::new();
    for name in names {
        let index = match table.iter().position(|k| k.eq_ignore_ascii_case(name)) {
            Some(i) => i,
            None if create && table.len() < MAX => {
                table.push(name.clone());
                grew = true;
                table.len() - 1
            }
            None => continue,
        };
        letters.push((b'a' + index as u8) as char);
    }
    if grew {
        let text: String = table
            .iter()
            .enumerate()
            .filter(|(_, k)| !k.is_empty())
            .map(|(i, k)| format!("{i} {k}\n"))
            .collect();
        durable::write_atomically(&root.join(FILE), text.as_bytes())?;
    }
    Ok(letters)
}

/// The keyword names of the lower-case letters in `letters`.
pub fn names_of<'a>(table: &'a [String], letters: &str) -> Vec<&'a str> {
    letters
        .bytes()
        .filter(u8::is_ascii_lowercase)
        .filter_map(|b| table.get(usize::from(b - b'a')))
        .filter(|k| !k.is_empty())
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_get_letters_that_persist() {
        let dir = std::env::temp_dir().join(format!("postlab-keywords-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let letters = letters_for(&dir, &["$Forwarded".into(), "Urgent".into()], true).unwrap();
        assert_eq!(letters, "ab");
        assert_eq!(
            letters_for(&dir, &["urgent".into(), "new".into()], false).unwrap(),
            "b"
        );
        let table = load(&dir);
        assert_eq!(names_of(&table, "Sab"), ["$Forwarded", "Urgent"]);
        assert_eq!(
            fs::read_to_string(dir.join(FILE)).unwrap(),
            "0 $Forwarded\n1 Urgent\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
