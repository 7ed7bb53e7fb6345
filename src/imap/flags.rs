//! IMAP system flags and their Maildir letters.
//!
//! RFC 3501 §2.3.2 names the system flags; the Maildir description stores them as letters after
//! `:2,` in the file name, in ASCII order. postlab keeps no other flags: keywords (`$Junk`,
//! custom words) are accepted in STORE and APPEND and silently not kept, which PERMANENTFLAGS
//! says honestly by not listing `\*`.
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

/// The FLAGS response's list: every flag a message here can have (RFC 3501 §7.2.6).
pub const ALL_FLAGS: &str = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";

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
