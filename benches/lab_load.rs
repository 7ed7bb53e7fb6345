//! `make bench-lab`: a class's mini internet under load. `postlab lab up 40 --netns` starts 40
//! servers, each a host of its own (a network namespace on 198.51.100.0/24); each gets 100
//! messages on its port 25 for bob at random other lab domains, which it relays through an MX
//! lookup at the lab DNS. Reported:
//!
//! - messages/s end to end: from the first submission until the last message is a file in
//!   its recipient's Maildir;
//! - time to drain after a heal: ten pairs of hosts are cut, 10 messages cross each cut, and
//!   the clock runs from `lab heal` until every one has arrived (the queues retry with
//!   backoff: first after 1 s, at most every 6 s, `--retry 1`);
//! - each server's resident memory (VmRSS) after the load.
//!
//! ```text
//! sudo cargo bench --bench lab_load -- --servers 40 --messages 100 --size 1024
//! ```
//!
//! `--no-connection-cache` sets `relay_connection_cache_time_limit = 0` on every server (through
//! `POSTLAB_LAB_CONFIG`, which `lab up` adds to each postlab.conf): one connection and TLS
//! handshake per relayed message, as before issue 19's connection cache.
//!
//! Root is needed. The only traffic is to the namespaces the lab makes; the bench checks first
//! that 198.51.100.0/24 is free on this machine, and the lab is taken down at the end, also
//! when the bench fails.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::expect;

const BIN: &str = env!("CARGO_BIN_EXE_postlab");

/// Takes the lab down when dropped, whatever happened.
struct Lab(PathBuf);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["lab", "down", "--dir"])
            .arg(&self.0)
            .output();
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap_or(&self.0));
    }
}

