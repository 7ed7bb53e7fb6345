//! Names for sessions and messages.
//!
//! Every message gets a *queue id* at `MAIL FROM` (the way Postfix names its queue files); it
//! travels in the `Received:` header, in each transcript line about the message, and is what
//! `postlab trace ID` looks for. Every connection gets a *session id* that names its transcript.
//!
//! Both come from one counter: microseconds since 1970, bumped by one whenever two callers ask in
//! the same microsecond. They are therefore unique within one server, increase with time (so they
//! sort in arrival order), and do not repeat across restarts unless the clock goes backwards.
//! Queue ids are upper-case hex (`19A3C4F2B8D10`), session ids lower-case with an `s` in front
//! (`s19a3c4f2b8d0f`), so the two can never be confused in a transcript.

use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

static LAST: Mutex<u64> = Mutex::new(0);

fn next_tick() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    // A poisoned lock only means another thread panicked while holding a plain u64; the value
    // is still good.
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    *last = now.max(*last + 1);
    *last
}

/// The name of one message from `MAIL FROM` on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(String);

impl QueueId {
    pub fn new() -> QueueId {
        QueueId(format!("{:X}", next_tick()))
    }

    /// Accepts what `new` makes: 10 to 32 upper-case hex digits (so an id from the command line
    /// can safely become part of a file name, and `C:` in a transcript is never taken for one).
    pub fn parse(text: &str) -> Option<QueueId> {
        let ok = (10..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        ok.then(|| QueueId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for QueueId {
    fn default() -> Self {
        QueueId::new()
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of one client connection (and of its transcript file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn new() -> SessionId {
        SessionId(format!("s{:x}", next_tick()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SessionId {
    fn default() -> Self {
        SessionId::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_increasing_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| QueueId::new()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            let ids = h.join().unwrap();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids increase within a thread"
            );
            for id in ids {
                assert!(all.insert(id), "no id is handed out twice");
            }
        }
    }

    #[test]
    fn parse_accepts_only_queue_id_shapes() {
        let id = QueueId::new();
        assert_eq!(QueueId::parse(id.as_str()), Some(id));
        assert_eq!(QueueId::parse("../etc"), None);
        assert_eq!(QueueId::parse(""), None);
        assert_eq!(QueueId::parse("abc"), None);
    }
}
