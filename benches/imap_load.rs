//! IMAP on a large folder: how long SELECT and the usual client FETCHes take.
//!
//! Fills bob's INBOX with N messages (written straight into the Maildir, as delivery would),
//! starts `postlab serve` (release build) on it and measures, over one connection:
//!
//! - the first SELECT (every message gets its UID; the list is written) and a second one;
//! - `FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)`, what a client sends to draw a message list;
//! - `FETCH 1:* BODY.PEEK[]`, in messages per second.
//!
//! ```text
//! cargo bench --bench imap_load -- --messages 10000
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postlab::mailbox::Maildir;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let messages: usize = args
        .iter()
        .position(|a| a == "--messages")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);

    let dir = std::env::temp_dir().join(format!("postlab-imap-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users"), "bob:{PLAIN}bench\n").unwrap();
    let maildir = Maildir::create(&dir.join("mail").join("bob")).unwrap();
    let start = Instant::now();
    for n in 0..messages {
        let text = format!(
            "From: Alice <alice@bench.test>\r\nTo: bob@bench.test\r\nSubject: message {n}\r\n\
Date: Thu, 26 Nov 2026 15:20:55 +0000\r\nMessage-ID: <{n}@bench.test>\r\n\r\n{}\r\n",
            "Some body text. ".repeat(100)
        );
        maildir.deliver(&[text.as_bytes()], "bench.test").unwrap();
    }
    println!("wrote {messages} messages in {:.1?}", start.elapsed());

    let mut server = Command::new(env!("CARGO_BIN_EXE_postlab"))
        .args([
            "serve",
            "--ephemeral-ports",
            "--hostname",
            "bench.test",
            "--data",
        ])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start postlab");
    let addr = imap_address(&dir);
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();

    let mut run = |command: &str| -> (Duration, usize) {
        let start = Instant::now();
        writer
            .write_all(format!("t {command}\r\n").as_bytes())
            .unwrap();
        let mut lines = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            // Skip a literal's octets.
            if let Some(n) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<u64>().ok())
            {
                std::io::copy(&mut (&mut reader).take(n), &mut std::io::sink()).unwrap();
                continue;
            }
            lines += 1;
            if line.starts_with("t ") {
                assert!(line.starts_with("t OK"), "{command}: {line}");
                return (start.elapsed(), lines);
            }
        }
    };
    run("LOGIN bob bench");
    let (first, _) = run("SELECT INBOX");
    let (second, _) = run("SELECT INBOX");
    let (list, _) = run("FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)");
    let (bodies, _) = run("FETCH 1:* BODY.PEEK[]");
    println!("first SELECT:  {first:.1?} (gives {messages} UIDs)");
    println!("second SELECT: {second:.1?}");
    println!("FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE): {list:.1?}");
    println!(
        "FETCH 1:* BODY.PEEK[]: {bodies:.1?}, {:.0} messages/s",
        messages as f64 / bodies.as_secs_f64()
    );
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for the server's listeners file and returns the IMAP address.
fn imap_address(dir: &std::path::Path) -> SocketAddr {
    let file = dir.join("run").join("listeners");
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(addr) = text
                .lines()
                .find_map(|l| l.strip_prefix("imap ").and_then(|a| a.trim().parse().ok()))
            {
                return addr;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
