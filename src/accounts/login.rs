//! Logging in: one place for the password rules every protocol shares (SMTP AUTH, POP3, IMAP).
//!
//! - **Plaintext only where it cannot be overheard** (DESIGN.md, "secrets stay secret"): a
//!   password sent in the clear (AUTH PLAIN/LOGIN, POP3 USER/PASS, IMAP LOGIN) is accepted only
//!   over TLS or from the loopback address. [`plaintext_allowed`] is the rule; each protocol
//!   asks it before offering or accepting such a login.
//! - **Same time for unknown users**: [`check_password`] runs a full Argon2 check even when the
//!   account does not exist, so timing does not tell an attacker which names are real.
//! - **Brute force slows down**: [`Throttle`] counts failures per client address and per
//!   account; from the third one on, each further attempt waits twice as long as the one before
//!   (1 s, 2 s, 4 s, … up to [`MAX_DELAY`]). A success clears only the failures against its own
//!   account; 15 quiet minutes clear everything.

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
/// Failures are forgotten after this long without a new one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Names counted separately per client address; a client that tries more names than this
/// (spraying) has the rest counted together, so its table stays small. With
/// [`MAX_REMEMBERED`] clients, the tables hold at most about 10,000 × 9 names: under 10 MB.
pub const NAMES_PER_CLIENT: usize = 8;
/// Client addresses and account names remembered at most (each table).
pub const MAX_REMEMBERED: usize = 10_000;

/// A count of failed logins and when the last one was.
#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn fresh(&self) -> bool {
        self.last.elapsed() < FORGET_AFTER
    }
}

/// The wait for `count` recent failures: none for the free ones, then 1 s, 2 s, 4 s, … up to
/// [`MAX_DELAY`].
fn delay_for(count: u32) -> Duration {
    if count <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES - 1).min(8);
    (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_DELAY)
}

/// Failed logins, shared by every session of the server, counted two ways:
///
/// - **per client address**, split by the account name tried: the client's count is the sum
///   over the names, so guessing at many accounts from one address slows down;
/// - **per account name**, from any address: guessing one account's password from many
///   addresses slows down too.
///
/// A correct login clears only what was counted against *that* account (from this client, and
/// in the account's own count). It used to clear the client's whole count, so a student with
/// one account could guess another's password at full speed by logging in as herself every
/// second try (issue 14). The wait is the larger of the two counts' waits.
#[derive(Default)]
pub struct Throttle {
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_client: HashMap<IpAddr, HashMap<String, Failures>>,
    by_account: HashMap<String, Failures>,
}

impl Tables {
    fn client_count(&self, ip: IpAddr) -> u32 {
        self.by_client
            .get(&ip)
            .map(|names| names.values().filter(|f| f.fresh()).map(|f| f.count).sum())
            .unwrap_or(0)
    }

    fn account_count(&self, name: &str) -> u32 {
        match self.by_account.get(name) {
            Some(f) if f.fresh() => f.count,
            _ => 0,
        }
    }

    /// Keeps both tables bounded: forget what is old; if that is not enough, stop adding.
    fn make_room(&mut self) {
        if self.by_client.len() >= MAX_REMEMBERED {
            self.by_client.retain(|_, names| {
                names.retain(|_, f| f.fresh());
                !names.is_empty()
            });
        }
        if self.by_account.len() >= MAX_REMEMBERED {
            self.by_account.retain(|_, f| f.fresh());
        }
    }
}

fn bump(failures: &mut Failures) {
    if !failures.fresh() {
        failures.count = 0;
    }
    failures.count = failures.count.saturating_add(1);
    failures.last = Instant::now();
}

/// Account names compare without case, as `Users::get` does.
fn key(account: &str) -> String {
    account.to_ascii_lowercase()
}

impl Throttle {
    /// How long to wait before answering a login attempt from `ip` as `account`.
    pub fn delay(&self, ip: IpAddr, account: &str) -> Duration {
        let tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let count = tables
            .client_count(ip)
            .max(tables.account_count(&key(account)));
        delay_for(count)
    }

    /// The wait from the client's count alone, for a protocol that must decide before it
    /// knows the name (IMAP sets it before reading the command).
    pub fn client_delay(&self, ip: IpAddr) -> Duration {
        let tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        delay_for(tables.client_count(ip))
    }

    pub fn failed(&self, ip: IpAddr, account: &str) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.make_room();
        let account = key(account);
        let fresh = Failures {
            count: 0,
            last: Instant::now(),
        };
        if tables.by_client.len() < MAX_REMEMBERED || tables.by_client.contains_key(&ip) {
            let names = tables.by_client.entry(ip).or_default();
            let slot = if names.len() < NAMES_PER_CLIENT || names.contains_key(&account) {
                account.clone()
            } else {
                // Past the limit, further names share one count (an empty name is never an
                // account, so a success never clears it).
                String::new()
            };
            bump(names.entry(slot).or_insert(fresh));
        }
        if tables.by_account.len() < MAX_REMEMBERED || tables.by_account.contains_key(&account) {
            bump(tables.by_account.entry(account).or_insert(fresh));
        }
    }

    /// A correct login: forget the failures against this account only.
    pub fn succeeded(&self, ip: IpAddr, account: &str) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let account = key(account);
        tables.by_account.remove(&account);
        if let Some(names) = tables.by_client.get_mut(&ip) {
            names.remove(&account);
            if names.is_empty() {
                tables.by_client.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Users;

    #[test]
    fn delays_grow_after_the_free_failures() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let mut delays = Vec::new();
        for _ in 0..8 {
            throttle.failed(ip, "bob");
            delays.push(throttle.delay(ip, "bob").as_secs());
        }
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 16, 16]);
        // Another address trying bob waits too (the account's count); other accounts do not.
        assert_eq!(throttle.delay(other, "BOB").as_secs(), 16);
        assert_eq!(throttle.delay(other, "carol"), Duration::ZERO);
        // The same address trying another account waits (the client's count).
        assert_eq!(throttle.delay(ip, "carol").as_secs(), 16);
        throttle.succeeded(ip, "bob");
        assert_eq!(throttle.delay(ip, "bob"), Duration::ZERO);
    }

    /// Issue 14, finding 4: logging in as yourself must not wipe out failures against another.
    #[test]
    fn a_success_clears_only_its_own_account() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..4 {
            throttle.failed(ip, "bob");
        }
        throttle.failed(ip, "alice");
        throttle.succeeded(ip, "alice");
        assert_eq!(throttle.delay(ip, "bob").as_secs(), 2);
        assert_eq!(
            throttle.delay(ip, "alice").as_secs(),
            2,
            "the client's count"
        );
    }

    #[test]
    fn a_client_spraying_names_keeps_its_table_small() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        for i in 0..1000 {
            throttle.failed(ip, &format!("user{i}"));
        }
        let tables = throttle.tables.lock().unwrap();
        assert!(tables.by_client[&ip].len() <= NAMES_PER_CLIENT + 1);
        assert_eq!(tables.client_count(ip), 1000);
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
