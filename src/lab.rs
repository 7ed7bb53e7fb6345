//! `postlab lab up | down | status`: a mini internet in one command, for a classroom with no
//! network.
//!
//! `lab up 3` starts three mail servers for `lab1.test`, `lab2.test` and `lab3.test`, each on
//! its own loopback address (127.0.0.11, .12, .13) with the usual ports, and a lab DNS server on
//! 127.0.0.10 that publishes their MX and A records. Every server uses that DNS server, so mail
//! from lab1 to lab3 takes the whole flowchart: submission, queue, MX lookup, relay, mailbox.
//! Everything lives under one folder (default `./lab`): `lab/lab1/` is lab1's data directory,
//! `lab/lab.zone` the DNS zone, `lab/*.log` what each process printed.
//!
//! The processes run in the background, each in its own process group, so closing the
//! terminal's foreground job does not stop them; `lab down` stops them by their pid files.
//! No root is needed: the ports are the standard ones plus the port offset (10000).
//!
//! `lab up 3 --netns` (root) gives each server a host of its own instead: a Linux network
//! namespace with its own address in 198.51.100.0/24 on a virtual switch, the standard ports,
//! and links that `lab cut` and `lab heal` can break and mend (`src/lab/netns.rs`).

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::accounts::users::User;
use crate::accounts::{password, Users};
use crate::config;
use crate::mailbox::durable;

pub mod class;
mod netns;
pub use netns::{cut, delay, NETWORK};

/// The accounts made on every lab server, with passwords the lessons use.
pub const ACCOUNTS: [(&str, &str); 2] = [("alice", "alice-password"), ("bob", "bob-password")];

/// How a lab is laid out.
#[derive(Debug, Clone)]
pub struct Lab {
    pub dir: PathBuf,
    pub port_offset: u16,
    /// Each server in a network namespace of its own (`--netns`), not all on one loopback.
    pub netns: bool,
    /// `queue_retry_min` of every server (seconds); the longest wait is six times that.
    pub retry: u64,
}

impl Lab {
    /// The lab in `dir`. `lab up` chooses its network (`Some`); the other commands find the
    /// network and port offset it was started with in `lab.conf`. A namespaced lab uses the
    /// standard ports (offset 0): each server is a host of its own.
    pub fn open(dir: PathBuf, offset: Option<u16>, netns: Option<bool>) -> Lab {
        let saved = match netns {
            Some(_) => String::new(),
            None => fs::read_to_string(dir.join("lab.conf")).unwrap_or_default(),
        };
        let setting = |key: &str| {
            saved.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|v| v.strip_prefix(" = "))
                    .map(|v| v.trim().to_string())
            })
        };
        let netns = netns.unwrap_or_else(|| setting("network").is_some_and(|n| n == "netns"));
        let saved_offset = setting("port_offset").and_then(|v| v.parse().ok());
        Lab {
            port_offset: offset
                .or(saved_offset)
                .unwrap_or(if netns { 0 } else { 10000 }),
            netns,
            retry: 10,
            dir,
        }
    }

    fn server_dir(&self, n: usize) -> PathBuf {
        self.dir.join(format!("lab{n}"))
    }

    /// Server `n`'s address: 127.0.0.1n on loopback, 198.51.100.1n in its own namespace.
    pub fn address(&self, n: usize) -> Ipv4Addr {
        let base = if self.netns { NETWORK } else { [127, 0, 0, 0] };
        Ipv4Addr::new(base[0], base[1], base[2], 10 + n as u8)
    }

    fn dns_addr(&self) -> (IpAddr, u16) {
        (IpAddr::V4(self.address(0)), 53 + self.port_offset)
    }

    /// How to start a lab program on host `host` (`dns` or `labN`): in its namespace, if any.
    fn command(&self, exe: &Path, host: &str) -> Command {
        if self.netns {
            // Into the host's namespace as root, then, never as root, the program itself.
            let (uid, gid) = netns::owner();
            let mut command = Command::new("ip");
            command
                .args(["netns", "exec", &netns::namespace(self, host), "setpriv"])
                .args([format!("--reuid={uid}"), format!("--regid={gid}")])
                .arg("--clear-groups")
                .arg(exe);
            command
        } else {
            Command::new(exe)
        }
    }

    /// The servers that exist in the lab folder, in order.
    fn servers(&self) -> Vec<usize> {
        (1..=99)
            .take_while(|n| self.server_dir(*n).is_dir())
            .collect()
    }

    fn pid_of(&self, path: &Path) -> Option<u32> {
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    fn server_pid(&self, n: usize) -> Option<u32> {
        self.pid_of(&self.server_dir(n).join("run/postlab.pid"))
    }

    fn dns_pid(&self) -> Option<u32> {
        self.pid_of(&self.dir.join("dns.pid"))
    }
}

