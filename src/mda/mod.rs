//! The mail delivery agent: puts a message into local mailboxes (flowchart steps 3 → 6).
//!
//! For each local account the message goes to, the MDA writes one file into that account's
//! Maildir (`DIR/mail/NAME/`), with two header fields on top of what the client sent:
//!
//! ```text
//! Return-Path: <alice@example.org>          ← the envelope sender, added at final delivery
//! Received: from laptop (…) by mx.test …    ← added by our SMTP server when it took the message
//! (the client's headers and body, byte for byte)
//! ```
//!
//! RFC 5321 §4.4: the server that makes final delivery inserts `Return-Path` with the envelope
//! sender, so the reader knows where bounces would have gone.
//!
//! All copies are staged (written and synced in `tmp/`) before any is committed into `new/`,
//! so a failure part-way leaves no recipient with a copy and the client can retry the whole
//! message without duplicates.

use std::io;
use std::path::{Path, PathBuf};

use crate::mailbox::maildir::Staged;
use crate::mailbox::Maildir;
use crate::mta::message::Message;

/// What became of a delivery.
#[derive(Debug)]
pub enum Outcome {
    /// In every mailbox: (account, file written).
    Delivered(Vec<(String, PathBuf)>),
    /// Failed now, may work later (disk full, I/O error): the client should retry.
    Transient(Failure),
    /// Will never work as it is.
    Permanent(String),
}

/// Why a transient failure happened, so the SMTP side can choose 452 or 451.
#[derive(Debug)]
pub enum Failure {
    /// No space left (452 4.3.1).
    StorageFull(String),
    /// Any other local error (451 4.3.0).
    Io(String),
    /// The account's quota (`src/mailbox/quota.rs`): `permanent` when the message alone is
    /// bigger than the quota (552 5.2.2), else full for now (452 4.2.2).
    OverQuota { permanent: bool, text: String },
}

/// Checks every local recipient's quota before anything is written. One full mailbox refuses
/// the message for all its recipients: after DATA, SMTP has a single reply for the whole
/// envelope (RFC 5321 §4.2.5), so the sender tries again or bounces for everyone.
pub fn check_quotas(
    mail_root: &Path,
    directory: &crate::accounts::Directory,
    message: &Message,
) -> Result<(), Failure> {
    use crate::mailbox::quota::{self, Fit};
    let size = (message.received.len() + message.content.len()) as u64;
    for account in message.envelope.local_accounts() {
        let Some(user) = directory.users.get(account) else {
            continue;
        };
        let fit = quota::fits(user, &maildir_path(mail_root, account), size)
            .map_err(|e| failure(account, e))?;
        match fit {
            Fit::Fits => {}
            Fit::Full { usage, limit } => {
                return Err(Failure::OverQuota {
                    permanent: false,
                    text: format!(
                        "mailbox of {account} is full: {usage} + {size} octets over its quota of {limit}"
                    ),
                })
            }
            Fit::TooBig { limit } => {
                return Err(Failure::OverQuota {
                    permanent: true,
                    text: format!(
                        "message of {size} octets is bigger than the whole quota of {account} ({limit})"
                    ),
                })
            }
        }
    }
    Ok(())
}

/// Where an account's Maildir lives: `DIR/mail/NAME/`.
pub fn maildir_path(mail_root: &Path, account: &str) -> PathBuf {
    mail_root.join(account)
}

/// Delivers `message` into the Maildir of each local account in its envelope.
pub fn deliver(mail_root: &Path, hostname: &str, message: &Message) -> Outcome {
    if message.envelope.local_accounts().is_empty() {
        return Outcome::Permanent("no local recipients".into());
    }
    match stage(mail_root, hostname, message).and_then(commit) {
        Ok(delivered) => Outcome::Delivered(delivered),
        Err(failure) => Outcome::Transient(failure),
    }
}

/// Writes and syncs one copy per local account in `tmp/`, invisible until [`commit`]. If any
/// copy fails, the ones already written are removed.
pub fn stage(
    mail_root: &Path,
    hostname: &str,
    message: &Message,
) -> Result<Vec<(String, Staged)>, Failure> {
    let return_path = format!("Return-Path: {}\r\n", message.envelope.from);
    let parts: [&[u8]; 3] = [
        return_path.as_bytes(),
        message.received.as_bytes(),
        &message.content,
    ];
    let accounts = message.envelope.local_accounts();
    let mut staged = Vec::with_capacity(accounts.len());
    for account in accounts {
        // DMARC quarantine (src/mailauth/) files the copy into the account's Junk folder.
        let mut path = maildir_path(mail_root, account);
        if message.junk {
            path.push(".Junk");
        }
        let result = Maildir::create(&path).and_then(|maildir| maildir.stage(&parts, hostname));
        match result {
            Ok(file) => staged.push((account.to_string(), file)),
            Err(e) => {
                abort(staged);
                return Err(failure(account, e));
            }
        }
    }
    Ok(staged)
}

/// Makes staged copies visible in `new/`.
pub fn commit(staged: Vec<(String, Staged)>) -> Result<Vec<(String, PathBuf)>, Failure> {
    let mut delivered = Vec::with_capacity(staged.len());
    let mut staged = staged.into_iter();
    while let Some((account, file)) = staged.next() {
        match file.commit() {
            Ok(path) => delivered.push((account, path)),
            // A rename inside one folder failing after the data is on disk is close to
            // impossible; if it happens, earlier copies are already visible, so retrying is the
            // lesser harm (a duplicate rather than a loss). The copies not yet committed go.
            Err(e) => {
                abort(staged.collect());
                return Err(failure(&account, e));
            }
        }
    }
    Ok(delivered)
}

/// Removes staged copies.
pub fn abort(staged: Vec<(String, Staged)>) {
    for (_, file) in staged {
        file.abort();
    }
}

fn failure(account: &str, e: io::Error) -> Failure {
    let text = format!("mailbox of {account}: {e}");
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Failure::StorageFull(text),
        _ => Failure::Io(text),
    }
}
