//! `make bench-imap-sync`: how long a phone's QRESYNC resync takes (RFC 7162) on a big folder
//! after another session made a hundred changes, beside the full resync a plain client does.
//!
//! One cycle, over real connections:
//!
//! 1. the phone: `ENABLE QRESYNC`, `SELECT INBOX`, notes UIDVALIDITY and HIGHESTMODSEQ, logs
//!    out;
//! 2. the laptop: 90 `STORE n +FLAGS.SILENT (\Flagged)` on messages spread over the folder and
//!    10 more `\Deleted`, then `EXPUNGE`: 100 changes;
//! 3. the phone again, timed: `SELECT INBOX (QRESYNC (uidvalidity modseq))`, which must answer
//!    exactly the 90 FETCH and 10 vanished UIDs; then, for contrast, the plain client's way:
//!    `UID FETCH 1:* (FLAGS)` over the whole folder.
//!
//! ```text
//! cargo bench --bench imap_sync -- --messages 10000 --cycles 3
//! cargo bench --bench imap_sync -- --maildir /tmp/m/bob --messages 10000
//! cargo bench --bench imap_sync -- --data /tmp/p --cycles 3
//! cargo bench --bench imap_sync -- --target 127.0.0.1:20143 --cycles 3
//! ```
//!
//! `--maildir DIR` only fills DIR (small messages, as SMTP would deliver them) and exits;
//! `--data DIR` starts postlab on a filled data directory (`users`, `mail/bob`); `--target`
//! measures another server (Dovecot: `benches/dovecot/imap_sync.sh`) with the same client.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

mod common;

struct Options {
    messages: usize,
    cycles: usize,
    maildir: Option<PathBuf>,
    data: Option<PathBuf>,
    target: Option<SocketAddr>,
}

fn options() -> Options {
    let mut o = Options {
        messages: 10_000,
        cycles: 3,
        maildir: None,
        data: None,
        target: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--messages" => o.messages = value().parse().expect("a number"),
            "--cycles" => o.cycles = value().parse().expect("a number"),
            "--maildir" => o.maildir = Some(value().into()),
            "--data" => o.data = Some(value().into()),
            "--target" => o.target = Some(value().parse().expect("HOST:PORT")),
            _ => {} // cargo passes --bench
        }
    }
    o
}

/// One IMAP connection, one command at a time.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Client {
    fn login(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut c = Client {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
            tag: 0,
        };
        let mut greeting = String::new();
        c.reader.read_line(&mut greeting).expect("greeting");
        c.cmd("LOGIN bob bench");
        c
    }

    /// Sends one command; returns its untagged lines (the tagged one must be OK).
    fn cmd(&mut self, command: &str) -> Vec<String> {
        self.tag += 1;
        let tag = format!("s{}", self.tag);
        write!(self.writer, "{tag} {command}\r\n").expect("send");
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).expect("read") == 0 {
                panic!("{command}: the server closed the connection");
            }
            let line = line.trim_end().to_string();
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "{command}: {line}");
                return lines;
            }
            lines.push(line);
        }
    }
}

