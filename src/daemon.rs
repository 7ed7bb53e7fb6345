//! `postlab serve` as an administrator runs it: one server per data directory, signals, and a
//! clean stop.
//!
//! - **One server per data directory.** `DIR/run/postlab.lock` is locked (`File::try_lock`, an
//!   advisory `flock`) for the life of the process; a second `serve` on the same directory is
//!   refused with the pid of the first. The kernel drops the lock when the process dies, even by
//!   `kill -9`, so a stale file never blocks a restart.
//! - **SIGTERM / SIGINT: stop cleanly.** The [`Sessions`](crate::sessions::Sessions) registry knows every open connection
//!   and whether it is waiting for the client (idle) or in the middle of a command (busy: an
//!   SMTP DATA being received or delivered, a POP3 RETR being sent). Idle sessions have their
//!   read side shut, so the blocked read returns at once and the loop says goodbye (SMTP
//!   `421 4.3.2`, RFC 5321 §3.8; POP3 `-ERR [SYS/TEMP]`, RFC 3206 §5). Busy ones finish their
//!   command first, up to `shutdown_grace` seconds, then say goodbye the same way. Mail is never
//!   lost by a stop: a 250 after DATA was only sent once the message was on disk, and a POP3
//!   session that never reached UPDATE removes nothing (RFC 1939 §6).
//! - **SIGHUP: read the files again.** Users and aliases are re-read at the next connection
//!   anyway (by modification time); SIGHUP forces it now, checks `DIR/transport`, and reads
//!   `postlab.conf`. A file with an error is logged and everything stays as it runs. Otherwise
//!   new sessions get the new per-session settings (limits, timeouts, hints, relay networks);
//!   sessions already open keep theirs, and settings the listeners, queue manager or resolver
//!   read at start (ports, hostname, domains, queue timing, DNS, TLS) are logged as needing a
//!   restart.
//!
//! - **`DIR/run/status`** says what runs (pid, open sessions per protocol) for `postlab status`.
//!
//! Signals arrive on a thread of their own through `signal-hook`, which keeps the one unsafe
//! part (the signal handler) inside the crate.

use std::fs::File;
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
pub use signal_hook::iterator::Signals;

use crate::admin::status::{status_text, STATUS_EVERY};
use crate::config::Config;
use crate::context::Shared;
use crate::datadir::DataDir;

