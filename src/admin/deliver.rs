//! `postlab deliver`: a local delivery agent another mail server can call (flowchart step 6).
//!
//! Postfix (or any MTA) hands one message on stdin and names the account; postlab writes it
//! into that account's Maildir with the same tmp/ → fsync → new/ steps the SMTP server uses:
//!
//! ```text
//! # Postfix main.cf, every local user's mail into postlab's Maildirs:
//! mailbox_command = /usr/local/bin/postlab deliver --data /var/lib/postlab --user "$USER"
//! ```
//!
//! Two header fields go on top: `Return-Path:` with the envelope sender (RFC 5321 §4.4: added
//! at final delivery; from `--from`, else the `SENDER` variable Postfix's local(8) sets), and
//! `Delivered-To:` with the recipient (the field Postfix and qmail add, so a loop through
//! forwarding can be seen). A message from a pipe ends its lines in LF; they are stored CRLF,
//! as everything in postlab's Maildirs is.
//!
//! The exit code is what the calling MTA acts on (`sysexits.h`): 0 delivered; 64 EX_USAGE (also
//! for a sender or recipient that is not an address: they go into header fields);
//! 67 EX_NOUSER, which Postfix turns into a bounce; 75 EX_TEMPFAIL (disk full, an I/O error, an
//! unreadable users file, a mailbox over its quota), which makes it keep the message and try
//! again later; 65 EX_DATAERR for a message bigger than max_message_size or the whole quota.

use std::io::Read;

use crate::accounts::Users;
use crate::config::Config;
use crate::datadir::DataDir;
use crate::mailbox::quota::{self, Fit};
use crate::mailbox::Maildir;
use crate::mda;

pub const EX_OK: i32 = 0;
pub const EX_USAGE: i32 = 64;
pub const EX_DATAERR: i32 = 65;
pub const EX_NOUSER: i32 = 67;
pub const EX_TEMPFAIL: i32 = 75;

