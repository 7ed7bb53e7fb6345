//! `make stress`: postlab under a crowd and under attack, on loopback only.
//!
//! Two scenarios against a release build of `postlab serve`, each on a fresh data directory:
//!
//! 1. **Crowd.** 2,000 SMTP sessions and 500 IMAP sessions are open *at the same time* (every
//!    session waits at a common barrier once greeted, logged in and selected), while an attacker
//!    holds 300 slowloris connections (one octet every 3 s) and 100 TLS handshakes that stop
//!    half-way. Then every SMTP session sends a message and every IMAP session fetches one.
//!    Three such waves run one after the other against the same server, and its memory with
//!    everyone connected is reported for each: it must not grow from wave to wave.
//!    Checked: every 250 is a message in the right Maildir; every SELECT reports what is on
//!    disk; every FETCHed body has its size; the attacker's 21st connection from one address is
//!    turned away (`max_connections_per_ip`).
//! 2. **Siege.** `max_connections = 200`: 600 slowloris connections from 30 addresses, which
//!    reconnect as soon as they are cut, and 100 stalled TLS handshakes, fill the server past
//!    "busy" (three quarters of its places). The busy clocks (`src/pace.rs`) must give places
//!    back within seconds so that new clients are still served.
//!
//! Throughout both, a probe client starts a new SMTP session every half second and sends one
//! message (retrying once a second after a 421 "too many connections"), and the server's
//! resident memory and thread count are sampled from `/proc`. The summary prints how long the
//! probes waited, the peak memory, and how the attackers fared.
//!
//! ```text
//! make stress
//! cargo bench --bench stress -- --smtp 2000 --imap 500 --slowloris 300 --stalls 100 --waves 3
//! ```
//!
//! Attack connections come from 127.0.0.2 and up (the server trusts only 127.0.0.1 here, so
//! the per-address limit holds for them); the crowd and the probe come from 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

mod common;

const PASSWORD: &str = "stress";
/// IMAP sessions log in as u0 … u49; SMTP mail goes to s0 … s49.
const USERS: usize = 50;
/// Messages each IMAP user has before the run.
const PREFILLED: usize = 10;
/// Stack for each client thread: they hold a socket and a few buffers.
const STACK: usize = 256 * 1024;

struct Options {
    smtp: usize,
    imap: usize,
    slowloris: usize,
    stalls: usize,
    siege_seconds: u64,
    waves: usize,
}

fn options() -> Options {
    let mut o = Options {
        smtp: 2000,
        imap: 500,
        slowloris: 300,
        stalls: 100,
        siege_seconds: 40,
        waves: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match flag.as_str() {
            "--smtp" => o.smtp = value().parse().expect("a number"),
            "--imap" => o.imap = value().parse().expect("a number"),
            "--slowloris" => o.slowloris = value().parse().expect("a number"),
            "--stalls" => o.stalls = value().parse().expect("a number"),
            "--siege-seconds" => o.siege_seconds = value().parse().expect("a number"),
            "--waves" => o.waves = value().parse().expect("a number"),
            _ => {} // cargo passes --bench
        }
    }
    o
}

