//! Mailbox quotas: how much mail an account may keep (flowchart step 6, before storing).
//!
//! The limit lives in `DIR/users` as Dovecot's own quota rule in the extra fields, so the file
//! stays one Dovecot reads the same way (`postlab user quota bob 10M` writes it):
//!
//! ```text
//! bob:{ARGON2ID}$argon2id$…::::::userdb_quota_rule=*:storage=10M
//! ```
//!
//! The usage is the sum of the message sizes in `new/` and `cur/` of every folder, INBOX and
//! each Maildir++ `.Folder/` (taken from `,S=` in the file names, as Dovecot does): mail
//! copied into a folder over IMAP counts as much as mail delivered into INBOX. Every writer
//! checks it before it stores: SMTP (`mda::check_quotas`), `postlab deliver`, and IMAP APPEND,
//! COPY and MOVE (`imap::folders`, answered `NO [OVERQUOTA]`, RFC 9208 §5). A message is
//! refused with one of two RFC 3463 codes:
//!
//! - `552 5.2.2 Mailbox full` — the message alone is bigger than the whole quota: it will never
//!   fit, so the sender gets a bounce at once.
//! - `452 4.2.2 Mailbox full` — it would fit once the owner deletes mail: the sending server
//!   keeps it and tries again later (RFC 3463 §3.3: X.2.2 "mailbox full" is the temporary
//!   form when the class is 4).
//!
//! Reading and deleting (POP3 RETR and DELE) never depend on the quota, so a full mailbox can
//! always be emptied.

use std::path::Path;

use super::Maildir;
use crate::accounts::{extra, users::User};

/// The extra field Dovecot reads the limit from.
pub const FIELD: &str = "userdb_quota_rule";

/// The outcome of checking one message against one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// Over for now: usage + message > limit (452 4.2.2).
    Full {
        usage: u64,
        limit: u64,
    },
    /// Over for good: message > limit (552 5.2.2).
    TooBig {
        limit: u64,
    },
}

/// The account's limit in octets; `None` is no limit.
pub fn limit(user: &User) -> Option<u64> {
    let rule = extra::get(user, FIELD)?;
    // Dovecot's rule syntax: `MAILBOX:storage=SIZE`; postlab writes `*` (every folder).
    let size = rule
        .split(':')
        .find_map(|part| part.strip_prefix("storage="))?;
    parse_size(size).ok().filter(|&n| n > 0)
}

/// Sets or (with 0) removes the account's limit.
pub fn set_limit(user: &mut User, octets: u64) {
    let rule = (octets > 0).then(|| format!("*:storage={}", format_size(octets)));
    extra::set(user, FIELD, rule.as_deref());
}

/// `10M`, `512K`, `1G`, `2000B` or a bare number of octets. Units are powers of 1024, as in
/// Dovecot.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("'{text}' is not a size (like 10M, 512K, 1G or 0)")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is not a size (like 10M, 512K, 1G or 0)"))
}

/// The shortest exact form, always with a unit so Dovecot reads it as octets.
pub fn format_size(octets: u64) -> String {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
        if octets >= 1 << shift && octets.is_multiple_of(1 << shift) {
            return format!("{}{unit}", octets >> shift);
        }
    }
    format!("{octets}B")
}

/// What the mailbox at `root` holds now, in octets: INBOX and every folder.
pub fn usage(root: &Path) -> std::io::Result<u64> {
    if !root.exists() {
        return Ok(0);
    }
    let mut total: u64 = Maildir::create(root)?.scan()?.iter().map(|e| e.size).sum();
    for item in std::fs::read_dir(root)? {
        let path = item?.path();
        let is_folder = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            && path.join("cur").is_dir();
        if is_folder {
            total += Maildir::create(&path)?
                .scan()?
                .iter()
                .map(|e| e.size)
                .sum::<u64>();
        }
    }
    Ok(total)
}

/// Does a message of `size` octets fit into the mailbox at `root` of `user`?
pub fn fits(user: &User, root: &Path, size: u64) -> std::io::Result<Fit> {
    let Some(limit) = limit(user) else {
        return Ok(Fit::Fits);
    };
    if size > limit {
        return Ok(Fit::TooBig { limit });
    }
    let usage = usage(root)?;
    Ok(if usage + size > limit {
        Fit::Full { usage, limit }
    } else {
        Fit::Fits
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print_back() {
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("2000"), Ok(2000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10X").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(format_size(10 << 20), "10M");
        assert_eq!(format_size(2000), "2000B");
        assert_eq!(format_size(1 << 30), "1G");
    }

    #[test]
    fn the_limit_is_read_from_the_dovecot_rule() {
        let mut bob = User {
            name: "bob".into(),
            password: "{PLAIN}x".into(),
            extra: String::new(),
        };
        assert_eq!(limit(&bob), None);
        set_limit(&mut bob, 10 << 20);
        assert_eq!(bob.extra, ":::::userdb_quota_rule=*:storage=10M");
        assert_eq!(limit(&bob), Some(10 << 20));
        set_limit(&mut bob, 0);
        assert_eq!(limit(&bob), None);
    }
}
