//! A memory budget shared by every session: how many octets of messages may be held in memory
//! at once while they arrive.
//!
//! SMTP DATA is read into memory before the message is written to disk, so without a ceiling
//! `max_connections` clients each sending a `max_message_size` message, none of them logged in,
//! could make the server hold gigabytes. Each message reserves what it stores as it grows; once
//! the budget is spent, a message stops being stored (its client is told `452 4.3.1` at the end
//! of data and sends it again later), and the octets come back to the budget the moment the
//! message is written or dropped. Postfix never needs this, as its `cleanup` writes a message to
//! the queue file as it arrives; a budget is the smaller change for the same promise: memory has
//! a stated ceiling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// At most `limit` octets reserved at once (0: no limit).
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Octets reserved now, by every holder together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// An empty reservation that can grow within this budget.
    pub fn reservation(self: &Arc<Budget>) -> Reservation {
        Reservation {
            budget: self.clone(),
            octets: 0,
        }
    }

    fn take(&self, octets: usize) -> bool {
        if self.limit == 0 {
            self.used.fetch_add(octets, Ordering::Relaxed);
            return true;
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(octets).filter(|&sum| sum <= self.limit)
            })
            .is_ok()
    }
}

/// Octets one holder has taken from a [`Budget`]; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    octets: usize,
}

impl Reservation {
    /// Takes `octets` more; false (and nothing taken) when the budget has no room.
    pub fn grow(&mut self, octets: usize) -> bool {
        let taken = self.budget.take(octets);
        if taken {
            self.octets += octets;
        }
        taken
    }

    pub fn octets(&self) -> usize {
        self.octets
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.octets, Ordering::AcqRel);
    }
}

/// Two reservations are alike when they hold as much (so values holding one can be compared).
impl PartialEq for Reservation {
    fn eq(&self, other: &Reservation) -> bool {
        self.octets == other.octets
    }
}

impl Eq for Reservation {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_never_overdrawn_and_is_given_back_on_drop() {
        let budget = Budget::new(100);
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        assert!(a.grow(60));
        assert!(!b.grow(50), "60 + 50 > 100");
        assert!(b.grow(40));
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(b.grow(60));
        drop(b);
        assert_eq!(budget.used(), 0);
        let unlimited = Budget::new(0);
        assert!(unlimited.reservation().grow(usize::MAX / 2));
    }
}
