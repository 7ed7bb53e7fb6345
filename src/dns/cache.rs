//! Answers kept for their time to live: the TXT records of SPF, DKIM and DMARC, parsed.
//!
//! Every message from another server costs about five TXT lookups (the SPF records of the
//! HELO name and the sender's domain, one DKIM key per signature, the DMARC policy), and a
//! class's servers send many messages from few domains. hickory keeps the raw answers already;
//! this cache keeps them *parsed* (an RSA public key decoded from base64 and DER, an SPF
//! record split into its terms), so a message from a domain seen a moment ago costs no DNS
//! and no parsing. `src/mailauth/check.rs` hands it to mail-auth.
//!
//! Rules: an entry lives as long as the answer's TTL says (RFC 1035 section 3.2.1), never more
//! than [`MAX_TTL`] (the same 30 s as the resolver's own cache, so a teacher who edits the lab
//! zone sees the change within half a minute), and the cache holds at most [`MAX_ENTRIES`]
//! names (SECURITY.md): a sender who signs with a new selector on every message makes us keep
//! at most that many keys; when full, expired entries go first, then the one closest to
//! expiring. Answers are kept, and (for the DMARC tree walk, `src/mailauth/asked.rs`) answers
//! that a name has no record, at most 15 s; failures are not (a timeout is asked again next
//! time).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest an answer is kept, whatever its TTL.
pub const MAX_TTL: Duration = Duration::from_secs(30);

/// The longest a "no such record" answer is kept (`src/mailauth/asked.rs` keeps those of the
/// DMARC tree walk): half of [`MAX_TTL`], since the resolver's own cache may have held it for
/// the other half before (RFC 2308 section 5 would allow the SOA's minimum, often hours; a lab
/// zone changes by the minute). The resolver keeps its negative answers as long at most.
pub const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(15);

/// The most names kept. A parsed RSA-2048 key is about 600 octets, an SPF record less than its
/// text (at most a few kB): 1,024 entries stay under a few MB even when all are large.
pub const MAX_ENTRIES: usize = 1024;

/// A bounded map from a DNS name to its parsed answer, each with its expiry.
pub struct TtlCache<V> {
    entries: Mutex<HashMap<Box<str>, (V, Instant)>>,
    capacity: usize,
}

impl<V: Clone> Default for TtlCache<V> {
    fn default() -> TtlCache<V> {
        TtlCache::with_capacity(MAX_ENTRIES)
    }
}

impl<V: Clone> TtlCache<V> {
    pub fn with_capacity(capacity: usize) -> TtlCache<V> {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The answer for `name` and the name as stored, if it has not expired.
    pub fn get<Q>(&self, name: &Q) -> Option<(Box<str>, V)>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (key, (value, expires)) = entries.get_key_value(name)?;
        if *expires <= Instant::now() {
            entries.remove(name);
            return None;
        }
        Some((key.clone(), value.clone()))
    }

    pub fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(name).map(|(value, _)| value)
    }

    /// Keeps `value` for `name` until `valid_until` (at most [`MAX_TTL`] from now).
    pub fn insert(&self, name: Box<str>, value: V, valid_until: Instant) {
        let now = Instant::now();
        let expires = valid_until.min(now + MAX_TTL);
        if expires <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&name) {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(key, _)| key.clone());
                if let Some(key) = soonest {
                    entries.remove(&key);
                }
            }
        }
        entries.insert(name, (value, expires));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_with_their_ttl_and_never_later_than_the_cap() {
        let cache = TtlCache::with_capacity(8);
        let now = Instant::now();
        cache.insert("a.test.".into(), 1, now + Duration::from_secs(3600));
        cache.insert("gone.test.".into(), 2, now);
        assert_eq!(cache.get("a.test.").map(|(_, v)| v), Some(1));
        assert_eq!(cache.get("gone.test."), None);
        let (_, until) = cache.entries.lock().unwrap()["a.test."];
        assert!(until <= Instant::now() + MAX_TTL);
    }

    #[test]
    fn a_full_cache_drops_the_entry_closest_to_expiring() {
        let cache = TtlCache::with_capacity(3);
        let now = Instant::now();
        for (n, secs) in [(1, 20), (2, 5), (3, 25)] {
            cache.insert(
                format!("{n}.test.").into(),
                n,
                now + Duration::from_secs(secs),
            );
        }
        cache.insert("4.test.".into(), 4, now + Duration::from_secs(10));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("2.test."), None);
        for n in [1, 3, 4] {
            assert_eq!(cache.get(&*format!("{n}.test.")).map(|(_, v)| v), Some(n));
        }
    }
}
