//! The journey board's live feed: transcript lines handed to whoever watches, without ever
//! holding up the mail.
//!
//! The transcript door (`src/transcript.rs`) calls [`publish`] with each line it writes, the
//! same redacted line that goes to the file `postlab watch` and `postlab trace` read: the
//! board has no second source of truth. Each watcher (one browser tab on `/events`) has its
//! own bounded queue of [`QUEUE`] lines. `publish` only ever *tries* to put a line in: when a
//! watcher's queue is full (a slow browser, a stalled network) the line is dropped for that
//! watcher and counted, and the watcher is told how many it missed. An SMTP session never
//! waits for a browser.
//!
//! With no watcher, `publish` costs one atomic load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Lines a watcher may fall behind before lines are dropped for it.
pub const QUEUE: usize = 1024;
/// Watchers at once; one more is refused (each holds a connection and a thread).
pub const MAX_WATCHERS: usize = 32;

struct Watcher {
    sender: SyncSender<Arc<str>>,
    dropped: Arc<AtomicU64>,
}

/// Every open `/events` stream in this process.
struct Bus {
    count: AtomicUsize,
    watchers: Mutex<Vec<Watcher>>,
}

static BUS: Bus = Bus::new();

/// Hands one transcript line to every watcher that has room for it. Never blocks on a
/// watcher: `try_send` only.
pub fn publish(line: &str) {
    BUS.publish(line);
}

/// One watcher's end: lines in order, and how many were dropped since it last asked.
pub struct Subscription {
    pub lines: Receiver<Arc<str>>,
    dropped: Arc<AtomicU64>,
}

impl Subscription {
    /// Lines dropped since the last call (the queue was full).
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// Starts watching, or `None` when [`MAX_WATCHERS`] already watch. Dropping the
/// subscription ends it (the next `publish` forgets it).
pub fn subscribe() -> Option<Subscription> {
    BUS.subscribe()
}

impl Bus {
    const fn new() -> Bus {
        Bus {
            count: AtomicUsize::new(0),
            watchers: Mutex::new(Vec::new()),
        }
    }

    fn publish(&self, line: &str) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let line: Arc<str> = Arc::from(line);
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        watchers.retain(|w| match w.sender.try_send(line.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                w.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
        self.count.store(watchers.len(), Ordering::Relaxed);
    }

    fn subscribe(&self) -> Option<Subscription> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        // Forget watchers whose browser went away while no line was published: their
        // subscription, which holds the other count of `dropped`, is gone.
        watchers.retain(|w| Arc::strong_count(&w.dropped) > 1);
        if watchers.len() >= MAX_WATCHERS {
            return None;
        }
        let (sender, lines) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        watchers.push(Watcher {
            sender,
            dropped: dropped.clone(),
        });
        self.count.store(watchers.len(), Ordering::Relaxed);
        Some(Subscription { lines, dropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_watcher_loses_lines_but_never_blocks_the_sender() {
        // A bus of its own: the process-wide one also carries the lines of every other test
        // that runs a session at the same time.
        let bus = Bus::new();
        let watcher = bus.subscribe().expect("room for a watcher");
        // Far more than the queue holds: publish must return every time.
        for n in 0..QUEUE * 3 {
            bus.publish(&format!("line {n}"));
        }
        let received: Vec<Arc<str>> = watcher.lines.try_iter().collect();
        assert_eq!(received.len(), QUEUE);
        assert_eq!(&*received[0], "line 0");
        assert_eq!(watcher.take_dropped(), (QUEUE * 2) as u64);
        drop(watcher);
        bus.publish("after the watcher left");
        assert_eq!(
            bus.count.load(Ordering::Relaxed),
            0,
            "the watcher is forgotten"
        );
    }

    #[test]
    fn watchers_beyond_the_limit_are_refused() {
        let bus = Bus::new();
        let held: Vec<Subscription> = (0..MAX_WATCHERS)
            .map(|_| bus.subscribe().expect("room"))
            .collect();
        assert!(bus.subscribe().is_none());
        drop(held);
        assert!(bus.subscribe().is_some(), "room again once they left");
    }
}