/// `postlab deliver --user NAME [--from ADDR] [--data DIR] < message`
pub fn main(args: &[String]) -> i32 {
    let mut opts = super::options();
    opts.optopt("", "user", "the account to deliver to", "NAME");
    opts.optopt(
        "",
        "from",
        "the envelope sender (default: $SENDER, as Postfix sets it)",
        "ADDR",
    );
    let brief = "usage: postlab deliver --user NAME [--from ADDR] [--data DIR] < message\n\n\
                 Deliver one message from stdin into NAME's Maildir (an MDA for Postfix).\n\
                 Exit codes: 0 delivered, 64 usage, 67 no such user, 75 try again later.";
    let m = match super::parse(&opts, args, brief, EX_USAGE) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let Some(user) = m.opt_str("user").filter(|_| m.free.is_empty()) else {
        eprint!("{}", opts.usage(brief));
        return EX_USAGE;
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let sender = m.opt_str("from").or_else(|| std::env::var("SENDER").ok());
    let recipient = std::env::var("RECIPIENT").ok().filter(|r| !r.is_empty());
    // Both go into header fields: a CR or LF in them would add header lines of the caller's
    // choosing (issue 14). Only what SMTP allows as an address is written.
    let sender = match sender.as_deref().map(header_address).transpose() {
        Ok(sender) => sender,
        Err(e) => {
            eprintln!("postlab deliver: the sender (--from or $SENDER) {e}");
            return EX_USAGE;
        }
    };
    let recipient = match recipient.as_deref().map(header_address).transpose() {
        Ok(recipient) => recipient,
        Err(e) => {
            eprintln!("postlab deliver: $RECIPIENT {e}");
            return EX_USAGE;
        }
    };
    let (code, message) = deliver(&data, &user, sender.as_deref(), recipient.as_deref());
    if code != EX_OK {
        eprintln!("postlab deliver: {message}");
    }
    code
}

/// Reads stdin and delivers it. Returns the exit code and what to say about it.
fn deliver(
    data: &DataDir,
    user: &str,
    sender: Option<&str>,
    recipient: Option<&str>,
) -> (i32, String) {
    let users = match Users::load(&data.users()) {
        Ok(users) => users,
        Err(e) => return (EX_TEMPFAIL, format!("cannot read the accounts: {e}")),
    };
    let Some(account) = users.get(user) else {
        return (
            EX_NOUSER,
            format!("no account {user} in {}", data.users().display()),
        );
    };
    let mut config = Config::defaults();
    if let Ok(text) = std::fs::read_to_string(data.config()) {
        // A broken file is `postlab check`'s business; delivery goes on with the defaults.
        let _ = config.apply_file(&text);
    }
    let config = config.finish();

    let mut raw = Vec::new();
    let limit = config.max_message_size as u64;
    if let Err(e) = std::io::stdin().take(limit + 1).read_to_end(&mut raw) {
        return (EX_TEMPFAIL, format!("cannot read the message: {e}"));
    }
    if raw.len() as u64 > limit {
        // EX_DATAERR would bounce it too, but Postfix reports 67/EX_NOUSER and 65 alike as
        // permanent; say why in the text.
        return (
            EX_DATAERR,
            format!("message over max_message_size ({limit} octets)"),
        );
    }
    let content = crlf(&raw);
    let mut head = String::new();
    if let Some(sender) = sender {
        head.push_str(&format!("Return-Path: <{sender}>\r\n"));
    }
    let to = recipient
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}@{}", account.name, config.hostname));
    head.push_str(&format!("Delivered-To: {to}\r\n"));

    let path = mda::maildir_path(&data.mail(), &account.name);
    let size = (head.len() + content.len()) as u64;
    match quota::fits(account, &path, size) {
        Ok(Fit::Fits) => {}
        Ok(Fit::Full { usage, limit }) => {
            return (
                EX_TEMPFAIL,
                format!(
                    "mailbox of {} is full ({usage} of {limit} octets)",
                    account.name
                ),
            )
        }
        Ok(Fit::TooBig { limit }) => {
            return (
                EX_DATAERR,
                format!(
                    "message bigger than the whole quota of {} ({limit} octets)",
                    account.name
                ),
            )
        }
        Err(e) => {
            return (
                EX_TEMPFAIL,
                format!("cannot measure {}: {e}", path.display()),
            )
        }
    }
    let result = Maildir::create(&path)
        .and_then(|maildir| maildir.deliver(&[head.as_bytes(), &content], &config.hostname));
    match result {
        Ok(file) => (EX_OK, format!("delivered to {}", file.display())),
        Err(e) => (
            EX_TEMPFAIL,
            format!(
                "cannot write into {}: {e} (the MTA will try again)",
                path.display()
            ),
        ),
    }
}

/// An address for a header field: `local@domain` or `<local@domain>` as SMTP allows it
/// (RFC 5321 §4.1.2, UTF-8 by RFC 6531), or empty / `<>` for the null sender of a bounce.
/// Gives it without brackets.
fn header_address(text: &str) -> Result<String, String> {
    let bare = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    if bare.is_empty() {
        return Ok(String::new());
    }
    match crate::address::parse_mailbox(bare, true) {
        Ok(address) => Ok(address.to_string()),
        Err(_) if bare.eq_ignore_ascii_case("postmaster") => Ok(bare.to_string()),
        Err(e) => Err(format!("{text:?} is not an address ({e:?})")),
    }
}

/// Lines ending in a lone LF get CR LF; lines that already end in CR LF stay.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut previous = 0u8;
    for &byte in raw {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{crlf, header_address};

    #[test]
    fn only_addresses_reach_the_header() {
        assert_eq!(header_address("<a@b.test>").unwrap(), "a@b.test");
        assert_eq!(header_address("a@b.test").unwrap(), "a@b.test");
        assert_eq!(header_address("").unwrap(), "");
        assert_eq!(header_address("<>").unwrap(), "");
        for bad in [
            "a@b.test\r\nBcc: x@y.test",
            "a@b.test\nX: y",
            "a b",
            "<a@b.test",
        ] {
            assert!(header_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn line_endings_become_crlf_once() {
        assert_eq!(crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b""), b"");
    }
}
