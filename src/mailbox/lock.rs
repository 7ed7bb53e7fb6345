//! One reader at a time: the mailbox locks POP3 takes while a session holds a maildrop.
//!
//! RFC 1939 §8 lets a server refuse a second session on a maildrop that is already open, and
//! RFC 2449 §8 gives the refusal its code, `[IN-USE]`. postlab keeps these locks **in the
//! server's memory**, not as lock files in the Maildir, for two reasons:
//!
//! - a crash cannot leave a mailbox locked: the locks die with the process, so there is no
//!   stale lock file to detect, age or break by hand;
//! - every POP3 session of this data directory runs in this one process, so the process is the
//!   only place that needs to know.
//!
//! The price: a second server started on the same directory (which `postlab serve` does not
//! stop) would not see these locks. Delivery never takes the lock: Maildir lets new mail arrive
//! in `new/` while a reader works in `cur/`.
//!
//! A lock is a value ([`MailboxLock`]) that releases itself when dropped, so a session that ends
//! any way at all (QUIT, a dropped connection, a panic in its thread) frees its mailbox.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The set of mailboxes open right now, shared by every session of the server.
#[derive(Debug, Default, Clone)]
pub struct MailboxLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

/// Proof that this session holds `account`'s mailbox; dropping it lets the next one in.
#[derive(Debug)]
pub struct MailboxLock {
    account: String,
    held: Arc<Mutex<HashSet<String>>>,
}

impl MailboxLocks {
    /// Takes `account`'s mailbox, or returns `None` when another session has it.
    pub fn try_lock(&self, account: &str) -> Option<MailboxLock> {
        // A poisoned lock means a thread panicked while inserting or removing a name; the set
        // itself is still whole.
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.insert(account.to_string()).then(|| MailboxLock {
            account: account.to_string(),
            held: self.held.clone(),
        })
    }
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_waits_for_the_first_to_drop() {
        let locks = MailboxLocks::default();
        let first = locks.try_lock("bob").unwrap();
        assert!(locks.try_lock("bob").is_none());
        assert!(
            locks.try_lock("alice").is_some(),
            "other mailboxes are free"
        );
        drop(first);
        assert!(locks.try_lock("bob").is_some());
    }
}
