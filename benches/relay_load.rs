//! `make bench` (relay figure): messages per second from one postlab to another through the
//! queue — accepted by server A, queued, relayed by A's queue manager to server B, delivered
//! into B's Maildir. The clock stops when the last message is a file in B's `new/`.
//!
//! ```text
//! cargo bench --bench relay_load -- --sessions 10 --messages 100 --size 4096 [--dkim]
//! ```
//!
//! `--no-connection-cache` sets `relay_connection_cache_time_limit = 0` on A: a new connection
//! and STARTTLS handshake for every message, as before issue 19.
//!
//! `--dkim` turns `dkim_sign = yes` on for A: every message leaving A gets its two signatures
//! (rsa-sha256 and ed25519-sha256) before it is queued, the cost issue 20 asks about; one
//! message in B's Maildir must carry them.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::expect;

fn main() {
    let mut sessions = 10usize;
    let mut messages = 100usize;
    let mut size = 4096usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dkim = args.iter().any(|a| a == "--dkim");
    // As before issue 19: a new connection (and TLS handshake) for every message.
    let no_cache = args.iter().any(|a| a == "--no-connection-cache");
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number after the flag");
        match pair[0].as_str() {
            "--sessions" => sessions = value(),
            "--messages" => messages = value(),
            "--size" => size = value(),
            _ => {}
        }
    }
    let root = std::env::temp_dir().join(format!("postlab-relay-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (b, b_dir, b_addr) = start(&root.join("b"), "b.test", "");
    let (a, a_dir, a_addr) = start(
        &root.join("a"),
        "a.test",
        &format!(
            "queue_retry_min = 1\nqueue_retry_max = 1\n{}{}",
            if dkim { "dkim_sign = yes\n" } else { "" },
            if no_cache {
                "relay_connection_cache_time_limit = 0\n"
            } else {
                ""
            }
        ),
    );
    std::fs::write(
        a_dir.join("transport"),
        format!("b.test [{}]:{}\n", b_addr.ip(), b_addr.port()),
    )
    .unwrap();

    let body = common::message(
        "From: load@a.test\r\nTo: bob@b.test\r\nSubject: relay load\r\n",
        size,
    );
    let total = sessions * messages;
    let started = Instant::now();
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || send(a_addr, messages, &body))
        })
        .collect();
    for w in workers {
        w.join().expect("session");
    }
    let accepted = started.elapsed();
    let new_dir = b_dir.join("mail/bob/new");
    let deadline = Instant::now() + Duration::from_secs(600);
    while count(&new_dir) < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let arrived = count(&new_dir);
    if dkim {
        let first = std::fs::read_dir(&new_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(
            first.matches("DKIM-Signature:").count(),
            2,
            "A signs each message twice:\n{first}"
        );
    }
    println!(
        "relay_load (dkim_sign {}, connection cache {}): {sessions} sessions x {messages} messages x {size} bytes = {total}: accepted by A in {:.2} s ({:.0}/s), all in B's Maildir after {:.2} s: {:.0} messages/s relayed; arrived {arrived}/{total}",
        if dkim { "yes" } else { "no" },
        if no_cache { "off" } else { "on" },
        accepted.as_secs_f64(),
        total as f64 / accepted.as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(arrived, total, "every accepted message must arrive");
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// One postlab for `domain`, with its users and `config`; stopped when dropped.
fn start(dir: &Path, domain: &str, config: &str) -> (common::Postlab, PathBuf, SocketAddr) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("users"), "bob:{PLAIN}bench\n").unwrap();
    std::fs::write(
        dir.join("postlab.conf"),
        format!("max_connections = 500\nmax_outbound_per_destination = 10\n{config}"),
    )
    .unwrap();
    let hostname = format!("mx.{domain}");
    let server = common::Postlab::start(
        dir,
        &["--hostname", &hostname, "--domain", domain],
        "error",
        Stdio::inherit(),
    );
    let addr = server.addr("smtp");
    (server, dir.to_path_buf(), addr)
}

/// One client on A's port 25 (loopback is a trusted network, so it may relay).
fn send(addr: SocketAddr, count: usize, body: &[u8]) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    expect(&mut reader, "220");
    stream.write_all(b"EHLO bench.a.test\r\n").unwrap();
    expect(&mut reader, "250");
    for _ in 0..count {
        stream
            .write_all(b"MAIL FROM:<load@a.test>\r\nRCPT TO:<bob@b.test>\r\nDATA\r\n")
            .unwrap();
        expect(&mut reader, "250");
        expect(&mut reader, "250");
        expect(&mut reader, "354");
        stream.write_all(body).unwrap();
        expect(&mut reader, "250");
    }
    stream.write_all(b"QUIT\r\n").unwrap();
}
