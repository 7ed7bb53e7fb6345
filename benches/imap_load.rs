//! `make bench-imap`: IMAP on a large folder, and how long the usual client commands take.
//!
//! Fills bob's INBOX with M messages of K bytes (written straight into the Maildir with
//! `Maildir::deliver`, as SMTP delivery would), starts `postlab serve` (release build) on it and
//! measures, over one connection, after `LOGIN`:
//!
//! - the first SELECT (every message gets its UID and the list is written) and a second one;
//! - `FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)`, what a client sends to draw a message list;
//! - `FETCH 1:* BODY.PEEK[]`, in messages per second;
//! - with `--sessions N`, N sessions that stay logged in on the same INBOX for `--seconds S`,
//!   each sending one command at a time, drawn at random (seeded per session, so both servers
//!   get the same sequence): `UID FETCH` of flags and header (30 %) or of the whole body (10 %),
//!   `UID STORE` +/- `\Flagged` or `\Seen` (40 %), `UID SEARCH` (10 %) and `NOOP` (10 %):
//!   commands per second for all of them together, and the median, 99th percentile and mean
//!   of the time from sending a command to its tagged OK. This is the shared-folder path of issue 15:
//!   every STORE takes the folder's lock and every command ends with a look for other
//!   sessions' changes. `--sessions-only` skips the single-session figures above. It also
//!   prints the median of each kind of command (FETCH, STORE, SEARCH, NOOP).
//! - with `--rate R` as well, the sessions together send R commands per second on a fixed
//!   schedule instead of each sending its next command as soon as the last is answered, and
//!   a command's time runs from when the schedule says to send it (so a command delayed
//!   behind a slow one counts its wait). Sessions that send as fast as they can measure
//!   throughput, but their latency is only commands in flight divided by throughput (a
//!   server whose sessions mostly wait in a queue shows fast answers to the few that run);
//!   the same fixed rate on two servers compares what each command costs under one load.
//!
//! ```text
//! cargo bench --bench imap_load -- --messages 10000 --size 4096
//! cargo bench --bench imap_load -- --maildir /tmp/m/bob --messages 10000 --size 4096
//! cargo bench --bench imap_load -- --data /tmp/p --user bob --password bench
//! cargo bench --bench imap_load -- --target 127.0.0.1:20143 --user bob --password bench
//! cargo bench --bench imap_load -- --messages 1000 --sessions 8 --seconds 10
//! cargo bench --bench imap_load -- --target 127.0.0.1:20143 --messages 10000 --sessions 50 \
//!     --seconds 20 --sessions-only
//! ```
//!
//! `--maildir DIR` only fills DIR and exits. `--data DIR` starts postlab on a data directory that
//! is already filled (a `users` file and `mail/USER`), and leaves it in place. `--target ADDR`
//! measures another IMAP server (Dovecot, say) with the very same client code, so the figures
//! can be set side by side (see benches/dovecot/README.md and `imap.sh` there).
//!
//! Every answer is checked: SELECT must report M messages (RFC 9051 7.4.1 EXISTS), and the body
//! FETCH must return M literals of K octets each, or the run stops with an error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

mod common;

struct Options {
    messages: usize,
    size: usize,
    maildir: Option<PathBuf>,
    data: Option<PathBuf>,
    target: Option<SocketAddr>,
    user: String,
    password: String,
    sessions: usize,
    seconds: u64,
    sessions_only: bool,
    /// Commands per second for all sessions together; 0: as fast as they are answered.
    rate: f64,
}

fn options() -> Options {
    let mut o = Options {
        messages: 10_000,
        size: 4096,
        maildir: None,
        data: None,
        target: None,
        user: "bob".into(),
        password: "bench".into(),
        sessions: 0,
        seconds: 10,
        sessions_only: false,
        rate: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--messages" => o.messages = value().parse().expect("a number"),
            "--size" => o.size = value().parse().expect("a number"),
            "--maildir" => o.maildir = Some(value().into()),
            "--data" => o.data = Some(value().into()),
            "--target" => o.target = Some(value().parse().expect("an address HOST:PORT")),
            "--user" => o.user = value(),
            "--password" => o.password = value(),
            "--sessions" => o.sessions = value().parse().expect("a number"),
            "--seconds" => o.seconds = value().parse().expect("a number"),
            "--sessions-only" => o.sessions_only = true,
            "--rate" => o.rate = value().parse().expect("a number"),
            _ => {} // cargo passes --bench
        }
    }
    o
}

