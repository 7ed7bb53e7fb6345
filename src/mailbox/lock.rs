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

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{Thread, ThreadId};

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

/// A folder being changed right now (or just let go, with threads still waiting for it): by
/// which thread, how many times over, and the threads waiting, first come first woken.
struct Busy {
    root: PathBuf,
    owner: Option<ThreadId>,
    depth: usize,
    waiting: VecDeque<Thread>,
}

/// The folders (Maildir paths) being changed right now.
static FOLDERS_BUSY: Mutex<Vec<Busy>> = Mutex::new(Vec::new());

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
///
/// A release wakes one waiting thread, the one that has waited longest, not every thread
/// waiting: with fifty sessions storing flags in one folder, waking them all at each release
/// cost more than the changes. The folder is not handed to it: a thread that comes along
/// while it wakes up may take the folder first (the woken one then waits at the head of the
/// queue again), so the folder never stands idle waiting for a thread to be scheduled.
pub fn folder(root: &Path) -> FolderLock {
    let me = std::thread::current();
    // Poisoning: the list itself is whole even if a holder panicked.
    let mut busy = FOLDERS_BUSY.lock().unwrap_or_else(|e| e.into_inner());
    let mut woken = false;
    loop {
        let Some(b) = busy.iter_mut().find(|b| b.root == root) else {
            busy.push(Busy {
                root: root.to_path_buf(),
                owner: Some(me.id()),
                depth: 1,
                waiting: VecDeque::new(),
            });
            break;
        };
        match b.owner {
            None => {
                b.owner = Some(me.id());
                b.depth = 1;
                break;
            }
            Some(owner) if owner == me.id() => {
                b.depth += 1;
                break;
            }
            Some(_) => {
                // `park` may also return for no reason: a thread still in the queue stays
                // where it is; one that was woken and lost the race goes back to the head.
                if !b.waiting.iter().any(|t| t.id() == me.id()) {
                    if woken {
                        b.waiting.push_front(me.clone());
                    } else {
                        b.waiting.push_back(me.clone());
                    }
                }
                drop(busy);
                std::thread::park();
                woken = true;
                busy = FOLDERS_BUSY.lock().unwrap_or_else(|e| e.into_inner());
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
        let Some(i) = busy.iter().position(|b| b.root == self.root) else {
            return;
        };
        let b = &mut busy[i];
        b.depth -= 1;
        if b.depth > 0 {
            return;
        }
        b.owner = None;
        match b.waiting.pop_front() {
            Some(next) => next.unpark(),
            None => {
                busy.remove(i);
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

    #[test]
    fn waiters_get_the_folder_in_the_order_they_came() {
        let root = PathBuf::from("/nonexistent/postlab-lock-order");
        let queued = |n: usize| {
            let busy = FOLDERS_BUSY.lock().unwrap();
            busy.iter()
                .find(|b| b.root == root)
                .is_some_and(|b| b.waiting.len() == n)
        };
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = folder(&root);
        let mut threads = Vec::new();
        for who in 0..4 {
            let (root, order) = (root.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _turn = folder(&root);
                order.lock().unwrap().push(who);
            }));
            // The next one starts only once this one waits in the queue.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !queued(who + 1) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "waiter {who} never queued"
                );
                std::thread::yield_now();
            }
        }
        drop(first);
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        assert!(!FOLDERS_BUSY.lock().unwrap().iter().any(|b| b.root == root));
    }
}
