//! Every open client connection, in one registry, so a stop can reach them.
//!
//! Each protocol's server registers its connection when it starts and marks, around every
//! read, whether it is waiting for the client (idle) or in the middle of a command (busy).
//! SIGTERM (`src/daemon.rs`) then wakes the idle sessions at once and gives the busy ones
//! `shutdown_grace` to finish; `DIR/run/status` counts the sessions per protocol.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Every open client connection, so a stop can reach them.
#[derive(Default)]
pub struct Sessions {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    state: Mutex<State>,
    /// Signalled whenever a session ends, so [`Sessions::stop`] can wait for the last one.
    ended: Condvar,
}

#[derive(Default)]
struct State {
    stopping: bool,
    next_id: u64,
    open: HashMap<u64, Open>,
}

struct Open {
    protocol: String,
    /// A second handle on the socket (`try_clone`), to shut its read side from outside.
    stream: Option<TcpStream>,
    /// Waiting for the client's next line, rather than busy with a command.
    idle: bool,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Registers a connection for as long as the returned guard lives.
    pub fn register(&self, stream: &TcpStream, protocol: &str) -> SessionGuard {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        state.open.insert(
            id,
            Open {
                protocol: protocol.to_string(),
                stream: stream.try_clone().ok(),
                idle: false,
            },
        );
        SessionGuard {
            registry: self.inner.clone(),
            id,
        }
    }

    /// Has a stop begun?
    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Open sessions per protocol, for `DIR/run/status`.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let state = self.lock();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for open in state.open.values() {
            match counts.iter_mut().find(|(p, _)| *p == open.protocol) {
                Some((_, n)) => *n += 1,
                None => counts.push((open.protocol.clone(), 1)),
            }
        }
        counts.sort();
        counts
    }

    /// Begins the stop: idle sessions are woken at once, busy ones get until `grace` has passed.
    /// Returns how many sessions were still open when the grace period ran out.
    pub fn stop(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut state = self.lock();
        state.stopping = true;
        for open in state.open.values().filter(|o| o.idle) {
            if let Some(stream) = &open.stream {
                let _ = stream.shutdown(Shutdown::Read);
            }
        }
        while !state.open.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .inner
                .ended
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        for open in state.open.values() {
            if let Some(stream) = &open.stream {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        state.open.len()
    }
}

/// One registered connection; dropping it removes the connection from the registry.
pub struct SessionGuard {
    registry: Arc<Registry>,
    id: u64,
}

impl SessionGuard {
    fn set_idle(&self, idle: bool) -> bool {
        let mut state = self.registry.lock();
        if let Some(open) = state.open.get_mut(&self.id) {
            open.idle = idle;
        }
        state.stopping
    }

    /// Runs `read` (waiting for the client's next line) with the session marked idle.
    /// `None` means the server is stopping: say goodbye and close instead of handling a line.
    ///
    /// The flag is checked under the same lock [`Sessions::stop`] holds while it wakes idle
    /// sessions, so a session is either woken by it or sees the flag before it reads.
    pub fn read<T>(&self, read: impl FnOnce() -> T) -> Option<T> {
        if self.set_idle(true) {
            return None;
        }
        let line = read();
        if self.set_idle(false) {
            return None;
        }
        Some(line)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
        self.registry.ended.notify_all();
    }
}
