//! Web sessions as any web login should have them.
//!
//! - The session is a random 256-bit token in a cookie marked `HttpOnly` (no script reads it)
//!   and `SameSite=Strict` (no other site's page sends it; RFC 6265bis §5.4.7), `Secure` over
//!   HTTPS. It lives in memory only: a restart logs everyone out.
//! - Every form carries a CSRF token, compared in constant time; a post without the right one
//!   is refused with 403. The login form, before any session, uses the double-submit pattern:
//!   the same random value in a cookie and in the form.
//! - Log-in attempts go through the server's one login throttle (`accounts::login::Throttle`,
//!   shared with SMTP AUTH, POP3 and IMAP), keyed by the browser's address.
//! - The password is kept in memory for the IMAP and submission connections the webmail
//!   opens on the user's behalf, as a desktop mail program keeps it; never in a URL, a log
//!   line or a file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::Request;
use crate::accounts::login::check_password;
use crate::context::Shared;

pub const COOKIE: &str = "postlab_session";
pub const LOGIN_COOKIE: &str = "postlab_login";
/// Sessions at once; the oldest goes when a new one would pass this.
pub const MAX_SESSIONS: usize = 1000;
/// A session unused this long is forgotten (Roundcube's default session_lifetime is 10 minutes;
/// a lesson is longer).
pub const IDLE: Duration = Duration::from_secs(60 * 60);

/// One logged-in browser.
pub struct Session {
    pub user: String,
    pub password: String,
    pub csrf: String,
    last_used: Mutex<Instant>,
    /// The IMAP connection kept open between pages (opened again if it broke).
    pub imap: Mutex<Option<crate::mua::imap::Imap>>,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

/// 32 random octets in hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator does not fail on Linux once booted; if it ever did, an
    // all-zero token would be guessable, so stop rather than go on.
    getrandom::fill(&mut bytes).expect("the system's random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Sessions {
    /// The session a request's cookie names, if it is alive.
    pub fn get(&self, request: &Request) -> Option<Arc<Session>> {
        let id = request.cookie(COOKIE)?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let session = map.get(id)?.clone();
        let mut last = session.last_used.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() > IDLE {
            drop(last);
            map.remove(id);
            return None;
        }
        *last = Instant::now();
        drop(last);
        Some(session)
    }

    /// A new session; returns its cookie value.
    fn create(&self, user: String, password: String) -> String {
        let id = token();
        let session = Arc::new(Session {
            user,
            password,
            csrf: token(),
            last_used: Mutex::new(Instant::now()),
            imap: Mutex::new(None),
        });
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| {
            s.last_used
                .lock()
                .map(|l| l.elapsed() < IDLE)
                .unwrap_or(false)
        });
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| *s.last_used.lock().unwrap_or_else(|e| e.into_inner()))
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session);
        id
    }

    pub fn remove(&self, request: &Request) {
        if let Some(id) = request.cookie(COOKIE) {
            self.map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
    }

    /// Checks a password for `ip`, through the shared throttle; the cookie value on success.
    pub fn log_in(
        &self,
        shared: &Shared,
        ip: IpAddr,
        user: &str,
        password: &str,
    ) -> Option<String> {
        // The throttle's wait comes before the answer, as in the mail protocols.
        std::thread::sleep(shared.logins.delay(ip, user));
        let directory = shared.accounts.current();
        match check_password(&directory, user, password) {
            Some(name) => {
                shared.logins.succeeded(ip, user);
                Some(self.create(name, password.to_string()))
            }
            None => {
                shared.logins.failed(ip, user);
                None
            }
        }
    }
}

/// `Set-Cookie` for a session: not readable by script, never sent by another site's page.
pub fn cookie(name: &str, value: &str, https: bool, max_age: Option<u64>) -> String {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if https {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
        assert!(cookie(COOKIE, &a, false, None).contains("HttpOnly; SameSite=Strict"));
    }
}
