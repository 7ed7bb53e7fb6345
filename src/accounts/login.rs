//! Logging in: one place for the password rules every protocol shares (SMTP AUTH, POP3, IMAP).
//!
//! - **Plaintext only where it cannot be overheard** (DESIGN.md, "secrets stay secret"): a
//!   password sent in the clear (AUTH PLAIN/LOGIN, POP3 USER/PASS, IMAP LOGIN) is accepted only
//!   over TLS or from the loopback address. [`plaintext_allowed`] is the rule; each protocol
//!   asks it before offering or accepting such a login.
//! - **Same time for unknown users**: [`check_password`] runs a full Argon2 check even when the
//!   account does not exist, so timing does not tell an attacker which names are real.
//! - **Brute force slows down**: [`Throttle`] counts failures per client address; from the third
//!   one on, each further attempt waits twice as long as the one before (1 s, 2 s, 4 s, … up to
//!   [`MAX_DELAY`]). A success or 15 quiet minutes clear the count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::password;
use super::Directory;

/// May a password travel in the clear on this connection?
pub fn plaintext_allowed(peer: IpAddr, tls: bool) -> bool {
    tls || peer.is_loopback()
}

/// Checks `name`'s password. Returns the account's canonical (lower-case) name on success.
pub fn check_password(directory: &Directory, name: &str, secret: &str) -> Option<String> {
    match directory.users.get(name) {
        // A disabled account (`nologin=y`, see extra.rs) fails like a wrong password, after
        // the same work, so the reply does not tell a guesser the password was right.
        Some(user) => (password::verify(&user.password, secret)
            && !super::extra::is_disabled(user))
        .then(|| user.name.clone()),
        None => {
            // Spend the same time as a real check, then fail.
            let _ = password::verify(password::dummy_hash(), secret);
            None
        }
    }
}

/// Failures allowed before delays start.
pub const FREE_FAILURES: u32 = 2;
/// The longest a client is made to wait.
pub const MAX_DELAY: Duration = Duration::from_secs(16);
/// A client address's failures are forgotten after this long without one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// Failed logins per client address, shared by every session of the server.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// How long to wait before answering this address's next login attempt.
    pub fn delay(&self, ip: IpAddr) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&ip) {
            Some((count, last)) if *count > FREE_FAILURES && last.elapsed() < FORGET_AFTER => {
                let doublings = (count - FREE_FAILURES - 1).min(8);
                (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the table small: drop addresses that have been quiet long enough.
        if failures.len() > 10_000 {
            failures.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
        }
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Users;

    #[test]
    fn delays_grow_after_the_free_failures_and_reset_on_success() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let mut delays = Vec::new();
        for _ in 0..8 {
            throttle.failed(ip);
            delays.push(throttle.delay(ip).as_secs());
        }
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 16, 16]);
        assert_eq!(throttle.delay(other), Duration::ZERO);
        throttle.succeeded(ip);
        assert_eq!(throttle.delay(ip), Duration::ZERO);
    }

    #[test]
    fn passwords_and_plaintext_policy() {
        let directory = Directory {
            users: Users::parse("alice:{PLAIN}pw\n").unwrap(),
            ..Directory::default()
        };
        assert_eq!(
            check_password(&directory, "ALICE", "pw"),
            Some("alice".into())
        );
        assert_eq!(check_password(&directory, "alice", "nope"), None);
        assert_eq!(check_password(&directory, "mallory", "pw"), None);
        assert!(plaintext_allowed([127, 0, 0, 1].into(), false));
        assert!(!plaintext_allowed([192, 0, 2, 1].into(), false));
        assert!(plaintext_allowed([192, 0, 2, 1].into(), true));
    }
}