fn main() {
    let mut servers = 40usize;
    let mut messages = 100usize;
    let mut size = 1024usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let no_cache = args.iter().any(|a| a == "--no-connection-cache");
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number after the flag");
        match pair[0].as_str() {
            "--servers" => servers = value(),
            "--messages" => messages = value(),
            "--size" => size = value(),
            _ => {}
        }
    }
    let used = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "to", "198.51.100.0/24"])
        .output()
        .expect("bench-lab needs `ip` (iproute2)");
    assert!(
        used.stdout.is_empty(),
        "198.51.100.0/24 is already in use here: {}",
        String::from_utf8_lossy(&used.stdout)
    );
    let root = std::env::temp_dir().join(format!("postlab-lab-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("lab");
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["lab", "up", &servers.to_string(), "--netns", "--retry", "1"])
        .env(
            "POSTLAB_LAB_CONFIG",
            if no_cache {
                "relay_connection_cache_time_limit = 0"
            } else {
                ""
            },
        )
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    let guard = Lab(dir.clone());
    assert!(
        out.status.success(),
        "lab up --netns failed (bench-lab needs root):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "lab_load: {servers} namespaced servers up in {:.2} s (connection cache {})",
        started.elapsed().as_secs_f64(),
        if no_cache { "off" } else { "on" }
    );

    // Load: every server gets `messages` messages for random others, all at once.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut expected = vec![0usize; servers + 1];
    let mut sends = Vec::new();
    for from in 1..=servers {
        let mut targets = Vec::new();
        for _ in 0..messages {
            let to = loop {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let to = 1 + (seed % servers as u64) as usize;
                if to != from || servers == 1 {
                    break to;
                }
            };
            expected[to] += 1;
            targets.push(to);
        }
        sends.push((from, targets));
    }
    let total = servers * messages;
    let started = Instant::now();
    let workers: Vec<_> = sends
        .into_iter()
        .map(|(from, targets)| std::thread::spawn(move || submit(from, &targets, size)))
        .collect();
    for w in workers {
        w.join().expect("a sending session");
    }
    let accepted = started.elapsed();
    wait_until(&dir, &expected, Duration::from_secs(600));
    let elapsed = started.elapsed();
    println!(
        "lab_load: {servers} servers x {messages} messages x {size} bytes = {total}, through MX lookups: \
         accepted in {:.2} s, all in their Maildirs after {:.2} s: {:.0} messages/s end to end",
        accepted.as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    // Drain after a heal: ten pairs cut, ten messages across each, then healed.
    let d = dir.to_str().unwrap();
    let pairs: Vec<(usize, usize)> = (1..=servers / 2)
        .take(10)
        .map(|a| (a, a + servers / 2))
        .collect();
    for (a, b) in &pairs {
        lab(&["cut", &format!("lab{a}"), &format!("lab{b}"), "--dir", d]);
    }
    let workers: Vec<_> = pairs
        .iter()
        .flat_map(|&(a, b)| [(a, b), (b, a)])
        .map(|(from, to)| {
            expected[to] += 5;
            std::thread::spawn(move || submit(from, &[to; 5], size))
        })
        .collect();
    for w in workers {
        w.join().expect("a sending session");
    }
    let deferred = Instant::now() + Duration::from_secs(60);
    while queued(&dir, servers) < pairs.len() * 10 {
        assert!(
            Instant::now() < deferred,
            "the cut messages were not queued"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(3)); // a few failed attempts each: backoff grows
    let healed = Instant::now();
    for (a, b) in &pairs {
        lab(&["heal", &format!("lab{a}"), &format!("lab{b}"), "--dir", d]);
    }
    wait_until(&dir, &expected, Duration::from_secs(120));
    println!(
        "lab_load: {} pairs cut, {} messages deferred across the cuts: all delivered {:.2} s after the heal",
        pairs.len(),
        pairs.len() * 10,
        healed.elapsed().as_secs_f64()
    );

    let rss: Vec<u64> = (1..=servers).filter_map(|n| rss_kib(&dir, n)).collect();
    let mean = rss.iter().sum::<u64>() / rss.len().max(1) as u64;
    println!(
        "lab_load: RSS per server after the load: mean {} KiB, min {} KiB, max {} KiB ({} servers)",
        mean,
        rss.iter().min().unwrap_or(&0),
        rss.iter().max().unwrap_or(&0),
        rss.len()
    );
    drop(guard);
}

fn lab(args: &[&str]) {
    let out = Command::new(BIN).arg("lab").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One session on server `from`'s port 25 (the machine's own lab address may relay).
fn submit(from: usize, targets: &[usize], size: usize) {
    let mut stream = TcpStream::connect(format!("198.51.100.{}:25", 10 + from)).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    expect(&mut reader, "220");
    stream.write_all(b"EHLO bench.desk.test\r\n").unwrap();
    expect(&mut reader, "250");
    for to in targets {
        let header =
            format!("From: load@lab{from}.test\r\nTo: bob@lab{to}.test\r\nSubject: lab load\r\n");
        let body = common::message(&header, size);
        stream
            .write_all(
                format!(
                    "MAIL FROM:<load@lab{from}.test>\r\nRCPT TO:<bob@lab{to}.test>\r\nDATA\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        expect(&mut reader, "250");
        expect(&mut reader, "250");
        expect(&mut reader, "354");
        stream.write_all(&body).unwrap();
        expect(&mut reader, "250");
    }
    stream.write_all(b"QUIT\r\n").unwrap();
}

/// Waits until each server's bob has `expected[n]` messages; panics after `limit`.
fn wait_until(dir: &Path, expected: &[usize], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let missing: usize = (1..expected.len())
            .map(|n| expected[n].saturating_sub(count(&dir.join(format!("lab{n}/mail/bob/new")))))
            .sum();
        if missing == 0 {
            for (n, want) in expected.iter().enumerate().skip(1) {
                let got = count(&dir.join(format!("lab{n}/mail/bob/new")));
                assert_eq!(got, *want, "lab{n}: no message lost or doubled");
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} messages never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Messages waiting in all the queues.
fn queued(dir: &Path, servers: usize) -> usize {
    (1..=servers)
        .map(|n| {
            std::fs::read_dir(dir.join(format!("lab{n}/queue/active")))
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                        .count()
                })
                .unwrap_or(0)
        })
        .sum()
}

fn rss_kib(dir: &Path, n: usize) -> Option<u64> {
    let pid = std::fs::read_to_string(dir.join(format!("lab{n}/run/postlab.pid"))).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