/// Locks `DIR/run/postlab.lock` for as long as the returned file is kept open.
pub fn lock_data_dir(data: &DataDir) -> Result<File, String> {
    let path = data.run().join("postlab.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(data.pid_file()).unwrap_or_default();
            Err(format!(
                "another postlab serve (pid {}) is already using {}; stop it first \
                 (kill -TERM {0}) or give another --data DIR",
                pid.trim(),
                data.root().display()
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Starts catching SIGTERM, SIGINT and SIGHUP. Called before the server announces itself, so a
/// signal sent as soon as the listeners are known is never taken by the default action.
pub fn catch_signals() -> Result<Signals, String> {
    Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(|e| format!("cannot catch signals: {e}"))
}

/// Waits for signals on the calling thread: SIGHUP reloads, SIGTERM/SIGINT stop. Returns once
/// the stop is complete, so `postlab serve` can exit 0.
pub fn handle_signals(mut signals: Signals, shared: &Shared) {
    for signal in signals.forever() {
        if signal == SIGHUP {
            reload(shared);
            continue;
        }
        let grace = shared.session_config().shutdown_grace;
        log::info!(
            "shutting down (signal {signal}): no new sessions; transfers in flight get {} s",
            grace.as_secs()
        );
        let left = shared.sessions.stop(grace);
        if left > 0 {
            log::warn!(
                "shutting down: {left} session(s) still busy after the grace period, closed"
            );
        } else {
            log::info!("shutting down: every session said goodbye");
        }
        break;
    }
}

/// SIGHUP: read users, aliases, transport and postlab.conf again; report, never fail.
fn reload(shared: &Shared) {
    log::info!("SIGHUP: reading the configuration files again");
    shared.accounts.reload();
    let transport = shared.data.root().join("transport");
    if let Err(e) = crate::mta::transport::Transport::load(&transport) {
        log::error!("SIGHUP: {e}; the previous routes stay in use");
    }
    let path = shared.data.config();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            log::error!(
                "SIGHUP: cannot read {}: {e}; settings unchanged",
                path.display()
            );
            return;
        }
    };
    let mut fresh = Config::defaults();
    if let Err(e) = fresh.apply_file(&text) {
        log::error!("SIGHUP: {}: {e}; the running settings stay", path.display());
        return;
    }
    let running = shared.session_config();
    let (live, restart) = changed_settings(&running, &fresh);
    // What the command line may have set, and what the listeners, queue and resolver were
    // built with, stays as it runs.
    fresh.hostname = running.hostname.clone();
    fresh.domains = running.domains.clone();
    fresh.listen = running.listen;
    fresh.port_offset = running.port_offset;
    for key in &restart {
        log::warn!("SIGHUP: {key} changed; it takes effect at the next restart");
    }
    if live.is_empty() {
        log::info!(
            "SIGHUP: {} read; no setting that applies live changed",
            path.display()
        );
    } else {
        log::info!(
            "SIGHUP: new sessions use the new {} (sessions already open keep theirs)",
            live.join(", ")
        );
    }
    shared.set_session_config(Arc::new(fresh));
}

/// The settings that differ: those a new session picks up, and those that need a restart
/// (the listeners, the queue manager and the resolver read them once, at start). `listen`,
/// `port_offset`, `hostname` and `domains` are left out: flags may override them, and they
/// always need a restart.
fn changed_settings(running: &Config, fresh: &Config) -> (Vec<&'static str>, Vec<&'static str>) {
    let live = [
        (
            "max_message_size",
            running.max_message_size != fresh.max_message_size,
        ),
        (
            "max_recipients",
            running.max_recipients != fresh.max_recipients,
        ),
        ("max_errors", running.max_errors != fresh.max_errors),
        ("idle_timeout", running.idle_timeout != fresh.idle_timeout),
        (
            "pop3_idle_timeout",
            running.pop3_idle_timeout != fresh.pop3_idle_timeout,
        ),
        ("hints", running.hints != fresh.hints),
        (
            "recipient_delimiter",
            running.recipient_delimiter != fresh.recipient_delimiter,
        ),
        (
            "relay_networks",
            running.relay_networks != fresh.relay_networks,
        ),
        (
            "shutdown_grace",
            running.shutdown_grace != fresh.shutdown_grace,
        ),
        ("dkim_sign", running.dkim_sign != fresh.dkim_sign),
        ("auth_check", running.auth_check != fresh.auth_check),
        ("dmarc_policy", running.dmarc_enforce != fresh.dmarc_enforce),
    ];
    let restart = [
        (
            "max_connections",
            running.max_connections != fresh.max_connections,
        ),
        (
            "max_connections_per_ip",
            running.max_connections_per_ip != fresh.max_connections_per_ip,
        ),
        ("busy_timeout", running.busy_timeout != fresh.busy_timeout),
        (
            "max_data_memory",
            running.max_data_memory != fresh.max_data_memory,
        ),
        (
            "min_data_rate",
            running.min_data_rate != fresh.min_data_rate,
        ),
        (
            "relay_timeout",
            running.relay_timeout != fresh.relay_timeout,
        ),
        ("relay_port", running.relay_port != fresh.relay_port),
        ("dns_server", running.dns_server != fresh.dns_server),
        (
            "queue_retry_min",
            running.queue_retry_min != fresh.queue_retry_min,
        ),
        (
            "queue_retry_max",
            running.queue_retry_max != fresh.queue_retry_max,
        ),
        (
            "queue_lifetime",
            running.queue_lifetime != fresh.queue_lifetime,
        ),
        (
            "max_outbound_per_destination",
            running.max_outbound_per_destination != fresh.max_outbound_per_destination,
        ),
        (
            "max_deliveries",
            running.max_deliveries != fresh.max_deliveries,
        ),
    ];
    let pick = |pairs: &[(&'static str, bool)]| -> Vec<&'static str> {
        pairs.iter().filter(|(_, d)| *d).map(|(k, _)| *k).collect()
    };
    (pick(&live), pick(&restart))
}

/// Keeps `DIR/run/status` up to date for `postlab status`: rewritten (atomically) when what it
/// says has changed, looked at every [`STATUS_EVERY`]. Runs on a thread of its own.
pub fn write_status(shared: Arc<Shared>) {
    let started = crate::clock::now().stamp();
    let started = started.split('.').next().unwrap_or_default().to_string();
    let path = shared.data.run().join("status");
    let mut last = String::new();
    loop {
        let text = status_text(std::process::id(), &started, &shared.sessions.counts());
        if text != last {
            match crate::mailbox::durable::write_atomically(&path, text.as_bytes()) {
                Ok(()) => last = text,
                Err(e) => log::warn!("cannot write {}: {e}", path.display()),
            }
        }
        std::thread::sleep(STATUS_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reload_says_which_changes_wait_for_a_restart() {
        let running = Config::defaults();
        let mut fresh = Config::defaults();
        fresh.idle_timeout = Duration::from_secs(60);
        fresh.busy_timeout = Duration::from_secs(5);
        fresh.relay_timeout = Duration::from_secs(30);
        let (live, restart) = changed_settings(&running, &fresh);
        assert_eq!(live, ["idle_timeout"]);
        assert_eq!(restart, ["busy_timeout", "relay_timeout"]);
    }
}