fn main() {
    let o = options();
    let limit = open_files_limit();
    let needed = (o.smtp + o.imap + o.slowloris + o.stalls) * 2 + 200;
    if limit < needed as u64 {
        eprintln!("stress: open files limit {limit} is under the {needed} this run needs; raise it (ulimit -n)");
        std::process::exit(1);
    }
    let started = Instant::now();
    let crowd_ok = crowd(&o);
    let siege_ok = siege(&o);
    println!(
        "\nstress: {} in {:.0} s",
        if crowd_ok && siege_ok {
            "PASSED"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64()
    );
    if !(crowd_ok && siege_ok) {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: the crowd.

fn crowd(o: &Options) -> bool {
    let max = o.smtp + o.imap + o.slowloris + o.stalls + 2000;
    let server = Server::start(
        "crowd",
        &format!(
            "max_connections = {max}\nmax_connections_per_ip = 20\nrelay_networks = 127.0.0.1/32\n"
        ),
    );
    println!(
        "stress 1, crowd: {} waves of {} SMTP + {} IMAP sessions at once, beside {} slowloris and {} stalled TLS handshakes (max_connections {max})",
        o.waves, o.smtp, o.imap, o.slowloris, o.stalls
    );
    let monitor = Monitor::start(server.pid());
    let probe = Probe::start(server.addr("smtp"));
    let attack = Attack::start(&server, o.slowloris, o.stalls, false);
    attack.wait_until_open(o.slowloris + o.stalls);
    let turned_away = attack.one_too_many(server.addr("smtp"));
    // The same crowd again and again: memory at the peak must not grow from wave to wave.
    let mut ok = true;
    for wave in 1..=o.waves {
        ok &= crowd_wave(o, &server, &monitor, wave);
    }
    let probes = probe.stop();
    let attacked = attack.stop();
    let memory = monitor.stop();
    let panics = server.stop();
    println!("  21st attack connection from one address: {turned_away}");
    attacked.print();
    probes.print();
    memory.print();
    if panics > 0 {
        println!("  the server's log has {panics} panics");
    }
    let ok = ok && turned_away.starts_with("421 4.7.0") && probes.failed == 0 && panics == 0;
    println!("  crowd: {}", if ok { "ok" } else { "FAILED" });
    ok
}

/// One wave: every SMTP and IMAP session open at once, then each does its work; every answer
/// checked against the disk.
fn crowd_wave(o: &Options, server: &Server, monitor: &Monitor, wave: usize) -> bool {
    let barrier = Arc::new(Barrier::new(o.smtp + o.imap + 1));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let fetched = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    // IMAP reads u0 … u49, which keep their PREFILLED messages; SMTP writes to s0 … s49, so the
    // IMAP sessions' work (and memory) is the same in every wave.
    let inboxes: Vec<usize> = (0..USERS)
        .map(|u| server.mail_count(&format!("u{u}")))
        .collect();
    let before: Vec<usize> = (0..USERS)
        .map(|u| server.mail_count(&format!("s{u}")))
        .collect();
    let t = Instant::now();
    for n in 0..o.smtp {
        let (barrier, failures, accepted) = (barrier.clone(), failures.clone(), accepted.clone());
        let addr = server.addr("smtp");
        threads.push(spawn(move || {
            let result = smtp_session(addr, n, &barrier, &accepted);
            if let Err(e) = result {
                failures.lock().unwrap().push(format!("smtp {n}: {e}"));
            }
        }));
    }
    for n in 0..o.imap {
        let (barrier, failures, fetched) = (barrier.clone(), failures.clone(), fetched.clone());
        let addr = server.addr("imap");
        let expected = inboxes[n % USERS];
        threads.push(spawn(move || {
            let result = imap_session(addr, n, expected, &barrier, &fetched);
            if let Err(e) = result {
                failures.lock().unwrap().push(format!("imap {n}: {e}"));
            }
        }));
    }
    barrier.wait();
    let all_open = t.elapsed();
    let at_peak = monitor.now();
    for thread in threads {
        let _ = thread.join();
    }
    let all_done = t.elapsed();

    // Every 250 must be a message on disk, in the right Maildir.
    let mut missing = 0;
    for (user, had) in before.iter().enumerate() {
        let sent = (0..o.smtp).filter(|n| n % USERS == user).count();
        missing += (had + sent).abs_diff(server.mail_count(&format!("s{user}")));
    }
    let failures = failures.lock().unwrap().clone();
    let (accepted, fetched) = (
        accepted.load(Ordering::SeqCst),
        fetched.load(Ordering::SeqCst),
    );
    println!(
        "  wave {wave}: all {} sessions open at once after {:.1} s, done after {:.1} s; then {} server threads, RSS {} MiB",
        o.smtp + o.imap,
        all_open.as_secs_f64(),
        all_done.as_secs_f64(),
        at_peak.threads,
        at_peak.rss_kib / 1024
    );
    println!(
        "    SMTP {accepted}/{} messages accepted with 250, Maildirs differ from the 250s by {missing}; IMAP {fetched}/{} sessions SELECTed the right count and FETCHed a whole body",
        o.smtp, o.imap
    );
    for failure in failures.iter().take(10) {
        println!("    failure: {failure}");
    }
    failures.is_empty() && missing == 0 && accepted == o.smtp && fetched == o.imap
}

/// One SMTP session: greeted and introduced, wait for everyone, then one message.
fn smtp_session(
    addr: SocketAddr,
    n: usize,
    barrier: &Barrier,
    accepted: &AtomicUsize,
) -> Result<(), String> {
    let opened = Lines::connect(addr);
    let mut c = match opened {
        Ok(mut c) => {
            let greeted = c.reply().and_then(|r| expect(&r, "220"));
            let ehlo = greeted.and_then(|_| c.command(&format!("EHLO client{n}.stress.test")));
            match ehlo.and_then(|r| expect(&r, "250")) {
                Ok(()) => c,
                Err(e) => {
                    barrier.wait();
                    return Err(e);
                }
            }
        }
        Err(e) => {
            barrier.wait();
            return Err(e);
        }
    };
    barrier.wait();
    let user = n % USERS;
    expect(&c.command("MAIL FROM:<crowd@stress.test>")?, "250")?;
    expect(
        &c.command(&format!("RCPT TO:<s{user}@stress.test>"))?,
        "250",
    )?;
    expect(&c.command("DATA")?, "354")?;
    let mut body = format!("From: crowd@stress.test\r\nSubject: crowd {n}\r\n\r\n");
    for _ in 0..24 {
        body.push_str(&"x".repeat(78));
        body.push_str("\r\n");
    }
    body.push_str(".\r\n");
    c.send(body.as_bytes())?;
    expect(&c.reply()?, "250")?;
    accepted.fetch_add(1, Ordering::SeqCst);
    let _ = c.command("QUIT");
    Ok(())
}

/// One IMAP session: logged in and selected (checking the count), wait for everyone, then a
/// FETCH of the first message's body.
fn imap_session(
    addr: SocketAddr,
    n: usize,
    expected: usize,
    barrier: &Barrier,
    fetched: &AtomicUsize,
) -> Result<(), String> {
    let user = n % USERS;
    let ready = (|| {
        let mut c = Lines::connect(addr)?;
        let greeting = c.line()?;
        if !greeting.starts_with("* OK") {
            return Err(format!("greeting {greeting:?}"));
        }
        c.tagged("a1", &format!("LOGIN u{user} {PASSWORD}"))?;
        let select = c.tagged("a2", "SELECT INBOX")?;
        let exists = select
            .iter()
            .find_map(|l| l.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok());
        if exists != Some(expected) {
            return Err(format!("SELECT gave {exists:?} EXISTS, {expected} on disk"));
        }
        Ok(c)
    })();
    barrier.wait();
    let mut c = ready?;
    c.send(b"a3 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")?;
    let first = c.line()?;
    let size: usize = first
        .split("RFC822.SIZE ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no RFC822.SIZE in {first:?}"))?;
    let literal: usize = first
        .rsplit('{')
        .next()
        .and_then(|s| s.strip_suffix('}'))
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no literal in {first:?}"))?;
    if literal != size {
        return Err(format!("body of {literal} octets, RFC822.SIZE {size}"));
    }
    c.skip(literal)?;
    loop {
        let line = c.line()?;
        if line.starts_with("a3 ") {
            if !line.starts_with("a3 OK") {
                return Err(line);
            }
            break;
        }
    }
    fetched.fetch_add(1, Ordering::SeqCst);
    let _ = c.tagged("a4", "LOGOUT");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: the siege.

fn siege(o: &Options) -> bool {
    let server = Server::start(
        "siege",
        "max_connections = 200\nmax_connections_per_ip = 20\nrelay_networks = 127.0.0.1/32\nbusy_timeout = 10\n",
    );
    let slow = o.slowloris;
    println!(
        "\nstress 2, siege: {slow} slowloris from {} addresses that reconnect when cut, and {} stalled TLS handshakes, against max_connections 200 (busy from 150), for {} s",
        slow / 20,
        o.stalls,
        o.siege_seconds
    );
    let monitor = Monitor::start(server.pid());
    let attack = Attack::start(&server, slow, o.stalls, true);
    // Let the attack fill the server before the probe begins.
    std::thread::sleep(Duration::from_secs(3));
    let probe = Probe::start(server.addr("smtp"));
    std::thread::sleep(Duration::from_secs(o.siege_seconds));
    let probes = probe.stop();
    let attacked = attack.stop();
    let memory = monitor.stop();
    let panics = server.stop();
    attacked.print();
    probes.print();
    memory.print();
    if panics > 0 {
        println!("  the server's log has {panics} panics");
    }
    // A new client must be served at once, not after the attackers' connections time out.
    let slowest = probes.waits.iter().max().copied().unwrap_or_default();
    let ok =
        probes.failed == 0 && probes.served > 0 && slowest < Duration::from_secs(10) && panics == 0;
    println!("  siege: {}", if ok { "ok" } else { "FAILED" });
    ok
}

// ---------------------------------------------------------------------------------------------
// The server.

struct Server {
    postlab: common::Postlab,
    dir: PathBuf,
}

impl Server {
    /// A data directory with USERS users, PREFILLED messages each, and `config`; then serve.
    fn start(name: &str, config: &str) -> Server {
        let dir = common::fresh_dir(&format!("stress-{name}"));
        let users: String = (0..USERS)
            .flat_map(|u| {
                [
                    format!("u{u}:{{PLAIN}}{PASSWORD}\n"),
                    format!("s{u}:{{PLAIN}}{PASSWORD}\n"),
                ]
            })
            .chain(std::iter::once(format!("probe:{{PLAIN}}{PASSWORD}\n")))
            .collect();
        std::fs::write(dir.join("users"), users).expect("write users");
        std::fs::write(
            dir.join("postlab.conf"),
            format!("hostname = stress.test\ndomains = stress.test\n{config}"),
        )
        .expect("write postlab.conf");
        for u in 0..USERS {
            let maildir =
                Maildir::create(&dir.join("mail").join(format!("u{u}"))).expect("Maildir");
            for m in 0..PREFILLED {
                let text = format!(
                    "From: alice@stress.test\r\nTo: u{u}@stress.test\r\nSubject: before {m}\r\n\r\nhello\r\n"
                );
                maildir
                    .deliver(&[text.as_bytes()], "stress.test")
                    .expect("deliver");
            }
        }
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let postlab = common::Postlab::start(&dir, &[], "warn", Stdio::from(log));
        Server { postlab, dir }
    }

    fn addr(&self, service: &str) -> SocketAddr {
        self.postlab.addr(service)
    }

    fn pid(&self) -> u32 {
        self.postlab.pid()
    }

    /// Messages in `user`'s Maildir (new and cur).
    fn mail_count(&self, user: &str) -> usize {
        let root = self.dir.join("mail").join(user);
        ["new", "cur"]
            .iter()
            .map(|d| {
                std::fs::read_dir(root.join(d))
                    .map(|r| r.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Stops the server and removes its directory; returns the panics its log shows.
    fn stop(self) -> usize {
        drop(self.postlab);
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let panics = log.matches("panicked").count();
        if panics > 0 {
            let keep = std::env::temp_dir().join("postlab-stress-server.log");
            let _ = std::fs::write(&keep, &log);
            println!("  server log kept in {}", keep.display());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        panics
    }
}

// ---------------------------------------------------------------------------------------------
// The attacker: slowloris connections and stalled TLS handshakes.

struct Attack {
    stop: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<Attacked>,
}

/// What happened to the attack connections.
struct Attacked {
    opened: usize,
    cut: usize,
    /// How long connections lived before the server cut them.
    lifetimes: Vec<Duration>,
    refused: usize,
}

impl Attacked {
    fn print(&self) {
        let mut l = self.lifetimes.clone();
        l.sort();
        let at = |q: f64| {
            l.get(((l.len() as f64 - 1.0) * q) as usize)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        };
        println!(
            "  attack: {} connections opened, {} cut by the server (lived median {:.1} s, max {:.1} s), {} turned away with 421 4.7.0",
            self.opened,
            self.cut,
            at(0.5),
            at(1.0),
            self.refused
        );
    }
}

/// The address attack connection `n` comes from: 20 per address, from 127.0.0.2 on.
fn attacker_ip(n: usize) -> IpAddr {
    let k = 2 + n / 20;
    IpAddr::V4(Ipv4Addr::new(127, 0, (k / 250) as u8, (k % 250) as u8 + 2))
}

fn connect_from(ip: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(10))?;
    Ok(socket.into())
}

struct Victim {
    stream: TcpStream,
    since: Instant,
    slot: usize,
    sent: usize,
    tls: bool,
    /// Greeted with 421 4.7.0: turned away at the door, not cut later.
    turned_away: bool,
}

impl Attack {
    fn start(server: &Server, slowloris: usize, stalls: usize, reconnect: bool) -> Attack {
        let smtp = server.addr("smtp");
        let tls_targets = [
            server.addr("smtps"),
            server.addr("imaps"),
            server.addr("pop3s"),
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let (stopping, counting) = (stop.clone(), open.clone());
        let thread = std::thread::spawn(move || {
            let mut report = Attacked {
                opened: 0,
                cut: 0,
                lifetimes: Vec::new(),
                refused: 0,
            };
            let open_one = |slot: usize, report: &mut Attacked| -> Option<Victim> {
                let tls = slot >= slowloris;
                let to = if tls { tls_targets[slot % 3] } else { smtp };
                let stream = connect_from(attacker_ip(slot), to).ok()?;
                stream.set_nonblocking(true).ok()?;
                report.opened += 1;
                Some(Victim {
                    stream,
                    since: Instant::now(),
                    slot,
                    sent: 0,
                    tls,
                    turned_away: false,
                })
            };
            let mut victims: Vec<Victim> = (0..slowloris + stalls)
                .filter_map(|slot| open_one(slot, &mut report))
                .collect();
            // The start of a TLS record carrying a ClientHello that claims 512 octets.
            let hello = [
                0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ];
            let slow_line = b"EHLO slowloris.attack.example.with.a.very.long.name.that.never.ends";
            let mut round = 0u64;
            while !stopping.load(Ordering::SeqCst) {
                counting.store(victims.len(), Ordering::SeqCst);
                let mut survivors = Vec::new();
                let mut lost = Vec::new();
                for mut v in victims.drain(..) {
                    // Read whatever the server said; 0 means it closed the connection.
                    let mut buf = [0u8; 4096];
                    let closed = loop {
                        match v.stream.read(&mut buf) {
                            Ok(0) => break true,
                            Ok(n) => {
                                if buf[..n].starts_with(b"421 4.7.0") {
                                    v.turned_away = true;
                                }
                                continue;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                            Err(_) => break true,
                        }
                    };
                    // One octet every 3 s (a round is 0.5 s); stalled handshakes send their
                    // first 11 octets and then nothing.
                    let mut write_failed = false;
                    if !closed && round % 6 == (v.slot % 6) as u64 {
                        let next = if v.tls {
                            hello.get(v.sent).copied()
                        } else {
                            // Skip the greeting's worth: octets of a line that never ends.
                            Some(slow_line[v.sent % slow_line.len()])
                        };
                        if let Some(byte) = next {
                            write_failed = v.stream.write(&[byte]).is_err();
                            v.sent += 1;
                        }
                    }
                    if closed || write_failed {
                        if v.turned_away {
                            report.refused += 1;
                        } else {
                            report.cut += 1;
                            report.lifetimes.push(v.since.elapsed());
                        }
                        lost.push(v.slot);
                    } else {
                        survivors.push(v);
                    }
                }
                victims = survivors;
                if reconnect {
                    for slot in lost {
                        if let Some(v) = open_one(slot, &mut report) {
                            victims.push(v);
                        }
                    }
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            report
        });
        Attack { stop, open, thread }
    }

    fn wait_until_open(&self, count: usize) {
        let started = Instant::now();
        while self.open.load(Ordering::SeqCst) < count
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A 21st connection from the first attack address: what the server says.
    fn one_too_many(&self, smtp: SocketAddr) -> String {
        let Ok(stream) = connect_from(attacker_ip(0), smtp) else {
            return "could not connect".into();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        let _ = BufReader::new(stream).read_line(&mut line);
        line.trim_end().to_string()
    }

    fn stop(self) -> Attacked {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the attack thread")
    }
}

// ---------------------------------------------------------------------------------------------
// The probe: a new client every half second.

struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Probed>,
}

struct Probed {
    served: usize,
    failed: usize,
    /// From the first connect to the 250 for the message, 421 retries included.
    waits: Vec<Duration>,
    retries: usize,
    errors: Vec<String>,
}

impl Probed {
    fn print(&self) {
        let mut w = self.waits.clone();
        w.sort();
        let at = |q: f64| {
            w.get(((w.len() as f64 - 1.0) * q) as usize)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
        };
        println!(
            "  probe (a new SMTP client every 0.5 s): {} served, {} failed; connect to 250: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} retries after 421",
            self.served,
            self.failed,
            at(0.5),
            at(0.99),
            at(1.0),
            self.retries
        );
        for e in self.errors.iter().take(5) {
            println!("  probe error: {e}");
        }
    }
}

impl Probe {
    fn start(smtp: SocketAddr) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut probed = Probed {
                served: 0,
                failed: 0,
                waits: Vec::new(),
                retries: 0,
                errors: Vec::new(),
            };
            let mut n = 0;
            while !stopping.load(Ordering::SeqCst) {
                let started = Instant::now();
                // Retry after "too many connections" for up to 60 s, as an MTA would (sooner).
                let result = loop {
                    match probe_once(smtp, n) {
                        Err(e)
                            if e.starts_with("421")
                                && started.elapsed() < Duration::from_secs(60) =>
                        {
                            probed.retries += 1;
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        other => break other,
                    }
                };
                match result {
                    Ok(()) => {
                        probed.served += 1;
                        probed.waits.push(started.elapsed());
                    }
                    Err(e) => {
                        probed.failed += 1;
                        probed.errors.push(e);
                    }
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(500).saturating_sub(started.elapsed()));
            }
            probed
        });
        Probe { stop, thread }
    }

    fn stop(self) -> Probed {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the probe thread")
    }
}

fn probe_once(smtp: SocketAddr, n: usize) -> Result<(), String> {
    let mut c = Lines::connect(smtp)?;
    let greeting = c.reply()?;
    if greeting.starts_with("421") {
        return Err(greeting);
    }
    expect(&greeting, "220")?;
    expect(&c.command("EHLO probe.stress.test")?, "250")?;
    expect(&c.command("MAIL FROM:<probe@stress.test>")?, "250")?;
    expect(&c.command("RCPT TO:<probe@stress.test>")?, "250")?;
    expect(&c.command("DATA")?, "354")?;
    c.send(format!("Subject: probe {n}\r\n\r\nstill served?\r\n.\r\n").as_bytes())?;
    expect(&c.reply()?, "250")?;
    let _ = c.command("QUIT");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Memory: the server's RSS and threads, from /proc.

struct Monitor {
    stop: Arc<AtomicBool>,
    pid: u32,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

#[derive(Clone, Copy, Default)]
struct Sample {
    rss_kib: u64,
    threads: u64,
}

struct Memory {
    samples: Vec<Sample>,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Sample {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
    }
}

impl Monitor {
    fn start(pid: u32) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stopping.load(Ordering::SeqCst) {
                samples.push(sample(pid));
                std::thread::sleep(Duration::from_millis(250));
            }
            samples.push(sample(pid));
            samples
        });
        Monitor { stop, pid, thread }
    }

    fn now(&self) -> Sample {
        sample(self.pid)
    }

    fn stop(self) -> Memory {
        self.stop.store(true, Ordering::SeqCst);
        Memory {
            samples: self.thread.join().expect("the monitor thread"),
        }
    }
}

impl Memory {
    fn print(&self) {
        let peak = self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let threads = self.samples.iter().map(|s| s.threads).max().unwrap_or(0);
        let first = self.samples.first().copied().unwrap_or_default();
        let last = self.samples.last().copied().unwrap_or_default();
        println!(
            "  server memory: RSS {} MiB at start, peak {} MiB ({} threads at most), {} MiB at the end ({} threads)",
            first.rss_kib / 1024,
            peak / 1024,
            threads,
            last.rss_kib / 1024,
            last.threads
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A line-oriented client connection.

struct Lines {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Lines {
    fn connect(addr: SocketAddr) -> Result<Lines, String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Lines {
            reader: BufReader::with_capacity(8 * 1024, stream),
            writer,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("closed by the server".into()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// An SMTP reply; a multi-line one is returned by its last line.
    fn reply(&mut self) -> Result<String, String> {
        loop {
            let line = self.line()?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }

    fn command(&mut self, line: &str) -> Result<String, String> {
        self.send(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// An IMAP command; the untagged lines before its OK.
    fn tagged(&mut self, tag: &str, command: &str) -> Result<Vec<String>, String> {
        self.send(format!("{tag} {command}\r\n").as_bytes())?;
        let mut untagged = Vec::new();
        loop {
            let line = self.line()?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return if rest.starts_with("OK") {
                    Ok(untagged)
                } else {
                    Err(format!("{command}: {line}"))
                };
            }
            untagged.push(line);
        }
    }

    fn skip(&mut self, octets: usize) -> Result<(), String> {
        let mut rest = vec![0u8; octets];
        self.reader
            .read_exact(&mut rest)
            .map_err(|e| format!("literal: {e}"))
    }
}

fn expect(reply: &str, code: &str) -> Result<(), String> {
    if reply.starts_with(code) {
        Ok(())
    } else {
        Err(format!("expected {code}, got {reply:?}"))
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("a client thread")
}

fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u64::MAX)
}
