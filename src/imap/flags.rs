//! IMAP system flags and their Maildir letters.
//!
//! RFC 3501 §2.3.2 names the system flags; the Maildir description stores them as letters after
//! `:2,` in the file name, in ASCII order. Keywords (`$Forwarded`, words a client invents)
//! take the lower-case letters `a`–`z`, with a table per folder (`mailbox::keywords`).
//!
//! | IMAP | letter |
//! |---|---|
//! | `\Seen` | S |
//! | `\Answered` | R (replied) |
//! | `\Flagged` | F |
//! | `\Deleted` | T (trashed) |
//! | `\Draft` | D |
//!
//! `\Recent` is not stored: it belongs to the one session that first saw the message (§2.3.2).

/// A set of system flags, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

const TABLE: [(&str, char); 5] = [
    ("\\Answered", 'R'),
    ("\\Flagged", 'F'),
    ("\\Deleted", 'T'),
    ("\\Seen", 'S'),
    ("\\Draft", 'D'),
];

pub const SEEN: Flags = Flags(1 << 3);
pub const DELETED: Flags = Flags(1 << 2);
pub const FLAGGED: Flags = Flags(1 << 1);
pub const ANSWERED: Flags = Flags(1);
pub const DRAFT: Flags = Flags(1 << 4);

impl Flags {
    /// From the letters after `:2,` (unknown letters are ignored, not lost: see `letters`).
    pub fn from_maildir(letters: &str) -> Flags {
        let mut flags = Flags(0);
        for (i, (_, letter)) in TABLE.iter().enumerate() {
            if letters.contains(*letter) {
                flags.0 |= 1 << i;
            }
        }
        flags
    }

    /// From IMAP flag names; keywords and `\Recent` are left out.
    pub fn from_names(names: &[String]) -> Flags {
        let mut flags = Flags(0);
        for name in names {
            if let Some(i) = TABLE.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
                flags.0 |= 1 << i;
            }
        }
        flags
    }

    /// The Maildir letters, keeping any letters of `old` this table does not know about.
    pub fn letters(self, old: &str) -> String {
        let mut letters: Vec<char> = old
            .chars()
            .filter(|c| !TABLE.iter().any(|(_, l)| l == c))
            .collect();
        for (i, (_, letter)) in TABLE.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                letters.push(*letter);
            }
        }
        letters.sort_unstable();
        letters.into_iter().collect()
    }

    /// `(\Seen \Flagged)` as a FETCH FLAGS value, with `\Recent` when it applies.
    pub fn list(self, recent: bool) -> String {
        let mut names: Vec<&str> = TABLE
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, (n, _))| *n)
            .collect();
        if recent {
            names.push("\\Recent");
        }
        format!("({})", names.join(" "))
    }

    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn minus(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
}

/// The system flags every folder has (RFC 3501 §7.2.6), for the FLAGS response.
pub const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// A message's file-name letters for `flags` plus the keyword letters `keywords`, keeping
/// any other letters of `old` (flags of other programs, such as `P` passed).
pub fn combine(flags: Flags, keywords: &str, old: &str) -> String {
    let others: String = old.chars().filter(|c| !c.is_ascii_lowercase()).collect();
    let mut letters: Vec<char> = flags.letters(&others).chars().collect();
    letters.extend(keywords.chars().filter(char::is_ascii_lowercase));
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// The keyword letters (`a`–`z`) among a message's letters.
pub fn keyword_letters(letters: &str) -> String {
    letters.chars().filter(char::is_ascii_lowercase).collect()
}

/// `(\Seen $Forwarded \Recent)`: a message's FLAGS value from its file-name letters and the
/// folder's keyword table.
pub fn flag_list(letters: &str, keywords: &[String], recent: bool) -> String {
    let system = Flags::from_maildir(letters).list(recent);
    let names = crate::mailbox::keywords::names_of(keywords, letters);
    if names.is_empty() {
        return system;
    }
    // A flag list is a set: the keywords simply follow.
    let inner = system.trim_start_matches('(').trim_end_matches(')');
    let mut all: Vec<&str> = inner.split(' ').filter(|s| !s.is_empty()).collect();
    all.extend(names);
    format!("({})", all.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_letters_round_trip() {
        let flags = Flags::from_maildir("FST");
        assert!(flags.has(SEEN) && flags.has(FLAGGED) && flags.has(DELETED));
        assert_eq!(flags.list(true), "(\\Flagged \\Deleted \\Seen \\Recent)");
        assert_eq!(flags.minus(DELETED).letters("Pa"), "FPSa");
        let named = Flags::from_names(&["\\seen".into(), "$Junk".into(), "\\Draft".into()]);
        assert_eq!(named.letters(""), "DS");
    }
}
