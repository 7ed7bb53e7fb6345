//! `make bench`: SMTP load on a real postlab server, every message checked in the Maildir.
//!
//! Starts `postlab serve` (release build) on a fresh data directory, opens N sessions in
//! parallel, and has each send M messages of K bytes to bob over one connection. Reports
//! messages per second (from the first MAIL to the last 250), the latency of one message
//! (MAIL FROM to the 250 after DATA, which postlab sends only once the file is fsynced), the
//! server's CPU time per message (user and system, from `/proc/PID/stat`), and checks that
//! bob's `new/` holds exactly N × M files.
//!
//! ```text
//! cargo bench --bench smtp_load -- --sessions 10 --messages 1000 --size 4096
//! ```
//!
//! The cost of SPF, DKIM and DMARC (issue 20, `make bench-auth`):
//!
//! ```text
//! … -- --dkim sign     dkim_sign = yes (mail that stays here is not signed: this shows the
//!                      cost of deciding; relay_load --dkim shows the signing itself)
//! … -- --dkim check    every message comes as if from another server and is checked: the
//!                      bench makes sender.test's DKIM keys, signs the message with both
//!                      (rsa-sha256 and ed25519-sha256), serves SPF, DKIM and DMARC records
//!                      from a `postlab dns` of its own, and sets `relay_networks =` (so
//!                      loopback is "outside") and `dns_server`; one delivered message must
//!                      say spf=pass, dkim=pass twice and dmarc=pass
//! ```
//!
//! `POSTLAB_BENCH_CONFIG` adds lines to the server's postlab.conf and `POSTLAB_BENCH_HEADER`
//! fields to each message (CRLF-ended).

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
    let mut dkim = Dkim::Off;
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
            "--dkim" => {
                dkim = match args.get(i + 1).map(String::as_str) {
                    Some("sign") => Dkim::Sign,
                    Some("check") => Dkim::Check,
                    _ => panic!("--dkim sign or --dkim check"),
                }
            }
            _ => {} // cargo passes --bench
        }
        i += if args[i].starts_with("--") && args[i] != "--bench" {
            2
        } else {
            1
        };
    }

    // POSTLAB_BENCH_HEADER puts fields above the header.
    let extra = std::env::var("POSTLAB_BENCH_HEADER").unwrap_or_default();
    let sender = match dkim {
        Dkim::Check => SENDER_DOMAIN,
        _ => "bench.test",
    };
    let mut body = common::message(
        &format!("{extra}From: load@{sender}\r\nTo: bob@bench.test\r\nSubject: load\r\n"),
        size,
    );
    let keys_dir = common::fresh_dir("bench-dkim");
    let (settings, _dns) = match dkim {
        Dkim::Off => (String::new(), None),
        Dkim::Sign => ("dkim_sign = yes".to_string(), None),
        Dkim::Check => {
            let (signed, zone) = signed_by_sender(&keys_dir, &body);
            body = signed;
            let dns = common::LabDns::start(&keys_dir, &zone);
            let settings = format!("relay_networks =\ndns_server = {}", dns.addr);
            (settings, Some(dns))
        }
    };
    let (dir, server) = common::bench_server_with("bench", sessions, "warn", &settings);
    let addr = server.addr("smtp");
    let _boards = common::watch_board(server.addr("web"), watchers, stalled);
    let envelope: &'static [u8] = match dkim {
        Dkim::Check => b"MAIL FROM:<load@sender.test>\r\nRCPT TO:<bob@bench.test>\r\nDATA\r\n",
        _ => b"MAIL FROM:<load@bench.test>\r\nRCPT TO:<bob@bench.test>\r\nDATA\r\n",
    };
    let helo: &'static [u8] = match dkim {
        Dkim::Check => b"EHLO mx.sender.test\r\n",
        _ => b"EHLO bench.test\r\n",
    };
    let cpu_before = cpu_seconds(server.pid());
    let started = Instant::now();
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || session(addr, helo, envelope, messages, &body))
        })
        .collect();
    let mut latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("session"))
        .collect();
    let elapsed = started.elapsed();
    let cpu_after = cpu_seconds(server.pid());
    let per_message = |seconds: f64| seconds * 1e6 / (sessions * messages) as f64;
    let user = per_message(cpu_after.0 - cpu_before.0);
    let system = per_message(cpu_after.1 - cpu_before.1);

    let new_dir: PathBuf = dir.join("mail/bob/new");
    let arrived = std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0);
    let total = sessions * messages;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "smtp_load (dkim {dkim:?}; boards watching: {watchers} reading, {stalled} stalled): {sessions} sessions x {messages} messages x {size} bytes = {total} messages in {:.2} s: {:.0} messages/s, latency p50 {:.2} ms, p99 {:.2} ms; server CPU per message {:.0} µs ({:.0} user, {:.0} system); in the Maildir: {arrived}/{total}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        user + system,
        user,
        system,
    );
    if dkim == Dkim::Check && !settings_off_checks() {
        // The checks must have run and passed, or this measured something else.
        let first = std::fs::read_dir(&new_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .unwrap_or_default();
        for want in ["spf=pass", "dkim=pass", "dmarc=pass"] {
            assert!(
                first.contains(want),
                "no {want} in a delivered message:\n{first}"
            );
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&keys_dir);
    assert_eq!(
        arrived, total,
        "every acknowledged message must be in the Maildir"
    );
}

/// One client connection sending `count` messages; returns the latency of each.
fn session(
    addr: SocketAddr,
    helo: &[u8],
    envelope: &[u8],
    count: usize,
    body: &[u8],
) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    expect(&mut reader, "220");
    stream.write_all(helo).unwrap();
    expect(&mut reader, "250");
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        // PIPELINING: MAIL, RCPT and DATA in one write.
        stream.write_all(envelope).unwrap();
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

/// CPU time (user, system) in seconds the process `pid` has used, all its threads counted,
/// those that ended too: fields 14 and 15 of `/proc/PID/stat`, in ticks of USER_HZ, which
/// Linux fixes at 100 for user space. It moves less than messages/s when other work shares
/// the machine, so it shows what checking costs the server even on a busy one.
fn cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let mut ticks = || {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (user, system) = (ticks(), ticks());
    (user as f64 / 100.0, system as f64 / 100.0)
}

/// What the bench measures of issue 20 (`--dkim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dkim {
    Off,
    Sign,
    Check,
}

