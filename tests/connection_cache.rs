//! Issue 19: the relay's connection cache (`src/mta/connection_cache.rs`). After a delivery
//! the connection is kept a moment (after RSET) for the next message to the same server,
//! instead of a new TCP connection and TLS handshake per message.
//!
//! The receiving end is a small SMTP server of the test's own (it counts the connections it
//! accepts and can close an idle one, as a real server's timeout would), and once a second
//! postlab with STARTTLS.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::{domain_server, route, wait_for, TestServer};

/// What the test's SMTP server has seen.
#[derive(Default)]
struct Seen {
    accepts: AtomicUsize,
    /// The Subject: of each message received, in order.
    messages: Mutex<Vec<String>>,
    resets: AtomicUsize,
    quits: AtomicUsize,
    /// Connections it closed itself (with a 421) after a message.
    dropped: AtomicUsize,
}

impl Seen {
    fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

/// Starts the test's SMTP server. With `drop_idle`, it answers the RSET after a message, then
/// says `421` and closes, as a server whose idle timeout ran out does.
fn peer(drop_idle: bool) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let all = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            all.accepts.fetch_add(1, Ordering::SeqCst);
            let seen = all.clone();
            std::thread::spawn(move || serve(stream, &seen, drop_idle));
        }
    });
    (addr, seen)
}

fn serve(stream: std::net::TcpStream, seen: &Seen, drop_idle: bool) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let _ = writer.write_all(b"220 peer.test ESMTP\r\n");
    let mut subject = None;
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let answer: &[u8] = if in_data {
            if let Some(s) = line.strip_prefix("Subject: ") {
                subject = Some(s.trim_end().to_string());
            }
            if line != ".\r\n" {
                continue;
            }
            in_data = false;
            seen.messages
                .lock()
                .unwrap()
                .push(subject.take().unwrap_or_default());
            b"250 2.0.0 received\r\n"
        } else if line.starts_with("EHLO") {
            b"250-peer.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        } else if line.starts_with("DATA") {
            in_data = true;
            b"354 go on\r\n"
        } else if line.starts_with("RSET") {
            seen.resets.fetch_add(1, Ordering::SeqCst);
            if drop_idle {
                let _ = writer.write_all(b"250 2.0.0 ok\r\n");
                std::thread::sleep(std::time::Duration::from_millis(100));
                let _ = writer.write_all(b"421 4.4.2 peer.test idle too long, closing\r\n");
                seen.dropped.fetch_add(1, Ordering::SeqCst);
                return;
            }
            b"250 2.0.0 ok\r\n"
        } else if line.starts_with("QUIT") {
            seen.quits.fetch_add(1, Ordering::SeqCst);
            let _ = writer.write_all(b"221 2.0.0 bye\r\n");
            return;
        } else {
            b"250 ok\r\n"
        };
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// Relays one message with `subject` through `a` (port 25 from loopback may relay).
fn relay(a: &TestServer, subject: &str) {
    let mut c = a.connect();
    c.expect("EHLO laptop.a.test", 250);
    let reply = c.send_mail(
        "alice@a.test",
        &["bob@b.test"],
        &format!("Subject: {subject}\r\n\r\nhello\r\n"),
    );
    assert_eq!(reply.code, 250, "{reply:?}");
}

fn kept(a: &TestServer, times: usize) {
    wait_for("the connection kept for the next message", || {
        (a.transcripts()
            .matches("kept open for the next message")
            .count()
            >= times)
            .then_some(())
    });
}

#[test]
fn two_messages_in_a_row_share_one_connection() {
    let (addr, seen) = peer(false);
    // A long time limit, so a slow test machine cannot let the connection expire in between.
    let a = domain_server("a.test", "relay_connection_cache_time_limit = 30\n");
    route(&a, "b.test", addr);
    relay(&a, "first");
    kept(&a, 1);
    relay(&a, "second");
    wait_for("both messages at the peer", || {
        (seen.messages().len() == 2).then_some(())
    });
    assert_eq!(seen.messages(), ["first", "second"]);
    assert_eq!(seen.accepts.load(Ordering::SeqCst), 1, "one TCP connection");
    assert_eq!(seen.quits.load(Ordering::SeqCst), 0);
    let text = a.transcripts();
    assert!(
        text.contains(&format!("reusing connection to {addr}")),
        "{text}"
    );
}

#[test]
fn a_kept_connection_the_peer_closed_is_replaced_without_a_failed_attempt() {
    let (addr, seen) = peer(true);
    let a = domain_server("a.test", "relay_connection_cache_time_limit = 30\n");
    route(&a, "b.test", addr);
    relay(&a, "first");
    kept(&a, 1);
    wait_for("the peer to close the idle connection", || {
        (seen.dropped.load(Ordering::SeqCst) == 1).then_some(())
    });
    relay(&a, "second");
    wait_for("the second message at the peer", || {
        (seen.messages().len() == 2).then_some(())
    });
    wait_for("an empty queue", || {
        let (_, list, _) = a.postlab(&["queue", "list"]);
        (!list.contains("b.test")).then_some(())
    });
    // Exactly once each, the second on a new connection in its first attempt.
    assert_eq!(seen.messages(), ["first", "second"]);
    assert_eq!(seen.accepts.load(Ordering::SeqCst), 2);
    let text = a.transcripts();
    assert!(text.contains("reusing connection to"), "{text}");
    assert!(text.contains("no longer works"), "{text}");
    assert!(!text.contains("deferred, will retry"), "{text}");
    assert!(!text.contains("delivery attempt 2"), "{text}");
}

#[test]
fn an_idle_connection_is_closed_after_the_time_limit() {
    let (addr, seen) = peer(false);
    let a = domain_server("a.test", "relay_connection_cache_time_limit = 1\n");
    route(&a, "b.test", addr);
    relay(&a, "first");
    kept(&a, 1);
    // Kept, then QUIT once it has been idle for a second (the queue manager's pass).
    wait_for("QUIT on the idle connection", || {
        (seen.quits.load(Ordering::SeqCst) == 1).then_some(())
    });
    relay(&a, "second");
    wait_for("the second message at the peer", || {
        (seen.messages().len() == 2).then_some(())
    });
    assert_eq!(seen.accepts.load(Ordering::SeqCst), 2, "a new connection");
    assert!(!a.transcripts().contains("reusing connection"));
}

/// Between two postlabs the kept connection is inside TLS: the second message needs no new
/// handshake, and both arrive.
#[test]
fn a_kept_tls_connection_carries_the_next_message() {
    let b = domain_server("b.test", "");
    let a = domain_server("a.test", "relay_connection_cache_time_limit = 30\n");
    route(&a, "b.test", b.smtp);
    relay(&a, "first");
    kept(&a, 1);
    relay(&a, "second");
    wait_for("both messages on b.test", || {
        (b.new_mail("bob").len() == 2).then_some(())
    });
    let text = a.transcripts();
    assert_eq!(text.matches("TLS established with").count(), 1, "{text}");
    assert!(
        text.contains(&format!("reusing connection to {} (", b.smtp)) && text.contains(", TLS)"),
        "{text}"
    );
}
