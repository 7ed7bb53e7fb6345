//! `make bench-imap` (its SORT part): SORT and THREAD on a large folder, postlab beside Dovecot.
//!
//! Fills bob's INBOX with M messages that look like a mailing list's (400 conversations,
//! replies with `Re:` and References to the message before, dates and senders spread out),
//! written straight into the Maildir with `Maildir::deliver`, and measures over one
//! connection, after `LOGIN` and `SELECT INBOX`, each command timed from sending it to its
//! tagged OK:
//!
//! - `SORT (DATE) UTF-8 ALL` twice: the first reads every message's header, the second what a
//!   client sends next (postlab remembers the facts per session, Dovecot in its cache file);
//! - `SORT (SUBJECT) UTF-8 ALL` (base subjects, RFC 5256 §2.1);
//! - `THREAD REFERENCES UTF-8 ALL` (the six steps of RFC 5256).
//!
//! ```text
//! cargo bench --bench imap_sort -- --messages 10000
//! cargo bench --bench imap_sort -- --maildir /tmp/m/bob --messages 10000
//! cargo bench --bench imap_sort -- --data /tmp/p --messages 10000
//! cargo bench --bench imap_sort -- --target 127.0.0.1:20143 --messages 10000
//! ```
//!
//! `--maildir DIR` only fills DIR. `--data DIR` starts postlab on a filled data directory;
//! `--target ADDR` measures another server (Dovecot: `benches/dovecot/sort.sh`) with the same
//! client. Every answer is checked: SORT must name M messages, each once, and THREAD too.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

mod common;

struct Options {
    messages: usize,
    maildir: Option<PathBuf>,
    data: Option<PathBuf>,
    target: Option<SocketAddr>,
}

fn options() -> Options {
    let mut o = Options {
        messages: 10_000,
        maildir: None,
        data: None,
        target: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--messages" => o.messages = value().parse().expect("a number"),
            "--maildir" => o.maildir = Some(value().into()),
            "--data" => o.data = Some(value().into()),
            "--target" => o.target = Some(value().parse().expect("an address HOST:PORT")),
            _ => {} // cargo passes --bench
        }
    }
    o
}

/// Message `n`: conversation `n % 400`; the first of each starts it, the others reply to the
/// one before with `Re:` and References. A small fixed generator spreads dates and senders.
fn message(n: usize) -> Vec<u8> {
    let topic = n % 400;
    let mut x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let day = 1 + next(28);
    let (hour, minute) = (next(24), next(60));
    let sender = next(50);
    let mut text = format!(
        "From: Member {sender} <member{sender}@bench.test>\r\nTo: list@bench.test\r\n\
Date: {day:02} Nov 2026 {hour:02}:{minute:02}:00 +0100\r\nMessage-ID: <{n}@bench.test>\r\n"
    );
    if n >= 400 {
        text.push_str(&format!(
            "Subject: Re: [list] topic {topic}\r\nIn-Reply-To: <{}@bench.test>\r\nReferences: <{topic}@bench.test> <{}@bench.test>\r\n",
            n - 400,
            n - 400
        ));
    } else {
        text.push_str(&format!("Subject: [list] topic {topic}\r\n"));
    }
    text.push_str("\r\n");
    for _ in 0..20 {
        text.push_str(&"x".repeat(78));
        text.push_str("\r\n");
    }
    text.into_bytes()
}

fn fill(root: &Path, count: usize) {
    let maildir = Maildir::create(root).expect("create the Maildir");
    for n in 0..count {
        maildir
            .deliver(&[&message(n)], "bench.test")
            .expect("deliver");
    }
}

/// One connection, one command at a time.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(600)))
            .expect("timeout");
        let mut client = Client {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone().expect("clone")),
            writer: stream,
            tag: 0,
        };
        let mut greeting = String::new();
        client.reader.read_line(&mut greeting).expect("greeting");
        client
    }

    /// Sends `command`, returns the untagged lines and the time to the tagged OK.
    fn run(&mut self, command: &str) -> (Vec<String>, Duration) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let started = Instant::now();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .expect("send");
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).expect("read") == 0 {
                panic!("connection closed during {command}");
            }
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "{command}: {status}");
                return (lines, started.elapsed());
            }
            lines.push(line.trim_end().to_string());
        }
    }
}

/// The numbers of the one untagged `word` line, each checked to be there once.
fn numbers(lines: &[String], word: &str, count: usize) {
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("* {word}")))
        .unwrap_or_else(|| panic!("no {word} response"));
    let mut found: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    found.sort_unstable();
    assert!(
        found == (1..=count).collect::<Vec<_>>(),
        "{word}: {} numbers, not 1..{count} once each",
        found.len()
    );
}

fn main() {
    let o = options();
    if let Some(root) = &o.maildir {
        fill(root, o.messages);
        println!("imap_sort: {} messages in {}", o.messages, root.display());
        return;
    }
    let mut started: Option<(common::Postlab, Option<PathBuf>)> = None;
    let (name, addr) = match (&o.target, &o.data) {
        (Some(addr), _) => ("server", *addr),
        (None, Some(dir)) => {
            let server = start_postlab(dir);
            let addr = server.addr("imap");
            started = Some((server, None));
            ("postlab", addr)
        }
        (None, None) => {
            let dir = common::fresh_dir("imap-sort-bench");
            std::fs::write(dir.join("users"), "bob:{PLAIN}bench\n").expect("users");
            fill(&dir.join("mail").join("bob"), o.messages);
            let server = start_postlab(&dir);
            let addr = server.addr("imap");
            started = Some((server, Some(dir)));
            ("postlab", addr)
        }
    };
    let mut c = Client::connect(addr);
    c.run("LOGIN bob bench");
    let (lines, select) = c.run("SELECT INBOX");
    assert!(
        lines.contains(&format!("* {} EXISTS", o.messages)),
        "SELECT: not {} EXISTS",
        o.messages
    );
    let mut figures = vec![("select", select)];
    for (label, command, word) in [
        ("sort_date_1", "SORT (DATE) UTF-8 ALL", "SORT"),
        ("sort_date_2", "SORT (DATE) UTF-8 ALL", "SORT"),
        ("sort_subject", "SORT (SUBJECT) UTF-8 ALL", "SORT"),
        ("thread", "THREAD REFERENCES UTF-8 ALL", "THREAD"),
    ] {
        let (lines, elapsed) = c.run(command);
        numbers(&lines, word, o.messages);
        println!(
            "imap_sort: {name} {command}: {:.3} s",
            elapsed.as_secs_f64()
        );
        figures.push((label, elapsed));
    }
    c.run("LOGOUT");
    let fields: Vec<String> = figures
        .iter()
        .map(|(label, d)| format!("{label}={:.4}", d.as_secs_f64()))
        .collect();
    println!("imap_sort: result {name} {}", fields.join(" "));
    if let Some((server, dir)) = started {
        drop(server);
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// postlab on `dir`, as `make bench-imap` runs it.
fn start_postlab(dir: &Path) -> common::Postlab {
    common::Postlab::start(dir, &["--hostname", "bench.test"], "warn", Stdio::inherit())
}