/// What one session measured.
struct Figures {
    messages: usize,
    first_select: Duration,
    second_select: Duration,
    list: Duration,
    bodies: Duration,
}

fn main() {
    let o = options();

    if let Some(root) = &o.maildir {
        let t = Instant::now();
        fill(root, o.messages, o.size);
        println!(
            "imap_load: {} messages of {} bytes in {} ({:.1} s)",
            o.messages,
            o.size,
            root.display(),
            t.elapsed().as_secs_f64()
        );
        return;
    }

    // Who to measure: another server, postlab on a given data directory, or postlab on a
    // fresh one filled here (removed afterwards).
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
            let dir = common::fresh_dir("imap-bench");
            std::fs::write(
                dir.join("users"),
                format!("{}:{{PLAIN}}{}\n", o.user, o.password),
            )
            .expect("write the users file");
            let t = Instant::now();
            fill(&dir.join("mail").join(&o.user), o.messages, o.size);
            println!(
                "imap_load: wrote {} messages in {:.1} s",
                o.messages,
                t.elapsed().as_secs_f64()
            );
            let server = start_postlab(&dir);
            let addr = server.addr("imap");
            started = Some((server, Some(dir)));
            ("postlab", addr)
        }
    };

    let messages = if o.sessions_only {
        o.messages
    } else {
        report(name, addr, &o)
    };

    if o.sessions > 0 {
        let (timed, elapsed) = together(addr, &o, messages);
        // The median of each kind: a server may keep reads fast while changes queue.
        let medians: Vec<String> = KINDS
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let mut of_kind: Vec<Duration> = timed
                    .iter()
                    .filter(|(kind, _)| *kind == k)
                    .map(|(_, d)| *d)
                    .collect();
                of_kind.sort_unstable();
                let p50 = of_kind
                    .get(of_kind.len() / 2)
                    .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
                format!("{}={p50:.3}", name.to_lowercase())
            })
            .collect();
        let mut latencies: Vec<Duration> = timed.into_iter().map(|(_, d)| d).collect();
        let commands = latencies.len();
        let rate = commands as f64 / elapsed.as_secs_f64();
        latencies.sort_unstable();
        let percentile = |p: usize| {
            latencies
                .get((commands * p / 100).min(commands.saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let (p50, p99) = (percentile(50), percentile(99));
        let mean = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0
            / commands.max(1) as f64;
        println!(
            "imap_load: {} sessions on one INBOX: {commands} commands in {:.1} s, {rate:.0} \
commands/s, latency p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms",
            o.sessions,
            elapsed.as_secs_f64()
        );
        // One line for scripts (benches/dovecot/imap.sh sets the two servers side by side).
        println!(
            "imap_load: sessions {name} clients={} commands={commands} rate={rate:.0} \
p50={p50:.3} p99={p99:.3} mean={mean:.3}{}",
            o.sessions,
            if o.rate > 0.0 {
                format!(" paced={:.0}", o.rate)
            } else {
                String::new()
            }
        );
        println!(
            "imap_load: kinds {name} clients={} p50 {}",
            o.sessions,
            medians.join(" ")
        );
    }

    if let Some((server, dir)) = started {
        drop(server);
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The single-session figures: LOGIN, two SELECTs, the list FETCH and the body FETCH, printed.
/// Returns the number of messages in the folder.
fn report(name: &str, addr: SocketAddr, o: &Options) -> usize {
    let f = measure(addr, o);
    println!(
        "imap_load: {name} at {addr}: {} messages x {} bytes",
        f.messages, o.size
    );
    println!(
        "imap_load: first SELECT:  {:.3} s (gives {} UIDs)",
        f.first_select.as_secs_f64(),
        f.messages
    );
    println!(
        "imap_load: second SELECT: {:.3} s",
        f.second_select.as_secs_f64()
    );
    println!(
        "imap_load: FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE): {:.3} s",
        f.list.as_secs_f64()
    );
    let rate = f.messages as f64 / f.bodies.as_secs_f64();
    println!(
        "imap_load: FETCH 1:* BODY.PEEK[]: {:.3} s, {rate:.0} messages/s",
        f.bodies.as_secs_f64()
    );
    // One line for scripts (benches/dovecot/imap.sh takes its medians from these).
    println!(
        "imap_load: result {name} select1={:.4} select2={:.4} list={:.4} bodies={:.4} rate={rate:.0}",
        f.first_select.as_secs_f64(),
        f.second_select.as_secs_f64(),
        f.list.as_secs_f64(),
        f.bodies.as_secs_f64(),
    );

    f.messages
}

/// A message of exactly `size` bytes (at least its header), with the header fields ENVELOPE
/// reports, and a body of CRLF lines of up to 78 characters.
fn message(n: usize, size: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Alice <alice@bench.test>\r\nTo: bob@bench.test\r\nSubject: message {n}\r\n\
Date: Thu, 26 Nov 2026 15:20:55 +0000\r\nMessage-ID: <{n}@bench.test>\r\n\r\n"
    )
    .into_bytes();
    while text.len() + 80 <= size {
        text.extend_from_slice(&[b'x'; 78]);
        text.extend_from_slice(b"\r\n");
    }
    let rest = size.saturating_sub(text.len() + 2);
    text.extend(std::iter::repeat_n(b'y', rest));
    text.extend_from_slice(b"\r\n");
    text
}

fn fill(root: &Path, count: usize, size: usize) {
    let maildir = Maildir::create(root).expect("create the Maildir");
    for n in 0..count {
        maildir
            .deliver(&[&message(n, size)], "bench.test")
            .expect("deliver");
    }
}

/// postlab on `dir`, as `make bench-imap` runs it.
fn start_postlab(dir: &Path) -> common::Postlab {
    common::Postlab::start(dir, &["--hostname", "bench.test"], "warn", Stdio::inherit())
}

/// What came back for one tagged command.
struct Answer {
    elapsed: Duration,
    /// Untagged `* N EXISTS` seen, if any.
    exists: Option<usize>,
    /// Untagged `* N FETCH` responses.
    fetches: usize,
    /// Sizes of the literals received.
    literals: Vec<u64>,
}

/// One IMAP connection: sends tagged commands one at a time and reads to the tagged answer.
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
        let greeting = client.line();
        assert!(
            greeting.starts_with(b"* OK"),
            "greeting: {}",
            show(&greeting)
        );
        client
    }

    fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read");
        assert!(!line.is_empty(), "the server closed the connection");
        line
    }

    /// Sends `command`, reads every response up to its tagged OK, and times the whole.
    fn run(&mut self, command: &str) -> Answer {
        self.tag += 1;
        let tag = format!("t{} ", self.tag);
        let start = Instant::now();
        self.writer
            .write_all(format!("{tag}{command}\r\n").as_bytes())
            .expect("write");
        let mut answer = Answer {
            elapsed: Duration::ZERO,
            exists: None,
            fetches: 0,
            literals: Vec::new(),
        };
        loop {
            let line = self.line();
            if let Some(rest) = line.strip_prefix(b"* ") {
                let text = String::from_utf8_lossy(rest);
                let mut words = text.split_whitespace();
                if let (Some(n), Some(kind)) = (words.next(), words.next()) {
                    match (n.parse::<usize>(), kind.to_ascii_uppercase().as_str()) {
                        (Ok(n), "EXISTS") => answer.exists = Some(n),
                        (Ok(_), "FETCH") => answer.fetches += 1,
                        _ => {}
                    }
                }
            }
            // A line ending in {N} is followed by N octets of literal (RFC 9051 4.3), then the
            // rest of the response on a further line; that rest can hold another literal.
            let mut current = line;
            while let Some(n) = literal_size(&current) {
                std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink())
                    .expect("read a literal");
                answer.literals.push(n);
                current = self.line();
            }
            if current.starts_with(tag.as_bytes()) {
                answer.elapsed = start.elapsed();
                assert!(
                    current[tag.len()..].starts_with(b"OK"),
                    "{command}: {}",
                    show(&current)
                );
                return answer;
            }
        }
    }
}

