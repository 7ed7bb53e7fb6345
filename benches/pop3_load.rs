//! `make bench-pop3`: POP3 retrieval speed on a real postlab server (flowchart step 7).
//!
//! Fills bob's Maildir with M messages of K bytes (written directly with `Maildir::deliver`, the
//! same code SMTP delivery uses), starts `postlab serve` (release build) on it, logs in once and
//! retrieves every message with RETR in that one session, checking that each arrives whole.
//! Reports messages and megabytes per second from the first RETR to the last final dot.
//!
//! ```text
//! cargo bench --bench pop3_load -- --messages 5000 --size 4096
//! cargo bench --bench pop3_load -- --messages 5000 --size 4096 --pipeline 16
//! cargo bench --bench pop3_load -- --server 127.0.0.1:10110 --user bob --password bench
//! ```
//!
//! `--pipeline W` keeps W RETRs in flight (RFC 2449 PIPELINING) instead of one at a time.
//! `--server ADDR --user U --password P` measures another POP3 server (Dovecot, say) instead of
//! starting postlab; `--maildir DIR` then only fills DIR and prints its path, so that server
//! can be pointed at the same messages (see benches/dovecot/README.md).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

mod common;

struct Options {
    messages: usize,
    size: usize,
    pipeline: usize,
    server: Option<SocketAddr>,
    user: String,
    password: String,
    maildir: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        messages: 5000,
        size: 4096,
        pipeline: 1,
        server: None,
        user: "bob".into(),
        password: "bench".into(),
        maildir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--messages" => o.messages = value().parse().expect("a number"),
            "--size" => o.size = value().parse().expect("a number"),
            "--pipeline" => o.pipeline = value().parse::<usize>().expect("a number").max(1),
            "--server" => o.server = Some(value().parse().expect("an address")),
            "--user" => o.user = value(),
            "--password" => o.password = value(),
            "--maildir" => o.maildir = Some(value().into()),
            _ => {} // cargo passes --bench
        }
    }
    o
}

fn main() {
    let o = options();
    let body = message(o.size);

    if let Some(root) = &o.maildir {
        fill(root, o.messages, &body);
        println!(
            "pop3_load: {} messages of {} bytes in {}",
            o.messages,
            body.len(),
            root.display()
        );
        return;
    }

    let mut started: Option<(common::Postlab, PathBuf)> = None;
    let addr = match o.server {
        Some(addr) => addr,
        None => {
            let dir = common::fresh_dir("bench-pop3");
            std::fs::write(
                dir.join("users"),
                format!("{}:{{PLAIN}}{}\n", o.user, o.password),
            )
            .unwrap();
            let t = Instant::now();
            fill(&dir.join("mail").join(&o.user), o.messages, &body);
            println!(
                "pop3_load: filled the Maildir in {:.2} s",
                t.elapsed().as_secs_f64()
            );
            let server = common::Postlab::start(
                &dir,
                &["--hostname", "bench.test"],
                "warn",
                Stdio::inherit(),
            );
            let addr = server.addr("pop3");
            started = Some((server, dir));
            addr
        }
    };

    let (elapsed, octets) = retrieve_all(addr, &o, body.len());
    let name = if o.server.is_some() {
        "server"
    } else {
        "postlab"
    };
    println!(
        "pop3_load: {name} at {addr}: {} messages x {} bytes, pipeline {}, in {:.2} s: {:.0} messages/s, {:.1} MB/s",
        o.messages,
        body.len(),
        o.pipeline,
        elapsed.as_secs_f64(),
        o.messages as f64 / elapsed.as_secs_f64(),
        octets as f64 / elapsed.as_secs_f64() / 1e6,
    );
    if let Some((server, dir)) = started {
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A message of exactly `size` bytes (at least the header), in CRLF lines of up to 78.
fn message(size: usize) -> Vec<u8> {
    let mut text = b"From: load@bench.test\r\nTo: bob@bench.test\r\nSubject: load\r\n\r\n".to_vec();
    while text.len() + 80 <= size {
        text.extend_from_slice(&[b'x'; 78]);
        text.extend_from_slice(b"\r\n");
    }
    let rest = size.saturating_sub(text.len() + 2);
    text.extend(std::iter::repeat_n(b'y', rest));
    text.extend_from_slice(b"\r\n");
    text
}

fn fill(root: &std::path::Path, count: usize, body: &[u8]) {
    let maildir = Maildir::create(root).expect("create the Maildir");
    for _ in 0..count {
        maildir.deliver(&[body], "bench.test").expect("deliver");
    }
}

/// Logs in and RETRs messages 1..=M; returns the time from the first RETR to the last dot and
/// the octets received.
fn retrieve_all(addr: SocketAddr, o: &Options, size: usize) -> (Duration, usize) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone().unwrap());
    let mut line = Vec::new();
    let read_line = |reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>| {
        line.clear();
        reader.read_until(b'\n', line).expect("read");
        assert!(!line.is_empty(), "connection closed");
    };
    read_line(&mut reader, &mut line);
    for command in [
        format!("USER {}\r\n", o.user),
        format!("PASS {}\r\n", o.password),
    ] {
        stream.write_all(command.as_bytes()).unwrap();
        read_line(&mut reader, &mut line);
        assert!(
            line.starts_with(b"+OK"),
            "{}",
            String::from_utf8_lossy(&line)
        );
    }
    let started = Instant::now();
    let mut octets = 0;
    let mut sent = 0;
    for received in 1..=o.messages {
        while sent < o.messages && sent < received - 1 + o.pipeline {
            sent += 1;
            stream
                .write_all(format!("RETR {sent}\r\n").as_bytes())
                .unwrap();
        }
        read_line(&mut reader, &mut line);
        assert!(
            line.starts_with(b"+OK"),
            "RETR {received}: {}",
            String::from_utf8_lossy(&line)
        );
        let mut body = 0;
        loop {
            read_line(&mut reader, &mut line);
            if line == b".\r\n" {
                break;
            }
            body += line.len();
        }
        assert!(
            body >= size,
            "message {received} came short: {body} < {size}"
        );
        octets += body;
    }
    let elapsed = started.elapsed();
    stream.write_all(b"QUIT\r\n").unwrap();
    (elapsed, octets)
}
