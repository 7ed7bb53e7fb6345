//! Test helpers: a real `postlab serve` process on ports of its own, and a plain SMTP client.
//!
//! Each [`TestServer`] gets a fresh data directory under the system temp folder, is started
//! with `--ephemeral-ports` (so tests run in parallel without port clashes) and is found through
//! `DIR/run/listeners`, polled with a deadline. Dropping it kills the process and removes the
//! directory (kept when the test failed, and its path printed, to look at afterwards).

#![allow(dead_code)]

pub mod netns;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use postlab::dns::{DnsResolver, Options};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_postlab");

/// How long any wait in a test may take before it counts as a failure.
pub const DEADLINE: Duration = Duration::from_secs(20);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("postlab-test-{}-{name}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `check` until it gives `Some`, or panics after [`DEADLINE`].
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How to prepare a server's data directory before it starts.
pub struct Setup {
    /// Lines added to postlab.conf.
    pub config: String,
    /// Accounts to create: (name, password), stored `{PLAIN}` to keep tests fast.
    /// `None` leaves no users file, so the server makes its demo accounts.
    pub users: Option<Vec<(&'static str, &'static str)>>,
    pub aliases: Option<String>,
    pub args: Vec<String>,
    /// Run the server under this wrapper command (e.g. strace).
    pub wrapper: Vec<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            config: String::new(),
            users: Some(vec![("alice", "alice-password"), ("bob", "bob-password")]),
            aliases: None,
            args: vec!["--hostname".into(), "mx.test".into()],
            wrapper: Vec::new(),
        }
    }
}

pub struct TestServer {
    pub dir: PathBuf,
    pub child: Child,
    /// Started under a wrapper such as strace: the server is a grandchild.
    wrapped: bool,
    pub smtp: SocketAddr,
    /// `DIR/run/listeners` as the server wrote it: `service address` per line.
    pub listeners: String,
    /// What the server printed on stdout at start (the banner).
    pub banner: String,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(Setup::default())
    }

    pub fn start_with(setup: Setup) -> TestServer {
        let dir = temp_dir("server");
        if let Some(users) = &setup.users {
            let text: String = users
                .iter()
                .map(|(n, p)| format!("{n}:{{PLAIN}}{p}\n"))
                .collect();
            fs::write(dir.join("users"), text).unwrap();
        }
        if let Some(aliases) = &setup.aliases {
            fs::write(dir.join("aliases"), aliases).unwrap();
        }
        if !setup.config.is_empty() {
            // Appended after the defaults the server writes: the same keys, later, win.
            let mut text = postlab::config::default_file_text();
            text.push_str(&setup.config);
            fs::write(dir.join("postlab.conf"), text).unwrap();
        }
        TestServer::start_in(dir, &setup)
    }

    /// Starts a server on an existing data directory (for restarts).
    pub fn start_in(dir: PathBuf, setup: &Setup) -> TestServer {
        let listeners = dir.join("run").join("listeners");
        let _ = fs::remove_file(&listeners);
        let mut command = match setup.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        command
            .arg("serve")
            .arg("--data")
            .arg(&dir)
            .arg("--ephemeral-ports")
            .args(&setup.args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("start postlab serve");
        let text = wait_for("the listeners file", || {
            fs::read_to_string(&listeners)
                .ok()
                .filter(|t| t.ends_with('\n'))
        });
        let smtp = listener(&text, "smtp");
        // The banner is printed after the listeners file is written; read what there is of it.
        let mut banner = String::new();
        if let Some(stdout) = child.stdout.take() {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                banner.push_str(&line);
                if line.starts_with("  transcripts:") {
                    break;
                }
                line.clear();
            }
        }
        TestServer {
            dir,
            child,
            wrapped: !setup.wrapper.is_empty(),
            smtp,
            listeners: text,
            banner,
        }
    }

    /// The address of a service's listener (`smtp`, `pop3`, …).
    pub fn addr(&self, service: &str) -> SocketAddr {
        listener(&self.listeners, service)
    }

    pub fn connect(&self) -> SmtpClient {
        SmtpClient::connect(self.smtp)
    }

    /// Files in an account's `new/` folder.
    pub fn new_mail(&self, account: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join("mail").join(account).join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// All transcript text written so far.
    pub fn transcripts(&self) -> String {
        let mut text = String::new();
        let root = self.dir.join("transcripts");
        for day in fs::read_dir(&root).into_iter().flatten().flatten() {
            for file in fs::read_dir(day.path()).into_iter().flatten().flatten() {
                text.push_str(&fs::read_to_string(file.path()).unwrap_or_default());
            }
        }
        text
    }

    /// Runs `postlab ARGS --data DIR` and returns (exit code, stdout, stderr).
    pub fn postlab(&self, args: &[&str]) -> (i32, String, String) {
        postlab_in(&self.dir, args)
    }

    /// Stops the server the hard way (SIGKILL), keeping its data directory.
    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.dir.as_os_str().is_empty() {
            return;
        }
        // Under a wrapper (strace), killing the child leaves the server itself running.
        if self.wrapped {
            if let Ok(pid) = fs::read_to_string(self.dir.join("run/postlab.pid")) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
        if std::thread::panicking() {
            eprintln!("test failed; server data kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn listener(text: &str, service: &str) -> SocketAddr {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(service)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {service} listener in {text:?}"))
}

/// Runs the postlab binary with `--data DIR` appended.
pub fn postlab_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs the postlab binary with `args`, `stdin` as its input; returns (exit code, stdout, stderr).
pub fn postlab(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A server for `domain` (hostname `mx.DOMAIN`) that retries queued mail after a second or two.
pub fn domain_server(domain: &str, extra_config: &str) -> TestServer {
    TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            format!("mx.{domain}"),
            "--domain".into(),
            domain.into(),
        ],
        config: format!("queue_retry_min = 1\nqueue_retry_max = 2\n{extra_config}"),
        ..Setup::default()
    })
}

