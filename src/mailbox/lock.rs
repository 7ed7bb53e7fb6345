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
//!
//! The second kind, [`folder`], is short: held for the few file operations of one change to one
//! folder (a STORE, an EXPUNGE, an APPEND, POP3's moves and deletions), so that two sessions'
//! changes to the same folder happen one after the other, never interleaved. `mailbox/mod.rs`
//! explains which operations take it and why delivery does not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;

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

/// The folders (Maildir paths) being changed right now: by which thread, how many times over.
static FOLDERS_BUSY: Mutex<Vec<(PathBuf, ThreadId, usize)>> = Mutex::new(Vec::new());
static FOLDER_FREED: Condvar = Condvar::new();

/// Proof that this thread alone is changing one folder; dropping it lets the next one in.
#[derive(Debug)]
pub struct FolderLock {
    root: PathBuf,
}

/// Waits until no other thread is changing the folder at `root`, then takes it. The thread
/// that holds it may take it again (a STORE that looks a message up takes it twice); it is
/// free when every [`FolderLock`] of that thread is dropped. A thread never waits for a second
/// folder while holding one (COPY writes the target, then MOVE removes from the source, one
/// after the other), so no two threads can wait for each other. The UID list's own lock
/// (`uids`) is only ever taken inside this one, never the other way round.
pub fn folder(root: &Path) -> FolderLock {
    let me = std::thread::current().id();
    // Poisoning: the list itself is whole even if a holder panicked.
    let mut busy = FOLDERS_BUSY.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match busy.iter_mut().find(|(p, _, _)| p == root) {
            Some((_, owner, depth)) if *owner == me => {
                *depth += 1;
                break;
            }
            Some(_) => busy = FOLDER_FREED.wait(busy).unwrap_or_else(|e| e.into_inner()),
            None => {
                busy.push((root.to_path_buf(), me, 1));
                break;
            }
        }
    }
    FolderLock {
        root: root.to_path_buf(),
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let mut busy = FOLDERS_BUSY.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = busy.iter().position(|(p, _, _)| *p == self.root) {
            busy[i].2 -= 1;
            if busy[i].2 == 0 {
                busy.remove(i);
                FOLDER_FREED.notify_all();
            }
        }
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

    #[test]
    fn folder_changes_take_turns() {
        let root = PathBuf::from("/nonexistent/postlab-lock-test");
        let counter = Arc::new(Mutex::new((0, 0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (root, counter) = (root.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let _turn = folder(&root);
                        let _again = folder(&root);
                        let inside = {
                            let mut c = counter.lock().unwrap();
                            c.0 += 1;
                            c.1 = c.1.max(c.0);
                            c.0
                        };
                        assert_eq!(inside, 1, "two holders at once");
                        counter.lock().unwrap().0 -= 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.lock().unwrap().1, 1);
    }
}