/// `{N}` (or `{N+}`) at the end of a line, the size of the literal that follows.
fn literal_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let (_, n) = text.trim_end().strip_suffix('}')?.rsplit_once('{')?;
    n.trim_end_matches('+').parse().ok()
}

fn show(line: &[u8]) -> String {
    String::from_utf8_lossy(line).trim_end().to_string()
}

/// The kinds of command `--sessions` sends, for the median of each ([`together`]).
const KINDS: [&str; 4] = ["FETCH", "STORE", "SEARCH", "NOOP"];

/// `--sessions N`: N logged-in sessions on one INBOX, each sending random commands (see the
/// module comment) for `--seconds`. Returns the time each command took (each checked OK) and
/// the time taken by all.
fn together(addr: SocketAddr, o: &Options, messages: usize) -> (Vec<(usize, Duration)>, Duration) {
    // Every session is connected and has its folder open before the clock starts.
    let ready = std::sync::Arc::new(std::sync::Barrier::new(o.sessions + 1));
    let seconds = o.seconds;
    // With `--rate`: each session sends every `interval`, the sessions spread evenly across it.
    let interval = (o.rate > 0.0).then(|| Duration::from_secs_f64(o.sessions as f64 / o.rate));
    let sessions = o.sessions as u32;
    let threads: Vec<_> = (0..o.sessions)
        .map(|who| {
            let (user, password) = (o.user.clone(), o.password.clone());
            let ready = ready.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                client.run(&format!("LOGIN {user} {password}"));
                client.run("SELECT INBOX");
                ready.wait();
                let start = Instant::now();
                let until = start + Duration::from_secs(seconds);
                let mut sent = 0u32;
                // A small linear congruential generator, seeded by the session's number: the
                // same sequence of commands against each server.
                let mut state = who as u64 * 7919 + 1;
                let mut next = || {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 33) as usize
                };
                let mut times = Vec::new();
                while Instant::now() < until {
                    let uid = next() % messages.max(1) + 1;
                    let command = match next() % 10 {
                        0..=2 => format!("UID FETCH {uid} (FLAGS BODY.PEEK[HEADER])"),
                        3 => format!("UID FETCH {uid} (FLAGS BODY.PEEK[])"),
                        4 => format!("UID STORE {uid} +FLAGS (\\Flagged)"),
                        5 => format!("UID STORE {uid} -FLAGS (\\Flagged)"),
                        6 => format!("UID STORE {uid} +FLAGS (\\Seen)"),
                        7 => format!("UID STORE {uid} -FLAGS (\\Seen)"),
                        8 => format!("UID SEARCH UID {uid}:* FLAGGED"),
                        _ => "NOOP".to_string(),
                    };
                    let kind = command.split(' ').nth(1).unwrap_or("NOOP");
                    let kind = KINDS.iter().position(|k| *k == kind).unwrap_or(3);
                    let due =
                        interval.map(|every| start + every * sent + every * who as u32 / sessions);
                    sent += 1;
                    match due {
                        Some(due) => {
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                            client.run(&command);
                            times.push((kind, due.elapsed()));
                        }
                        None => times.push((kind, client.run(&command).elapsed)),
                    }
                }
                client.run("LOGOUT");
                times
            })
        })
        .collect();
    ready.wait();
    let start = Instant::now();
    let mut latencies = Vec::new();
    for thread in threads {
        latencies.extend(thread.join().expect("a session failed"));
    }
    (latencies, start.elapsed())
}

/// LOGIN, two SELECTs, the list FETCH and the body FETCH, each checked.
fn measure(addr: SocketAddr, o: &Options) -> Figures {
    let mut client = Client::connect(addr);
    client.run(&format!("LOGIN {} {}", o.user, o.password));
    let first = client.run("SELECT INBOX");
    let messages = first.exists.expect("SELECT reports EXISTS");
    assert_eq!(messages, o.messages, "the folder holds another count");
    let second = client.run("SELECT INBOX");
    let list = client.run("FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)");
    assert_eq!(list.fetches, messages, "list FETCH responses");
    let bodies = client.run("FETCH 1:* BODY.PEEK[]");
    assert_eq!(bodies.fetches, messages, "body FETCH responses");
    assert_eq!(bodies.literals.len(), messages, "body literals");
    assert!(
        bodies.literals.iter().all(|&n| n == o.size as u64),
        "a body came back with another size than {}",
        o.size
    );
    client.run("LOGOUT");
    Figures {
        messages,
        first_select: first.elapsed,
        second_select: second.elapsed,
        list: list.elapsed,
        bodies: bodies.elapsed,
    }
}