/// Is a process with this pid alive? (Linux: it has a folder in /proc.)
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

/// Stops these processes: SIGTERM, so each says goodbye to its clients, and after 15 s
/// SIGKILL for any still there.
pub(crate) fn stop(pids: &[u32]) {
    for pid in pids {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for pid in pids {
        while alive(*pid) {
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `count` servers and the DNS server; returns the table to print.
pub fn up(lab: &Lab, count: usize) -> Result<String, String> {
    // Loopback has room for nine .1n addresses; the lab's /24 for ninety-nine.
    let most = if lab.netns { 99 } else { 9 };
    if !(1..=most).contains(&count) {
        return Err(format!("a lab has 1 to {most} servers"));
    }
    if lab.dns_pid().is_some_and(alive)
        || lab
            .servers()
            .iter()
            .any(|n| lab.server_pid(*n).is_some_and(alive))
    {
        return Err(format!(
            "a lab is already running in {}: postlab lab down --dir {} first",
            lab.dir.display(),
            lab.dir.display()
        ));
    }
    if lab.netns {
        netns::preflight(lab)?;
    }
    // A lab half made is taken down again: nothing is left running or linked by a failure.
    start(lab, count).inspect_err(|_| {
        let _ = down(lab);
    })
}

fn start(lab: &Lab, count: usize) -> Result<String, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the postlab program: {e}"))?;
    durable::create_dir_all_durably(&lab.dir).map_err(|e| format!("{}: {e}", lab.dir.display()))?;
    // Remembered so that `lab down` and `lab status` find the same ports and network.
    let network = if lab.netns { "netns" } else { "loopback" };
    fs::write(
        lab.dir.join("lab.conf"),
        format!("port_offset = {}\nnetwork = {network}\n", lab.port_offset),
    )
    .map_err(|e| e.to_string())?;
    if lab.netns {
        netns::create(lab, count)?;
        // The servers (not root) must reach their folders through this one.
        let (uid, gid) = netns::owner();
        std::os::unix::fs::chown(&lab.dir, Some(uid), Some(gid))
            .map_err(|e| format!("{}: {e}", lab.dir.display()))?;
    }
    let (dns_ip, dns_port) = lab.dns_addr();

    // The zone, in the standard format (RFC 1035 section 5) that BIND and NSD read too: each
    // domain's MX points at its server's own loopback address.
    let mut zone = format!(
        "; The lab's DNS, written by `postlab lab up`: the zone \"test\".\n\
         $ORIGIN test.\n\
         $TTL 30\n\
         @          SOA   ns hostmaster ( 1 3600 600 86400 30 )\n\
         @          NS    ns\n\
         ns         A     {dns_ip}\n\n"
    );
    for n in 1..=count {
        let _ = writeln!(
            zone,
            "lab{n}       MX    10 mx.lab{n}\nmx.lab{n}    A     {}",
            lab.address(n)
        );
        zone.push_str(&authenticity_records(
            &lab.server_dir(n),
            n,
            lab.address(n),
        )?);
    }
    fs::write(lab.dir.join("lab.zone"), zone).map_err(|e| e.to_string())?;
    if lab.netns {
        // The lab DNS runs as the lab's user, and every file is made 0600 (umask 077).
        netns::hand_over(&lab.dir.join("lab.zone"), netns::owner())?;
    }
    let dns_log = fs::File::create(lab.dir.join("dns.log")).map_err(|e| e.to_string())?;
    let dns = lab
        .command(&exe, "dns")
        .args(["dns", "--zone"])
        .arg(lab.dir.join("lab.zone"))
        .args(["--listen", &format!("{dns_ip}:{dns_port}")])
        .stdin(Stdio::null())
        .stdout(dns_log.try_clone().map_err(|e| e.to_string())?)
        .stderr(dns_log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start postlab dns: {e}"))?;
    fs::write(lab.dir.join("dns.pid"), format!("{}\n", dns.id())).map_err(|e| e.to_string())?;

    for n in 1..=count {
        let dir = lab.server_dir(n);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut settings = format!(
            "{}\n# Set by `postlab lab up`:\nhostname = mx.lab{n}.test\ndomains = lab{n}.test\nlisten = {}\nport_offset = {}\ndns_server = {dns_ip}:{dns_port}\nrelay_port = {}\nqueue_retry_min = {}\nqueue_retry_max = {}\n\
             # Lesson 15: every port-25 client is another server and is checked; ours is signed.\n\
             relay_networks =\ndkim_sign = yes\n",
            config::default_file_text(),
            lab.address(n),
            lab.port_offset,
            25 + lab.port_offset,
            lab.retry,
            lab.retry * 6
        );
        if lab.netns {
            // The machine's own end of the lab network (`postlab send` from its shell) may
            // relay, as loopback may in a loopback lab; the other lab hosts may not.
            let _ = writeln!(
                settings,
                "relay_networks = 127.0.0.0/8, ::1/128, {}/32",
                netns::desk()
            );
        }
        // `make bench-lab` compares settings (benches/lab_load.rs): lines added to every server.
        if let Ok(extra) = std::env::var("POSTLAB_LAB_CONFIG") {
            let _ = writeln!(settings, "{extra}");
        }
        fs::write(dir.join("postlab.conf"), settings).map_err(|e| e.to_string())?;
        if !dir.join("users").exists() {
            let mut users = Users::default();
            for (name, secret) in ACCOUNTS {
                users.insert(User {
                    name: name.into(),
                    password: password::hash(secret)?,
                    extra: String::new(),
                });
            }
            users.save(&dir.join("users")).map_err(|e| e.to_string())?;
        }
        let _ = fs::remove_file(dir.join("run/listeners"));
        let log = fs::File::create(dir.join("serve.log")).map_err(|e| e.to_string())?;
        if lab.netns {
            netns::hand_over(&dir, netns::owner())?;
        }
        lab.command(&exe, &format!("lab{n}"))
            .args(["serve", "--data"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start lab{n}: {e}"))?;
    }

    // Wait (with a deadline) until every server has bound its ports.
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in 1..=count {
        let listeners = lab.server_dir(n).join("run/listeners");
        while !fs::read_to_string(&listeners).is_ok_and(|t| t.ends_with('\n')) {
            if Instant::now() > deadline {
                let log =
                    fs::read_to_string(lab.server_dir(n).join("serve.log")).unwrap_or_default();
                return Err(format!("lab{n} did not start:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    while !fs::read_to_string(lab.dir.join("dns.log")).is_ok_and(|t| t.contains("listening on")) {
        if Instant::now() > deadline {
            return Err(format!(
                "the lab DNS did not start:\n{}",
                fs::read_to_string(lab.dir.join("dns.log")).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(table(lab, count))
}

/// Lesson 15: who may send as `labN.test`. SPF (RFC 7208) for the domain and for the server's
/// HELO name lists the server's own address; DMARC (RFC 7489) asks for p=reject; and the DKIM
/// keys (RFC 6376) made here in `labN/dkim/` are published, so lab mail is signed and checked.
fn authenticity_records(dir: &Path, n: usize, ip: Ipv4Addr) -> Result<String, String> {
    let domain = format!("lab{n}.test");
    let dkim = dir.join("dkim");
    crate::mailauth::keys::ensure(&dkim, &domain)?;
    let mut text = format!(
        "lab{n}       TXT   \"v=spf1 ip4:{ip} -all\"\n\
         mx.lab{n}    TXT   \"v=spf1 ip4:{ip} -all\"\n\
         _dmarc.lab{n} TXT  \"v=DMARC1; p=reject\"\n"
    );
    for (name, record) in crate::mailauth::keys::txt_records(&dkim, &domain)
        .ok_or_else(|| format!("cannot read the DKIM keys in {}", dkim.display()))?
    {
        let _ = writeln!(
            text,
            "{name} TXT {}",
            crate::mailauth::keys::zone_strings(&record)
        );
    }
    text.push('\n');
    Ok(text)
}

/// What is where, and lines to try.
fn table(lab: &Lab, count: usize) -> String {
    let o = lab.port_offset;
    let (dns_ip, dns_port) = lab.dns_addr();
    let mut text = format!(
        "postlab lab: {count} mail servers and a DNS server, data in {}\n\n",
        lab.dir.display()
    );
    let _ = writeln!(
        text,
        "  {:<10} {:<12} {:>6} {:>10} {:>6} {:>6}   accounts",
        "domain", "address", "smtp", "submission", "pop3", "imap"
    );
    for n in 1..=count {
        let _ = writeln!(
            text,
            "  lab{n}.test  {:<12} {:>6} {:>10} {:>6} {:>6}   alice, bob",
            lab.address(n),
            25 + o,
            587 + o,
            110 + o,
            143 + o
        );
    }
    let _ = writeln!(
        text,
        "  DNS        {dns_ip:<12} {dns_port:>6} (UDP and TCP; zone in {}/lab.zone)",
        lab.dir.display()
    );
    let _ = writeln!(text, "\n  passwords: alice-password, bob-password\n\nTry:");
    let last = count.max(1);
    let d = lab.dir.display();
    let _ = writeln!(text, "  dig @{dns_ip} -p {dns_port} lab{last}.test MX");
    let _ = writeln!(
        text,
        "  echo hello | postlab send --server {}:{} --auth alice:alice-password --from alice@lab1.test --to bob@lab{last}.test --subject hi",
        lab.address(1),
        587 + o
    );
    let _ = writeln!(
        text,
        "  postlab fetch --imap --server {}:{} --user bob --password bob-password list",
        lab.address(last),
        143 + o
    );
    let _ = writeln!(
        text,
        "  postlab trace QUEUE-ID --data {d}/lab1 --data {d}/lab{last} --svg journey.svg"
    );
    let _ = writeln!(text, "  postlab watch --data {d}/lab1");
    if lab.netns {
        let _ = writeln!(
            text,
            "  postlab lab cut lab1 lab{last} --dir {d}      (and lab heal)"
        );
    }
    let _ = writeln!(text, "  postlab lab down --dir {d}");
    text
}

/// Stops every process of the lab (the data stays).
pub fn down(lab: &Lab) -> Result<String, String> {
    let mut pids: Vec<(String, u32)> = lab
        .servers()
        .into_iter()
        .filter_map(|n| lab.server_pid(n).map(|p| (format!("lab{n}"), p)))
        .collect();
    pids.extend(lab.dns_pid().map(|p| ("DNS".to_string(), p)));
    let mut stopped = Vec::new();
    for (name, pid) in &pids {
        // In a --netns lab the pid files are written by servers that do not run as root:
        // only a pid inside the lab's own namespace is stopped, never whatever a file names.
        let host = if name == "DNS" { "dns" } else { name };
        if alive(*pid) && (!lab.netns || netns::holds(lab, host, *pid)) {
            stopped.push((name.clone(), *pid));
        }
    }
    stop(&stopped.iter().map(|(_, pid)| *pid).collect::<Vec<_>>());
    for n in lab.servers() {
        let _ = fs::remove_file(lab.server_dir(n).join("run/postlab.pid"));
        let _ = fs::remove_file(lab.server_dir(n).join("run/listeners"));
    }
    let _ = fs::remove_file(lab.dir.join("dns.pid"));
    // What `lab up --netns` made, even if its processes died by kill -9 or it stopped half-way.
    let removed = netns::remove(lab)?;
    if stopped.is_empty() && removed.is_empty() {
        Ok(format!("nothing was running in {}", lab.dir.display()))
    } else if stopped.is_empty() {
        Ok(format!("removed {removed}"))
    } else {
        let names: Vec<&str> = stopped.iter().map(|(n, _)| n.as_str()).collect();
        let mut text = format!(
            "stopped {} (the data stays in {})",
            names.join(", "),
            lab.dir.display()
        );
        if !removed.is_empty() {
            let _ = write!(text, "\nremoved {removed}");
        }
        Ok(text)
    }
}

/// One line per process: running or not, and where.
pub fn status(lab: &Lab) -> String {
    let mut text = String::new();
    let servers = lab.servers();
    if servers.is_empty() {
        return format!(
            "no lab in {} (postlab lab up starts one)\n",
            lab.dir.display()
        );
    }
    for n in servers {
        let state = match lab.server_pid(n) {
            Some(pid) if alive(pid) => format!("running (pid {pid})"),
            _ => "stopped".to_string(),
        };
        let listeners =
            fs::read_to_string(lab.server_dir(n).join("run/listeners")).unwrap_or_default();
        let smtp = listeners
            .lines()
            .find_map(|l| l.strip_prefix("smtp "))
            .unwrap_or("-");
        let _ = writeln!(
            text,
            "lab{n}.test  {state:<22} smtp {smtp}   queue {}",
            queue_size(&lab.server_dir(n))
        );
    }
    let (dns_ip, dns_port) = lab.dns_addr();
    let state = match lab.dns_pid() {
        Some(pid) if alive(pid) => format!("running (pid {pid})"),
        _ => "stopped".to_string(),
    };
    let _ = writeln!(text, "DNS         {state:<22} {dns_ip}:{dns_port}");
    text.push_str(&netns::status(lab));
    text
}

fn queue_size(dir: &Path) -> usize {
    fs::read_dir(dir.join("queue/active"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
                .count()
        })
        .unwrap_or(0)
}
