//! What the benches share: a release `postlab serve` on a data directory of its own, found
//! through `DIR/run/listeners`, and stopped when dropped. Each bench uses a part of it.
#![allow(dead_code)]

use std::io::BufRead;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `postlab serve --ephemeral-ports`.
pub struct Postlab {
    child: Child,
    listeners: Vec<(String, SocketAddr)>,
}

impl Postlab {
    /// Starts postlab on `dir` (which holds its users and postlab.conf) with `args` added, and
    /// waits up to 30 s for every listener. The server's log goes to `log`, at level `level`.
    /// The child is killed and waited for on drop (clippy cannot follow it there).
    #[allow(clippy::zombie_processes)]
    pub fn start(dir: &Path, args: &[&str], level: &str, log: Stdio) -> Postlab {
        let mut child = Command::new(env!("CARGO_BIN_EXE_postlab"))
            .args(["serve", "--ephemeral-ports", "--data"])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postlab");
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(dir.join("run/listeners")).unwrap_or_default();
            let listeners: Vec<(String, SocketAddr)> = text
                .lines()
                .filter_map(|line| {
                    let (service, addr) = line.split_once(' ')?;
                    Some((service.to_string(), addr.trim().parse().ok()?))
                })
                .collect();
            if listeners.len() >= 7 {
                return Postlab { child, listeners };
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("postlab did not start on {}", dir.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where `service` (`smtp`, `imap`, …) listens.
    pub fn addr(&self, service: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {service} listener"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Postlab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// postlab for `bench.test` on a fresh directory named after `name`, with the account
/// `bob` (password `bench`) and room for `sessions` clients: what the SMTP benches measure.
pub fn bench_server(name: &str, sessions: usize, level: &str) -> (std::path::PathBuf, Postlab) {
    bench_server_with(name, sessions, level, "")
}

/// [`bench_server`] with `settings` (postlab.conf lines) added.
pub fn bench_server_with(
    name: &str,
    sessions: usize,
    level: &str,
    settings: &str,
) -> (std::path::PathBuf, Postlab) {
    let dir = fresh_dir(name);
    std::fs::write(dir.join("users"), "bob:{PLAIN}bench\n").expect("write users");
    std::fs::write(
        dir.join("postlab.conf"),
        // POSTLAB_BENCH_CONFIG adds settings, e.g. `dkim_sign = yes` to measure signing.
        format!(
            "max_connections = {}\n{settings}\n{}\n",
            sessions + 10,
            std::env::var("POSTLAB_BENCH_CONFIG").unwrap_or_default()
        ),
    )
    .expect("write postlab.conf");
    let server = Postlab::start(
        &dir,
        &["--hostname", "bench.test", "--domain", "bench.test"],
        level,
        Stdio::inherit(),
    );
    (dir, server)
}

/// A fresh, empty directory for one bench run (removed first if a crashed run left it).
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("postlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the data directory");
    dir
}

/// A message of about `size` octets as sent after DATA: `header`, a blank line, lines of 76
/// `x`, and the `.` that ends it.
pub fn message(header: &str, size: usize) -> Vec<u8> {
    let mut text = format!("{header}\r\n").into_bytes();
    while text.len() < size {
        text.extend_from_slice(&[b'x'; 76]);
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b".\r\n");
    text
}

/// Reads one SMTP reply (all its lines) and checks its code.
pub fn expect<R: BufRead>(reader: &mut R, code: &str) {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            return;
        }
    }
}

/// Opens `reading` journey-board event streams that read everything, and `stalled` ones that
/// never read (a browser that stopped), for as long as the returned sockets live.
pub fn watch_board(web: SocketAddr, reading: usize, stalled: usize) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for n in 0..reading + stalled {
        let mut stream = TcpStream::connect(web).expect("connect to the web listener");
        stream
            .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
            .expect("ask for the events");
        if n < reading {
            let mut reader = stream.try_clone().expect("clone");
            std::thread::spawn(move || {
                let mut buffer = [0u8; 65536];
                while matches!(std::io::Read::read(&mut reader, &mut buffer), Ok(n) if n > 0) {}
            });
        }
        streams.push(stream);
    }
    streams
}

/// A `postlab dns` serving `zone` on a port the system picks, stopped when dropped: the lab
/// DNS of the benches that check SPF, DKIM and DMARC.
pub struct LabDns {
    child: Child,
    pub addr: SocketAddr,
}

impl LabDns {
    #[allow(clippy::zombie_processes)]
    pub fn start(dir: &Path, zone: &str) -> LabDns {
        let file = dir.join("bench.zone");
        std::fs::write(&file, zone).expect("write the zone");
        let out = dir.join("dns.out");
        let mut child = Command::new(env!("CARGO_BIN_EXE_postlab"))
            .arg("dns")
            .arg("--zone")
            .arg(&file)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::fs::File::create(&out).expect("dns.out"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start postlab dns");
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let addr = text
                .lines()
                .find(|l| l.contains("listening on"))
                .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()));
            if let Some(addr) = addr {
                return LabDns { child, addr };
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("postlab dns did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LabDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
