//! `make bench`: SMTP load on a real postlab server, every message checked in the Maildir.
//!
//! Starts `postlab serve` (release build) on a fresh data directory, opens N sessions in
//! parallel, and has each send M messages of K bytes to bob over one connection. Reports
//! messages per second (from the first MAIL to the last 250), the latency of one message
//! (MAIL FROM to the 250 after DATA, which postlab sends only once the file is fsynced), and
//! checks that bob's `new/` holds exactly N × M files.
//!
//! ```text
//! cargo bench --bench smtp_load -- --sessions 10 --messages 1000 --size 4096
//! ```
//!
//! `POSTLAB_BENCH_CONFIG` adds lines to the server's postlab.conf and `POSTLAB_BENCH_HEADER`
//! fields to each message (CRLF-ended): the cost of DKIM signing (`dkim_sign = yes`) and of
//! checking (`relay_networks =` and a `dns_server`) is measured that way (README.md).

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::expect;

fn main() {
    let mut sessions = 10usize;
    let mut messages = 1000usize;
    let mut size = 4096usize;
    // Journey boards watching (`/events`): reading ones, and stalled ones that never read.
    let mut watchers = 0usize;
    let mut stalled = 0usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .expect("a number after the flag")
        };
        match args[i].as_str() {
            "--sessions" => sessions = value(),
            "--messages" => messages = value(),
            "--size" => size = value(),
            "--watchers" => watchers = value(),
            "--stalled-watchers" => stalled = value(),
            _ => {} // cargo passes --bench
        }
        i += if args[i].starts_with("--") && args[i] != "--bench" {
            2
        } else {
            1
        };
    }

    let (dir, server) = common::bench_server("bench", sessions, "warn");
    let addr = server.addr("smtp");
    let _boards = common::watch_board(server.addr("web"), watchers, stalled);

    // POSTLAB_BENCH_HEADER puts fields above the header (a DKIM-Signature, to measure checking).
    let extra = std::env::var("POSTLAB_BENCH_HEADER").unwrap_or_default();
    let body = common::message(
        &format!("{extra}From: load@bench.test\r\nTo: bob@bench.test\r\nSubject: load\r\n"),
        size,
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || session(addr, messages, &body))
        })
        .collect();
    let mut latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("session"))
        .collect();
    let elapsed = started.elapsed();

    let new_dir: PathBuf = dir.join("mail/bob/new");
    let arrived = std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0);
    let total = sessions * messages;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "smtp_load (boards watching: {watchers} reading, {stalled} stalled): {sessions} sessions x {messages} messages x {size} bytes = {total} messages in {:.2} s: {:.0} messages/s, latency p50 {:.2} ms, p99 {:.2} ms; in the Maildir: {arrived}/{total}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        arrived, total,
        "every acknowledged message must be in the Maildir"
    );
}

/// One client connection sending `count` messages; returns the latency of each.
fn session(addr: SocketAddr, count: usize, body: &[u8]) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    expect(&mut reader, "220");
    stream.write_all(b"EHLO bench.test\r\n").unwrap();
    expect(&mut reader, "250");
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        // PIPELINING: MAIL, RCPT and DATA in one write.
        stream
            .write_all(b"MAIL FROM:<load@bench.test>\r\nRCPT TO:<bob@bench.test>\r\nDATA\r\n")
            .unwrap();
        expect(&mut reader, "250");
        expect(&mut reader, "250");
        expect(&mut reader, "354");
        stream.write_all(body).unwrap();
        expect(&mut reader, "250");
        latencies.push(t.elapsed());
    }
    stream.write_all(b"QUIT\r\n").unwrap();
    latencies
}
