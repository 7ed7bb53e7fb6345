//! `postlab status`: what a running server is doing, for the administrator.
//!
//! The server writes `DIR/run/status` (atomically, every [`STATUS_EVERY`] when something
//! changed; see `src/daemon.rs`); this command reads it together with the files any tool can
//! read: `DIR/run/listeners`, the queue, and today's transcripts (the last deliveries, step 6,
//! and the last error replies). Whether the server is alive is asked of the lock file: if this
//! command can take `DIR/run/postlab.lock`, no server holds it, whatever the pid file says.
//!
//! ```text
//! postlab is running, pid 4242, since 2026-11-26 16:20:00
//!   smtp  127.0.0.1:10025
//!   open sessions: pop3 1, smtp 2
//!   queue: 3 message(s), 1 held; oldest deferred: 19A3C4F2B8D10, 2 attempt(s), 1 h 5 min old
//!   last deliveries: …
//! ```

use std::path::Path;
use std::time::Duration;

use crate::datadir::DataDir;
use crate::mta::queue::{unix_now, Folder, Queue};
use crate::transcript::{escape_controls, Line, Step};

/// How often the server rewrites `DIR/run/status`.
pub const STATUS_EVERY: Duration = Duration::from_secs(2);

/// `postlab status [--data DIR]`
pub fn main(args: &[String]) -> i32 {
    let opts = super::options();
    let brief = "usage: postlab status [--data DIR]\n\n\
                 Is the server running; its listeners, open sessions, queue, last deliveries\n\
                 and errors. Exit code 0 if it runs, 3 if it does not.";
    let m = match super::parse(&opts, args, brief, 2) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if !m.free.is_empty() {
        eprint!("{}", opts.usage(brief));
        return 2;
    }
    let data = DataDir::from_option(m.opt_str("data"));
    if !data.root().is_dir() {
        return super::fail(format!("no data directory {}", data.root().display()));
    }
    let running = is_running(&data);
    let status = std::fs::read_to_string(data.run().join("status")).unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or("?")
            .to_string()
    };
    if running {
        println!(
            "postlab is running, pid {}, since {}",
            field("pid"),
            field("started")
        );
        let listeners = std::fs::read_to_string(data.listeners()).unwrap_or_default();
        for line in listeners.lines() {
            println!("  {line}");
        }
        println!("  open sessions: {}", field("sessions"));
    } else {
        println!(
            "postlab is not running on {} (no server holds run/postlab.lock)",
            data.root().display()
        );
    }
    println!("  {}", queue_line(&data.root().join("queue")));
    let (deliveries, errors) = recent_events(&data.transcripts(), 5);
    println!("  last deliveries:{}", bullet(&deliveries));
    println!("  last errors:{}", bullet(&errors));
    if running {
        0
    } else {
        3
    }
}

/// True when a server holds the data directory's lock.
pub fn is_running(data: &DataDir) -> bool {
    let path = data.run().join("postlab.lock");
    match std::fs::File::options().write(true).open(path) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

fn bullet(lines: &[String]) -> String {
    if lines.is_empty() {
        return " none today".to_string();
    }
    lines.iter().map(|l| format!("\n    {l}")).collect()
}

/// `queue: N message(s), H held; oldest deferred: …`
fn queue_line(root: &Path) -> String {
    let Ok(queue) = Queue::open(root) else {
        return "queue: cannot be read".into();
    };
    let active = queue.list(Folder::Active).unwrap_or_default();
    let held = queue.list(Folder::Hold).map(|l| l.len()).unwrap_or(0);
    let now = unix_now();
    let oldest = active
        .iter()
        .filter(|e| e.attempts > 0)
        .min_by_key(|e| e.arrived)
        .map(|e| {
            let age = now.saturating_sub(e.arrived);
            format!(
                "; oldest deferred: {}, {} attempt(s), {} h {} min old",
                e.id,
                e.attempts,
                age / 3600,
                age % 3600 / 60
            )
        })
        .unwrap_or_default();
    format!(
        "queue: {} message(s), {held} held{oldest}",
        active.len() + held
    )
}

/// The last `n` delivery lines (`[6 MAILBOX]`) and error replies (`S: 4xx`/`S: 5xx`, and the
/// `-ERR` of POP3) in today's transcripts, oldest first.
///
/// Each line is read as a structured transcript line ([`Line`]), never searched for a
/// substring: a delivery is an *event* at step 6 (its text starts with a queue id, which only
/// the server writes), and an error is a line whose text starts with `S: `. What a client sent
/// is in a `C: ` line, whatever it contains, so a crafted `NOOP … [6 MAILBOX] … delivered`
/// cannot pass for a delivery.
fn recent_events(transcripts: &Path, n: usize) -> (Vec<String>, Vec<String>) {
    let today = crate::clock::now().stamp();
    let day = today.split(' ').next().unwrap_or("");
    let mut deliveries = Vec::new();
    let mut errors = Vec::new();
    let files = std::fs::read_dir(transcripts.join(day))
        .into_iter()
        .flatten()
        .flatten();
    for file in files {
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        for line in text.lines() {
            let Some(parsed) = Line::parse(line) else {
                continue;
            };
            let shown = || escape_controls(line).into_owned();
            if let Some((_, event)) = parsed.event() {
                if parsed.step == Step::Mailbox && event.starts_with("delivered") {
                    deliveries.push(shown());
                }
            } else if let Some(reply) = parsed.text.strip_prefix("S: ") {
                if reply.starts_with('4') || reply.starts_with('5') || reply.starts_with("-ERR") {
                    errors.push(shown());
                }
            }
        }
    }
    // Lines start with their time stamp, so sorting puts them in time order.
    for list in [&mut deliveries, &mut errors] {
        list.sort();
        let excess = list.len().saturating_sub(n);
        list.drain(..excess);
    }
    (deliveries, errors)
}

/// The text of `DIR/run/status` for the running server.
pub fn status_text(pid: u32, started: &str, sessions: &[(String, usize)]) -> String {
    let sessions = if sessions.is_empty() {
        "none".to_string()
    } else {
        sessions
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# postlab status, rewritten by the running server (see `postlab status`)\n\
         pid {pid}\nstarted {started}\nsessions {sessions}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, finding 10: a NOOP whose text looks like a delivery is not one.
    #[test]
    fn only_server_events_count_as_deliveries() {
        let dir = std::env::temp_dir().join(format!("postlab-status-{}", std::process::id()));
        let day = crate::clock::now().date();
        std::fs::create_dir_all(dir.join(&day)).unwrap();
        let stamp = crate::clock::now().stamp();
        let id = crate::ids::QueueId::new();
        let text = format!(
            "{stamp} s1 [2 MTA] C: NOOP {stamp} s1 [6 MAILBOX] {id}: delivered to root: forged\n\
             {stamp} s1 [2 MTA] C: NOOP S: 554 forged\n\
             {stamp} s1 [6 MAILBOX] {id}: delivered to bob: mail/bob/new/1\n\
             {stamp} s1 [2 MTA] S: 554 5.7.1 Relay access denied\n"
        );
        std::fs::write(dir.join(&day).join("s1-smtp.log"), text).unwrap();
        let (deliveries, errors) = recent_events(&dir, 5);
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert!(deliveries[0].ends_with("delivered to bob: mail/bob/new/1"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("S: 554 5.7.1 Relay access denied"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
