//! `make bench`, TLS part: what encryption costs on a real postlab server.
//!
//! Starts `postlab serve` (release build) on a fresh data directory and measures:
//!
//! 1. handshakes per second: N parallel clients, each repeatedly connecting, `EHLO`,
//!    `STARTTLS`, TLS handshake, `QUIT`;
//! 2. SMTP throughput over STARTTLS: N sessions, each sending M messages of K bytes to bob
//!    inside one encrypted connection, every message checked in the Maildir afterwards.
//!
//! Compare (2) with `smtp_load`, which sends the same messages in plain text.
//!
//! ```text
//! cargo bench --bench tls_load -- --sessions 10 --messages 200 --size 4096 --handshakes 200
//! ```

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use native_tls::{TlsConnector, TlsStream};

mod common;
use common::expect;

fn main() {
    let mut sessions = 10usize;
    let mut messages = 200usize;
    let mut size = 4096usize;
    let mut handshakes = 200usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let target = match args[i].as_str() {
            "--sessions" => &mut sessions,
            "--messages" => &mut messages,
            "--size" => &mut size,
            "--handshakes" => &mut handshakes,
            _ => {
                i += 1; // cargo passes --bench
                continue;
            }
        };
        *target = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("a number after the flag");
        i += 2;
    }

    let (dir, server) = common::bench_server("tls-bench", sessions, "error");
    let addr = server.addr("smtp");

    // 1. Handshakes.
    let per_client = handshakes.div_ceil(sessions);
    let started = Instant::now();
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..per_client {
                    let mut tls = starttls(addr);
                    tls.get_mut().write_all(b"QUIT\r\n").unwrap();
                    expect(&mut tls, "221");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("handshake client");
    }
    let elapsed = started.elapsed();
    let done = per_client * sessions;
    println!(
        "tls_load: {done} STARTTLS handshakes from {sessions} clients in {:.2} s: {:.0} handshakes/s",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );

    // 2. Messages inside TLS.
    let body = common::message(
        "From: load@bench.test\r\nTo: bob@bench.test\r\nSubject: load\r\n",
        size,
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || send_messages(addr, messages, &body))
        })
        .collect();
    for worker in workers {
        worker.join().expect("session");
    }
    let elapsed = started.elapsed();
    let total = sessions * messages;
    let arrived = std::fs::read_dir(dir.join("mail/bob/new"))
        .map(|d| d.count())
        .unwrap_or(0);
    println!(
        "tls_load: {sessions} sessions x {messages} messages x {size} bytes over STARTTLS in {:.2} s: {:.0} messages/s; in the Maildir: {arrived}/{total}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        arrived, total,
        "every acknowledged message must be in the Maildir"
    );
}

type Tls = BufReader<TlsStream<TcpStream>>;

/// One client configuration for all connections: building it loads the system's trusted
/// roots, which would otherwise be measured with every handshake.
fn connector() -> &'static TlsConnector {
    static CONNECTOR: std::sync::OnceLock<TlsConnector> = std::sync::OnceLock::new();
    CONNECTOR.get_or_init(|| {
        TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true)
            .build()
            .unwrap()
    })
}

/// Connects, greets, switches to TLS and greets again (RFC 3207 §4.2).
fn starttls(addr: SocketAddr) -> Tls {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut plain = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    expect(&mut plain, "220");
    writer.write_all(b"EHLO bench.test\r\n").unwrap();
    expect(&mut plain, "250");
    writer.write_all(b"STARTTLS\r\n").unwrap();
    expect(&mut plain, "220");
    let mut tls = BufReader::new(
        connector()
            .connect("bench.test", writer)
            .expect("handshake"),
    );
    tls.get_mut().write_all(b"EHLO bench.test\r\n").unwrap();
    expect(&mut tls, "250");
    tls
}

fn send_messages(addr: SocketAddr, count: usize, body: &[u8]) {
    let mut tls = starttls(addr);
    for _ in 0..count {
        // PIPELINING: MAIL, RCPT and DATA in one write.
        tls.get_mut()
            .write_all(b"MAIL FROM:<load@bench.test>\r\nRCPT TO:<bob@bench.test>\r\nDATA\r\n")
            .unwrap();
        expect(&mut tls, "250");
        expect(&mut tls, "250");
        expect(&mut tls, "354");
        tls.get_mut().write_all(body).unwrap();
        expect(&mut tls, "250");
    }
    tls.get_mut().write_all(b"QUIT\r\n").unwrap();
    expect(&mut tls, "221");
}
