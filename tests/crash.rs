//! DESIGN.md's first promise under fire: a server killed with SIGKILL at random moments, over
//! and over, while clients send local and relayed mail, loses no message it acknowledged.
//!
//! Three clients send without pause to server A: one to a local account, two to b.test, which
//! A's queue relays to server B. A is killed (SIGKILL, no warning) 20 times at random moments
//! and restarted each time. Every message that got its 250 is remembered. At the end A runs
//! until its queue is empty, and every acknowledged message must be in a Maildir — A's for the
//! local ones, B's for the relayed ones — and no crash leftovers may remain in tmp/ or the queue.
//! The clients never send a subject twice, so a local message must arrive exactly once. A relayed
//! one may arrive twice, and only in one way SMTP cannot avoid (RFC 5321 §6.1): B said 250, and
//! A was killed before it could write down that B had it, so A's restarted queue sends again.
//! Those duplicates are counted and reported, not forbidden.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use crate::support::{Setup, TestServer};

fn setup(domain: &str) -> Setup {
    Setup {
        args: vec![
            "--hostname".into(),
            format!("mx.{domain}"),
            "--domain".into(),
            domain.into(),
        ],
        // Plain relaying and more connections: this test is about crashes, not TLS speed.
        config: "queue_retry_min = 1\nqueue_retry_max = 1\nrelay_tls = none\nmax_outbound_per_destination = 8\n".into(),
        ..Setup::default()
    }
}

/// Subjects of the files in a Maildir's new/ and cur/, with how often each appears.
fn subjects(dir: &std::path::Path) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for sub in ["new", "cur"] {
        for entry in fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            if let Some(subject) = text.lines().find_map(|l| l.strip_prefix("Subject: ")) {
                *seen.entry(subject.trim().to_string()).or_insert(0) += 1;
            }
        }
    }
    seen
}

/// One reply's code, or an error if the connection broke (the server was killed).
fn reply(reader: &mut impl BufRead) -> std::io::Result<u16> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

/// One connection: up to five messages; pushes each subject that got its 250 onto `acked`.
fn session(
    target: std::net::SocketAddr,
    rcpt: &str,
    tag: &str,
    n: &mut usize,
    acked: &mut Vec<String>,
) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    if reply(&mut reader)? != 220 {
        return Ok(());
    }
    stream.write_all(b"EHLO crash.test\r\n")?;
    reply(&mut reader)?;
    for _ in 0..5 {
        *n += 1;
        let subject = format!("{tag}-{n}");
        stream.write_all(
            format!("MAIL FROM:<alice@a.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes(),
        )?;
        let codes = (
            reply(&mut reader)?,
            reply(&mut reader)?,
            reply(&mut reader)?,
        );
        if codes != (250, 250, 354) {
            return Ok(());
        }
        stream.write_all(
            format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n.\r\n").as_bytes(),
        )?;
        if reply(&mut reader)? == 250 {
            acked.push(subject);
        }
    }
    Ok(())
}

/// Sends until told to stop; returns the subjects that got a 250.
fn client(
    addr: Arc<Mutex<std::net::SocketAddr>>,
    rcpt: &'static str,
    tag: &'static str,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let target = *addr.lock().unwrap();
        // A refused or broken connection is the kill at work: try again on the next server.
        if session(target, rcpt, tag, &mut n, &mut acked).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    acked
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_message() {
    let b = TestServer::start_with(setup("b.test"));
    let mut a = TestServer::start_with(setup("a.test"));
    let transport = format!("b.test [{}]:{}\n", b.smtp.ip(), b.smtp.port());
    fs::write(a.dir.join("transport"), &transport).unwrap();
    let addr = Arc::new(Mutex::new(a.smtp));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = [
        ("bob@a.test", "local"),
        ("bob@b.test", "relay1"),
        ("bob@b.test", "relay2"),
    ]
    .into_iter()
    .map(|(rcpt, tag)| {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || client(addr, rcpt, tag, stop))
    })
    .collect();

    // A small, repeatable pseudo-random sequence of kill moments (50–350 ms apart).
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let setup_a = setup("a.test");
    for _ in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 300));
        let dir = a.kill();
        a = TestServer::start_in(dir, &setup_a);
        *addr.lock().unwrap() = a.smtp;
    }
    stop.store(true, Ordering::SeqCst);
    let acked: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        acked.len() > 20,
        "the load was too light to mean anything: {} messages",
        acked.len()
    );

    // Let the last A empty its queue into B.
    let started = Instant::now();
    // Hundreds of queued messages take longer than the usual deadline: poll up to two minutes.
    loop {
        let left = fs::read_dir(a.dir.join("queue/active"))
            .map(|d| d.count())
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "A's queue still holds {left} files"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let local = subjects(&a.dir.join("mail/bob"));
    let relayed = subjects(&b.dir.join("mail/bob"));
    let mut lost = BTreeSet::new();
    for subject in &acked {
        let place = if subject.starts_with("local") {
            &local
        } else {
            &relayed
        };
        if !place.contains_key(subject) {
            lost.insert(subject.clone());
        }
    }
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    for dir in [a.dir.join("mail/bob/tmp"), b.dir.join("mail/bob/tmp")] {
        let left: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "crash leftovers in {}: {left:?}",
            dir.display()
        );
    }
    let queue_leftovers: Vec<_> = fs::read_dir(a.dir.join("queue/active"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(queue_leftovers.is_empty(), "{queue_leftovers:?}");
    let duplicates = local
        .values()
        .chain(relayed.values())
        .filter(|&&n| n > 1)
        .count();
    eprintln!(
        "crash test: {} acknowledged messages, 20 kills, {} lost, {duplicates} relayed twice (B's 250 arrived as A was killed), queue empty after {:?}",
        acked.len(),
        lost.len(),
        started.elapsed()
    );
}
