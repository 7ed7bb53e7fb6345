//! Step 5's connection cache: a connection that has just delivered a message stays open a
//! moment, so the next message to the same server needs no new TCP connection, greeting, EHLO
//! and TLS handshake (on a LAN the handshake alone is most of a delivery's time).
//!
//! ```text
//!  delivery ─► 250 ─► RSET ─► 250 ─► kept (idle) ──► next message to the same destination?
//!                                        │  yes, within relay_connection_cache_time_limit:
//!                                        │     [5 RELAY] reusing connection to …; MAIL FROM …
//!                                        └─ no: the queue manager says QUIT and closes it
//! ```
//!
//! This is Postfix's connection cache (`scache`, `smtp_connection_cache_*`), with its defaults:
//! an idle connection waits at most `relay_connection_cache_time_limit` (2 s), and a connection
//! is not reused once it is `relay_connection_reuse_time_limit` (300 s) old or has carried
//! `relay_connection_reuse_count_limit` messages (0: no count limit). RFC 5321 §4.1.1.5 makes
//! RSET the way to begin again on an open session; §4.5.3.2.7 lets the server close an idle
//! one after 5 minutes, well beyond the 2 s we keep it.
//!
//! A *destination* here is what the connection was opened for: the address and port, the
//! address we sent from, the name the certificate was checked against, and the TLS policy.
//! A connection made for one never carries mail for another.
//!
//! Bounds (SECURITY.md): at most `max_outbound_per_destination` idle connections per
//! destination (no more than the queue manager opens to one domain at once), at most
//! `max_deliveries` in all (one per delivery thread). What can go wrong: the server closes
//! the idle connection (its own timeout, or `421`), or the network breaks meanwhile: the next
//! message then fails at its first command and is sent on a new connection in the same attempt
//! (`scheduler.rs`); that first reply is waited for only [`client::REUSED_REPLY_TIMEOUT`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::{Connection, Target};
use crate::config::{Config, RelayTls};

/// What a connection was opened for; only a message for the same one may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub addr: SocketAddr,
    pub source: Option<IpAddr>,
    pub host: String,
    pub tls: RelayTls,
}

impl Destination {
    pub fn of(target: &Target) -> Destination {
        Destination {
            addr: target.addr,
            source: target.source,
            host: target.host.to_ascii_lowercase(),
            tls: target.tls,
        }
    }
}

/// The settings that bound the cache, from the configuration at start.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `relay_connection_cache_time_limit`: the longest a connection waits idle; zero: no cache.
    pub idle: Duration,
    /// `relay_connection_reuse_time_limit`: not reused once this old.
    pub age: Duration,
    /// `relay_connection_reuse_count_limit`: not reused after this many messages (0: no limit).
    pub messages: u32,
    /// Idle connections per destination (`max_outbound_per_destination`).
    pub per_destination: usize,
    /// Idle connections in all (`max_deliveries`).
    pub total: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            idle: config.relay_connection_cache_time_limit,
            age: config.relay_connection_reuse_time_limit,
            messages: config.relay_connection_reuse_count_limit,
            per_destination: config.max_outbound_per_destination,
            total: config.max_deliveries,
        }
    }
}

struct Idle {
    destination: Destination,
    connection: Connection,
    since: Instant,
}

/// The idle connections, shared by every delivery thread of the queue manager.
pub struct ConnectionCache {
    limits: Limits,
    idle: Mutex<Vec<Idle>>,
}

impl ConnectionCache {
    pub fn new(limits: Limits) -> ConnectionCache {
        ConnectionCache {
            limits,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Why `connection` may not be kept after this message, or `None` when it may (the caller
    /// then says RSET and calls [`ConnectionCache::keep`]).
    pub fn refuses(&self, connection: &Connection) -> Option<String> {
        let limits = &self.limits;
        if limits.idle.is_zero() {
            return Some("relay_connection_cache_time_limit = 0".into());
        }
        if limits.messages > 0 && connection.messages >= limits.messages {
            return Some(format!(
                "it carried {} messages (relay_connection_reuse_count_limit)",
                connection.messages
            ));
        }
        if connection.opened.elapsed() >= limits.age {
            return Some(format!(
                "it is {} s old (relay_connection_reuse_time_limit)",
                connection.opened.elapsed().as_secs()
            ));
        }
        None
    }

    /// Keeps `connection` for the next message to `destination`; gives it back (`Some`) when
    /// the cache is full for it.
    pub fn keep(&self, destination: Destination, connection: Connection) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let same = idle.iter().filter(|i| i.destination == destination).count();
        if same >= self.limits.per_destination || idle.len() >= self.limits.total {
            return Some(connection);
        }
        idle.push(Idle {
            destination,
            connection,
            since: Instant::now(),
        });
        None
    }

    /// An idle connection to `destination` that has not waited too long, the most recently
    /// used first (the least likely to have been closed by the server); and how long it waited.
    pub fn take(&self, destination: &Destination) -> Option<(Connection, Duration)> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let found = idle
            .iter()
            .enumerate()
            .filter(|(_, i)| &i.destination == destination && i.since.elapsed() < self.limits.idle)
            .max_by_key(|(_, i)| i.since)
            .map(|(n, _)| n)?;
        let taken = idle.swap_remove(found);
        Some((taken.connection, taken.since.elapsed()))
    }

    /// Takes out the connections that waited longer than the time limit, for the caller to
    /// close (QUIT may wait for the server: not under this lock).
    pub fn expired(&self) -> Vec<(Destination, Connection)> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let mut expired = Vec::new();
        let mut n = 0;
        while n < idle.len() {
            if idle[n].since.elapsed() >= self.limits.idle {
                let gone = idle.swap_remove(n);
                expired.push((gone.destination, gone.connection));
            } else {
                n += 1;
            }
        }
        expired
    }

    /// How many connections are idle now.
    pub fn len(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