/// Points `from`'s mail for `domain` at `to` (a static route in `DIR/transport`).
pub fn route(from: &TestServer, domain: &str, to: SocketAddr) {
    fs::write(
        from.dir.join("transport"),
        format!("{domain} [{}]:{}\n", to.ip(), to.port()),
    )
    .unwrap();
}

/// A reply: its code and the text of each line (after `250-` / `250 `).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A bare SMTP client over a socket: send exact bytes, read replies.
pub struct SmtpClient {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
    pub greeting: Reply,
}

impl SmtpClient {
    pub fn connect(addr: SocketAddr) -> SmtpClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut client = SmtpClient {
            reader,
            stream,
            greeting: Reply {
                code: 0,
                lines: vec![],
            },
        };
        client.greeting = client.read_reply();
        client
    }

    /// Reads one (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> Reply {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read reply");
            assert!(
                n > 0,
                "connection closed while waiting for a reply (so far: {lines:?})"
            );
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let code: u16 = line[..3].parse().expect("reply code");
            lines.push(line[4..line.len() - 2].to_string());
            if line.as_bytes()[3] == b' ' {
                return Reply { code, lines };
            }
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends one command (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// Sends a command and checks the reply code.
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let reply = self.cmd(line);
        assert_eq!(reply.code, code, "{line} → {reply:?}");
        reply
    }

    /// A whole transaction; returns the reply to the end of data.
    pub fn send_mail(&mut self, from: &str, to: &[&str], content: &str) -> Reply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250);
        for rcpt in to {
            self.expect(&format!("RCPT TO:<{rcpt}>"), 250);
        }
        self.expect("DATA", 354);
        self.send_raw(content.as_bytes());
        self.send_raw(b".\r\n");
        self.read_reply()
    }

    /// True once the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

/// The queue id in a "queued as ID" or "queue id ID" reply.
pub fn queue_id(reply: &Reply) -> String {
    let text = reply.text();
    text.split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches(')')
        .to_string()
}

/// A running `postlab dns`, stopped when dropped.
pub struct LabDns {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl LabDns {
    pub fn start(zone: &str) -> LabDns {
        LabDns::start_zones(&[zone])
    }

    /// Serves several zones, one file each (`zone1.zone`, `zone2.zone`, …).
    pub fn start_zones(zones: &[&str]) -> LabDns {
        let dir = temp_dir("dns");
        let mut command = Command::new(BIN);
        command.arg("dns");
        for (n, zone) in zones.iter().enumerate() {
            let file = dir.join(format!("zone{}.zone", n + 1));
            fs::write(&file, zone).unwrap();
            command.arg("--zone").arg(file);
        }
        let out = fs::File::create(dir.join("out")).unwrap();
        let child = command
            .args(["--listen", "127.0.0.1:0"])
            .stdout(out)
            .stderr(fs::File::create(dir.join("err")).unwrap())
            .spawn()
            .unwrap();
        let mut lab = LabDns {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        lab.addr = wait_for("postlab dns to print its address", || {
            let out = fs::read_to_string(lab.dir.join("out")).ok()?;
            let line = out.lines().find(|l| l.contains("listening on"))?;
            line.split_whitespace().find_map(|word| word.parse().ok())
        });
        lab
    }

    pub fn resolver(&self) -> DnsResolver {
        DnsResolver::server(self.addr, &Options::default()).unwrap()
    }

    /// What the server printed: one line per question.
    pub fn output(&self) -> String {
        fs::read_to_string(self.dir.join("out")).unwrap()
    }

    pub fn dig(&self, args: &[&str]) -> String {
        let output = Command::new("dig")
            .arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.addr.port().to_string()])
            .args(args)
            .output()
            .expect("dig (Debian package bind9-dnsutils) must be installed; see .ci/run");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for LabDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("postlab dns output kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs a Python script (a real client: smtplib, poplib, imaplib), fails the test with its
/// error output if it fails, and returns what it printed.
pub fn python(script: &str) -> String {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A line of `/proc/PID/status` in kB (`VmHWM`, the most a process ever held, or `VmRSS`).
pub fn status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} for process {pid}: is the server still running?"))
}