/// The number inside `[WORD n]` of the first line that has it.
fn code(lines: &[String], word: &str) -> u64 {
    lines
        .iter()
        .find_map(|l| {
            let at = l.find(&format!("[{word} "))? + word.len() + 2;
            l[at..].split(']').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no [{word} …] in the SELECT answer"))
}

/// How many UIDs a `VANISHED (EARLIER) 3,7:9` line names.
fn vanished_count(lines: &[String]) -> u64 {
    let mut count = 0;
    for line in lines {
        if let Some(set) = line.strip_prefix("* VANISHED (EARLIER) ") {
            for part in set.split(',') {
                let (a, b) = part.split_once(':').unwrap_or((part, part));
                let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                count += a.max(b) - a.min(b) + 1;
            }
        }
    }
    count
}

/// One cycle: returns the time of the QRESYNC SELECT and of the full `UID FETCH 1:* (FLAGS)`.
fn cycle(addr: SocketAddr, messages: usize, round: usize) -> (Duration, Duration) {
    let mut phone = Client::login(addr);
    phone.cmd("ENABLE QRESYNC");
    let select = phone.cmd("SELECT INBOX");
    let (validity, modseq) = (code(&select, "UIDVALIDITY"), code(&select, "HIGHESTMODSEQ"));
    let exists: usize = select
        .iter()
        .find_map(|l| l.strip_suffix(" EXISTS")?.strip_prefix("* ")?.parse().ok())
        .expect("EXISTS");
    phone.cmd("LOGOUT");
    // The laptop: 90 flags and 10 expunges, spread over the folder (other messages each round).
    let mut laptop = Client::login(addr);
    laptop.cmd("SELECT INBOX");
    let step = (exists / 101).max(1);
    for i in 0..100usize {
        let n = (1 + i * step + round) % exists.max(1) + 1;
        // A flag no earlier round set, so each STORE is a real change.
        let flags = ["\\Flagged", "\\Answered", "\\Seen", "\\Draft", "$Bench"];
        let flag = if i < 90 {
            flags[round % flags.len()]
        } else {
            "\\Deleted"
        };
        laptop.cmd(&format!("STORE {n} +FLAGS.SILENT ({flag})"));
    }
    laptop.cmd("EXPUNGE");
    laptop.cmd("LOGOUT");
    // The phone comes back.
    let mut phone = Client::login(addr);
    phone.cmd("ENABLE QRESYNC");
    let t = Instant::now();
    let answer = phone.cmd(&format!("SELECT INBOX (QRESYNC ({validity} {modseq}))"));
    let resync = t.elapsed();
    let fetches = answer.iter().filter(|l| l.contains(" FETCH (")).count();
    let vanished = vanished_count(&answer);
    assert_eq!(
        (fetches, vanished),
        (90, 10),
        "the resync must tell exactly the 100 changes ({messages} messages)"
    );
    let t = Instant::now();
    let all = phone.cmd("UID FETCH 1:* (FLAGS)");
    let full = t.elapsed();
    assert_eq!(
        all.len(),
        exists - 10,
        "UID FETCH 1:* answers every message"
    );
    phone.cmd("LOGOUT");
    (resync, full)
}

fn main() {
    let o = options();
    if let Some(root) = &o.maildir {
        let maildir = Maildir::create(root).expect("create the Maildir");
        for n in 0..o.messages {
            let text =
                format!("Subject: message {n}\r\nFrom: alice@bench.test\r\n\r\nbody {n}\r\n");
            maildir
                .deliver(&[text.as_bytes()], "bench.test")
                .expect("deliver");
        }
        println!("imap_sync: {} messages in {}", o.messages, root.display());
        return;
    }
    let mut server = None;
    let mut fresh = None;
    let (name, addr) = match (o.target, &o.data) {
        (Some(addr), _) => ("server", addr),
        (None, data) => {
            let dir = match data {
                Some(dir) => dir.clone(),
                None => {
                    let dir = common::fresh_dir("imap-sync");
                    std::fs::write(dir.join("users"), "bob:{PLAIN}bench\n").expect("users");
                    let maildir = Maildir::create(&dir.join("mail/bob")).expect("Maildir");
                    for n in 0..o.messages {
                        let text = format!("Subject: message {n}\r\n\r\nbody {n}\r\n");
                        maildir
                            .deliver(&[text.as_bytes()], "bench.test")
                            .expect("deliver");
                    }
                    fresh = Some(dir.clone());
                    dir
                }
            };
            let s = common::Postlab::start(
                &dir,
                &["--hostname", "bench.test"],
                "warn",
                Stdio::inherit(),
            );
            let addr = s.addr("imap");
            server = Some(s);
            ("postlab", addr)
        }
    };
    // A first SELECT numbers a fresh folder (both servers build their index then): not timed.
    let mut first = Client::login(addr);
    first.cmd("SELECT INBOX");
    first.cmd("LOGOUT");
    for round in 0..o.cycles {
        let (resync, full) = cycle(addr, o.messages, round);
        println!(
            "imap_sync: {name} at {addr}: QRESYNC resync after 100 changes on {} messages {:.1} ms, full UID FETCH 1:* (FLAGS) {:.1} ms",
            o.messages,
            resync.as_secs_f64() * 1000.0,
            full.as_secs_f64() * 1000.0
        );
        println!(
            "imap_sync: result {name} resync_ms {:.2} full_ms {:.2}",
            resync.as_secs_f64() * 1000.0,
            full.as_secs_f64() * 1000.0
        );
    }
    drop(server);
    if let Some(dir) = fresh {
        let _ = std::fs::remove_dir_all(dir);
    }
}