/// The domain whose mail `--dkim check` sends, from 127.0.0.1 as its SPF record allows.
const SENDER_DOMAIN: &str = "sender.test";

/// `message` (as sent after DATA) signed by sender.test with both its keys, made in `dir`,
/// and the zone that publishes them with SPF (for the domain and its HELO name mx.sender.test)
/// and DMARC p=reject: every check passes, so each message costs all of them.
fn signed_by_sender(dir: &std::path::Path, message: &[u8]) -> (Vec<u8>, String) {
    use postlab::mailauth::keys;
    keys::ensure(dir, SENDER_DOMAIN).expect("make sender.test's DKIM keys");
    let content = message.strip_suffix(b".\r\n").expect("a message ends in .");
    let domain_keys = keys::load(dir, SENDER_DOMAIN).expect("load the keys");
    let fields = postlab::mailauth::sign::signatures(domain_keys, SENDER_DOMAIN, content)
        .expect("sign the bench message");
    let mut signed = fields.into_bytes();
    signed.extend_from_slice(message);
    // The zone is `test.`, not `sender.test.`: DMARC's tree walk (RFC 9989 section 4.10) also
    // asks for _dmarc.test, which must be answered (NXDOMAIN), not refused.
    let mut zone = "$ORIGIN test.\n$TTL 300\n\
         @ SOA ns hostmaster ( 1 3600 600 86400 300 )\n\
         @ NS ns\n\
         ns A 127.0.0.1\n\
         sender TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         mx.sender TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
         _dmarc.sender TXT \"v=DMARC1; p=reject\"\n"
        .to_string();
    for (name, text) in keys::txt_records(dir, SENDER_DOMAIN).expect("the DKIM records") {
        zone.push_str(&format!("{name} TXT {}\n", keys::zone_strings(&text)));
    }
    (signed, zone)
}

/// `POSTLAB_BENCH_CONFIG` turned the checks off (`auth_check = no`, to measure the rest).
fn settings_off_checks() -> bool {
    std::env::var("POSTLAB_BENCH_CONFIG").is_ok_and(|c| c.contains("auth_check = no"))
}
