//! The state every session shares, one floor below the protocols.
//!
//! `postlab serve` (`src/serve.rs`) builds one [`Shared`] at start and hands an `Arc` of it to
//! every connection thread and to the queue manager. The SMTP, POP3 and IMAP servers and the
//! MTA (steps 3–5) take it from here and never reach back into the listener or the signal
//! handling, so each can be read on its own: this file is the whole of what they share.
//!
//! What is in it: the settings (a snapshot per session, replaced by SIGHUP), the data
//! directory, accounts and the login throttle, the outbound queue and its wake-up, TLS, the
//! resolver for step 4, faults on purpose, the POP3 mailbox locks, the registry of open
//! sessions (so a stop can reach them) and the load (how many connections, the busy clocks).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use crate::accounts::login::Throttle;
use crate::accounts::Accounts;
use crate::budget::Budget;
use crate::config::Config;
use crate::datadir::DataDir;
use crate::dns::Resolve;
use crate::faults::FaultFile;
use crate::mailbox::lock::MailboxLocks;
use crate::mta::queue::Queue;
use crate::pace::Load;
use crate::sessions::Sessions;
use crate::tls::ServerTls;

/// What every connection thread shares.
pub struct Shared {
    /// The settings at start: what the listeners, the queue manager and the resolver use.
    pub config: Arc<Config>,
    /// The settings a session starting now uses; SIGHUP replaces them (`src/daemon.rs`).
    session_config: RwLock<Arc<Config>>,
    pub data: DataDir,
    pub accounts: Accounts,
    /// Failed logins per client address, for every protocol.
    pub logins: Throttle,
    /// The outbound queue, `DIR/queue/`.
    pub queue: Queue,
    /// Set when new mail is queued, so the queue manager looks at once.
    queue_wake: (Mutex<bool>, Condvar),
    /// Where our own listeners are, by service name (`smtp`, `imaps` …).
    listeners: Vec<(&'static str, SocketAddr)>,
    /// The certificate and TLS acceptor every listener shares (STARTTLS, SMTPS). `postlab serve`
    /// always sets it up or refuses to start; `None` means a server without TLS.
    pub tls: Option<Arc<ServerTls>>,
    /// Step 4: MX lookups (`dns_server`, else the system's resolver).
    pub resolver: Arc<dyn Resolve>,
    /// Faults on purpose, `DIR/faults` (see faults.rs).
    pub faults: FaultFile,
    /// Mailboxes open in a POP3 session (one at a time, RFC 2449 §8 `[IN-USE]`).
    pub pop3_locks: MailboxLocks,
    /// Every open session, so SIGTERM can say goodbye to each (`src/daemon.rs`).
    pub sessions: Sessions,
    /// Octets of SMTP DATA all sessions may hold in memory at once (`src/budget.rs`).
    pub data_budget: Arc<Budget>,
    /// How many connections are open, and the busy clocks (`src/pace.rs`).
    pub load: Arc<Load>,
    /// Open connections per client address (for `max_connections_per_ip`).
    pub per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Shared {
    /// The shared state for a server with these parts; the load, the session registry, the
    /// locks and the login throttle start empty.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        data: DataDir,
        accounts: Accounts,
        queue: Queue,
        tls: Option<Arc<ServerTls>>,
        resolver: Arc<dyn Resolve>,
        faults: FaultFile,
        listeners: Vec<(&'static str, SocketAddr)>,
    ) -> Shared {
        let load = Arc::new(Load::new(
            config.max_connections,
            config.busy_timeout,
            config.min_data_rate,
        ));
        let config = Arc::new(config);
        Shared {
            data_budget: Budget::new(config.max_data_memory),
            session_config: RwLock::new(config.clone()),
            config,
            data,
            accounts,
            logins: Throttle::default(),
            queue,
            queue_wake: (Mutex::new(false), Condvar::new()),
            listeners,
            tls,
            resolver,
            faults,
            pop3_locks: MailboxLocks::default(),
            sessions: Sessions::default(),
            load,
            per_ip: Mutex::new(HashMap::new()),
        }
    }

    /// The settings for a session starting now (read once, at its start).
    pub fn session_config(&self) -> Arc<Config> {
        self.session_config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// SIGHUP: sessions that start from now on use `config`.
    pub fn set_session_config(&self, config: Arc<Config>) {
        *self
            .session_config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Is `addr` one of this server's SMTP listeners? (An MX pointing at ourselves is a loop.)
    pub fn is_own_smtp_address(&self, addr: SocketAddr) -> bool {
        let mut smtp = self
            .listeners
            .iter()
            .filter(|(name, _)| *name == "smtp")
            .map(|(_, a)| a);
        smtp.any(|own| {
            own.port() == addr.port() && (own.ip() == addr.ip() || own.ip().is_unspecified())
        })
    }

    /// The port a service listens on (`"submission"` → 10587), to tell a client where to go.
    pub fn port_of(&self, service: &str) -> Option<u16> {
        self.listeners
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, a)| a.port())
    }

    /// Tells the queue manager there is new work.
    pub fn wake_queue(&self) {
        *self.queue_wake.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.queue_wake.1.notify_all();
    }

    /// Waits until [`Shared::wake_queue`] is called or `timeout` passes.
    pub fn wait_for_queue_work(&self, timeout: Duration) {
        let guard = self.queue_wake.0.lock().unwrap_or_else(|e| e.into_inner());
        let (mut woken, _) = self
            .queue_wake
            .1
            .wait_timeout_while(guard, timeout, |woken| !*woken)
            .unwrap_or_else(|e| e.into_inner());
        *woken = false;
    }
}
