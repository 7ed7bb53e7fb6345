//! `postlab lab up N --netns`: each lab server on a host of its own, and links that can break.
//!
//! ```text
//!   this machine ── pl<tag>desk 198.51.100.1 ─┐
//!   postlab-<tag>-dns    eth0 198.51.100.10 ───┤  br0, a switch in the namespace
//!   postlab-<tag>-lab1   eth0 198.51.100.11 ───┤  postlab-<tag>-net
//!   postlab-<tag>-lab2   eth0 198.51.100.12 ───┘
//! ```
//!
//! Every host is a Linux network namespace (`ip netns`) with one end of a veth pair as its
//! `eth0`; the other ends hang on a bridge that lives in a namespace of its own, so the
//! machine's own network is never touched but for one link, the "desk", from which the
//! teacher's shell reaches the lab. The addresses are RFC 5737's TEST-NET-2, 198.51.100.0/24,
//! which no real network uses; the hosts have no default route, so nothing they send can
//! leave the lab. `<tag>` comes from the lab's folder, so two folders never share names.
//!
//! `lab cut A B` puts an `unreachable` route to each in the other's table: a connection
//! attempt fails at once with "No route to host", as when a router has lost its way, and
//! the sender's queue keeps the mail and retries with backoff until `lab heal A B` removes
//! the routes. `lab delay A B MS` adds a `netem` delay to A's and B's traffic for each other.
//!
//! Everything made is written to `DIR/netns.state` *before* it is made, one line each, so
//! that `lab down` removes all of it even after `lab up` or the servers were killed
//! half-way: namespaces (first every process still in them), then links.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::Lab;

/// The lab network, 198.51.100.0/24 (RFC 5737 TEST-NET-2: documentation only, never routed).
pub const NETWORK: [u8; 4] = [198, 51, 100, 0];

/// The machine's own address on the lab network.
pub fn desk() -> Ipv4Addr {
    Ipv4Addr::new(NETWORK[0], NETWORK[1], NETWORK[2], 1)
}

/// Four hex digits from the lab's folder: the names of its namespaces and link.
fn tag(lab: &Lab) -> String {
    let path = fs::canonicalize(&lab.dir).unwrap_or_else(|_| lab.dir.clone());
    // FNV-1a: short, stable from run to run (std's hasher is seeded per process).
    let hash = path.to_string_lossy().bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    format!("{:04x}", (hash ^ (hash >> 16)) & 0xffff)
}

/// The namespace of host `host` (`dns`, `lab1`, … or `net`, the switch).
pub fn namespace(lab: &Lab, host: &str) -> String {
    format!("postlab-{}-{host}", tag(lab))
}

fn desk_link(lab: &Lab) -> String {
    format!("pl{}desk", tag(lab))
}

fn state_file(lab: &Lab) -> std::path::PathBuf {
    lab.dir.join("netns.state")
}

/// Who the lab's programs run as: the user who ran `sudo`, else nobody; never root, because a
/// server that a class talks to must not hold the machine's keys. In its own namespace such a
/// user may bind the standard ports (see [`create`]).
pub fn owner() -> (u32, u32) {
    let id = |key: &str| std::env::var(key).ok().and_then(|v| v.parse::<u32>().ok());
    match (id("SUDO_UID"), id("SUDO_GID")) {
        (Some(uid), Some(gid)) if uid != 0 => (uid, gid),
        _ => (65534, 65534),
    }
}

/// Gives `path` and all below it to `owner` (a server's data folder, written by root).
pub fn hand_over(path: &Path, owner: (u32, u32)) -> Result<(), String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A link is changed itself, never followed out of the folder.
    std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            hand_over(&entry.path(), owner)?;
        }
    }
    Ok(())
}

/// Is process `pid` in host `host`'s namespace? (`ip netns identify`.)
pub fn holds(lab: &Lab, host: &str, pid: u32) -> bool {
    ip(&["netns", "identify", &pid.to_string()])
        .is_ok_and(|names| names.split_whitespace().any(|n| n == namespace(lab, host)))
}

/// Runs `ip ARGS`; its error output becomes the error.
fn ip(args: &[&str]) -> Result<String, String> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Notes what is about to be made, on disk, before it is made.
fn remember(lab: &Lab, kind: &str, name: &str) -> Result<(), String> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_file(lab))
        .map_err(|e| format!("{}: {e}", state_file(lab).display()))?;
    writeln!(file, "{kind} {name}")
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", state_file(lab).display()))
}

/// Checks that the lab network is free here and can be made: `ip` exists, we may make
/// namespaces, and no interface or route of this machine already uses 198.51.100.0/24 (a
/// real network there would receive the lab's traffic).
pub fn preflight(lab: &Lab) -> Result<(), String> {
    let root = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(str::to_string)
        })
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Err(
            "--netns makes network namespaces, which needs root (sudo postlab lab up N --netns); \
                    without --netns the lab runs on loopback"
                .into(),
        );
    }
    ip(&["-V"]).map_err(|e| format!("{e}\n(--netns needs iproute2's ip)"))?;
    run("setpriv", &["--version"]).map_err(|e| {
        format!("{e}\n(--netns starts the servers with util-linux's setpriv, not as root)")
    })?;
    if fs::read_to_string(state_file(lab)).is_ok_and(|t| t.lines().any(|l| !l.starts_with('#'))) {
        return Err(format!(
            "a --netns lab was made in {} and not removed: postlab lab down --dir {} first",
            lab.dir.display(),
            lab.dir.display()
        ));
    }
    let used = ip(&["-o", "-4", "addr", "show", "to", "198.51.100.0/24"])?;
    if let Some(line) = used.lines().next() {
        return Err(format!(
            "198.51.100.0/24 is already in use on this machine ({}): another --netns lab \
             (postlab lab down) or a real network; a lab takes it only when it is free",
            line.split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    // A default (or very wide) route is no harm: the desk's own /24 will be more specific.
    // A narrower one means some real network is reached through it.
    let routes = ip(&[
        "-4",
        "route",
        "show",
        "table",
        "all",
        "match",
        "198.51.100.1",
    ])?;
    for line in routes.lines() {
        let prefix = line
            .split_whitespace()
            .find(|w| w.contains('/') || *w == "default")
            .unwrap_or("default");
        let length: u8 = prefix
            .split_once('/')
            .and_then(|(_, l)| l.parse().ok())
            .unwrap_or(0);
        if length >= 8 {
            return Err(format!(
                "a route of this machine already leads 198.51.100.0/24 somewhere ({line}): \
                 the lab will not send its traffic there"
            ));
        }
    }
    Ok(())
}

/// Makes the switch, one namespace per host with its address, and the desk link.
/// [`preflight`] comes first.
pub fn create(lab: &Lab, count: usize) -> Result<(), String> {
    fs::write(
        state_file(lab),
        "# made by `postlab lab up --netns`; `postlab lab down` removes each line's thing\n",
    )
    .map_err(|e| e.to_string())?;
    let switch = namespace(lab, "net");
    remember(lab, "netns", &switch)?;
    ip(&["netns", "add", &switch]).map_err(|e| {
        format!("{e}\n(--netns needs a kernel with network namespaces; without --netns the lab runs on loopback)")
    })?;
    ip(&["-n", &switch, "link", "set", "lo", "up"])?;
    ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &switch, "link", "set", "br0", "up"])?;

    let hosts =
        std::iter::once(("dns".to_string(), 0)).chain((1..=count).map(|n| (format!("lab{n}"), n)));
    for (host, n) in hosts {
        let name = namespace(lab, &host);
        remember(lab, "netns", &name)?;
        ip(&["netns", "add", &name])?;
        // The switch's end is named after the host, the host's end is its eth0.
        let port = format!("to-{host}");
        ip(&[
            "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &name,
        ])?;
        ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
        let address = format!("{}/24", lab.address(n));
        ip(&["-n", &name, "addr", "add", &address, "dev", "eth0"])?;
        ip(&["-n", &name, "link", "set", "eth0", "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        // The servers do not run as root; in this namespace, which is the whole host they
        // see, port 25 and 53 need no privilege (the setting is per namespace).
        ip(&[
            "netns",
            "exec",
            &name,
            "sh",
            "-c",
            "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start",
        ])?;
    }

    let link = desk_link(lab);
    remember(lab, "link", &link)?;
    ip(&[
        "link", "add", &link, "type", "veth", "peer", "name", "desk", "netns", &switch,
    ])?;
    ip(&["-n", &switch, "link", "set", "desk", "master", "br0", "up"])?;
    ip(&["addr", "add", &format!("{}/24", desk()), "dev", &link])?;
    ip(&["link", "set", &link, "up"])?;
    // Proof before any traffic: the lab's addresses are reached through the desk link only.
    let way = ip(&["route", "get", &lab.address(1).to_string()])?;
    if !way.contains(&format!("dev {link} ")) {
        return Err(format!(
            "198.51.100.0/24 is not routed to the lab here ({}): stopped",
            way.trim()
        ));
    }
    Ok(())
}

/// Removes everything the state file lists: the processes in each namespace, the
/// namespaces, the links. Returns what it removed, "" when there was nothing.
pub fn remove(lab: &Lab) -> Result<String, String> {
    let Ok(state) = fs::read_to_string(state_file(lab)) else {
        return Ok(String::new());
    };
    let existing = ip(&["netns", "list"]).unwrap_or_default();
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    // The folder belongs to the lab's (unprivileged) user, who could rewrite this file: only
    // names this lab would have made are touched, never a machine's own namespace or link.
    let ours = format!("postlab-{}-", tag(lab));
    for name in state.lines().filter_map(|l| l.strip_prefix("netns ")) {
        if !name.starts_with(&ours) {
            problems.push(format!("{name}: not a name this lab makes, left alone"));
            continue;
        }
        if !existing
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
        {
            continue;
        }
        // A namespace lives on as long as a process is in it: those go first, for good.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = ip(&["netns", "pids", name]).unwrap_or_default();
            if pids.trim().is_empty() {
                break;
            }
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
            if Instant::now() > deadline {
                problems.push(format!(
                    "processes {} in {name} would not stop",
                    pids.trim()
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        match ip(&["netns", "del", name]) {
            Ok(_) => removed.push(name.to_string()),
            Err(e) => problems.push(e),
        }
    }
    for name in state.lines().filter_map(|l| l.strip_prefix("link ")) {
        if name != desk_link(lab) {
            problems.push(format!("{name}: not a link this lab makes, left alone"));
            continue;
        }
        // Removing the switch's namespace took the desk link with it, usually.
        if ip(&["link", "show", name]).is_ok() {
            match ip(&["link", "del", name]) {
                Ok(_) => removed.push(name.to_string()),
                Err(e) => problems.push(e),
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "could not remove everything (kept in {}):\n{}",
            state_file(lab).display(),
            problems.join("\n")
        ));
    }
    let _ = fs::remove_file(state_file(lab));
    Ok(removed.join(", "))
}

/// A lab host by name: `lab2`, `lab2.test`, `mx.lab2.test`, `2` or `dns`, with its address.
fn host(lab: &Lab, name: &str) -> Result<(String, Ipv4Addr), String> {
    let short = name.trim_start_matches("mx.").trim_end_matches(".test");
    if short == "dns" {
        return Ok(("dns".into(), lab.address(0)));
    }
    let number = short.strip_prefix("lab").unwrap_or(short);
    match number.parse::<usize>() {
        Ok(n) if lab.server_dir(n).is_dir() && n >= 1 => Ok((format!("lab{n}"), lab.address(n))),
        _ => Err(format!("no lab host '{name}' (say lab1, lab2.test or dns)")),
    }
}

fn require_netns(lab: &Lab, what: &str) -> Result<(), String> {
    if lab.netns && state_file(lab).exists() {
        return Ok(());
    }
    Err(format!(
        "{what} needs a --netns lab (sudo postlab lab up N --netns --dir {}): on one loopback \
         there is no link to cut; `postlab fault add connect lab2.test refuse` fails connections instead",
        lab.dir.display()
    ))
}

/// `lab cut A B` (`broken` true) or `lab heal A B`: A and B cannot reach each other, or can
/// again. Everybody else still reaches both.
pub fn cut(lab: &Lab, a: &str, b: &str, broken: bool) -> Result<String, String> {
    require_netns(lab, if broken { "lab cut" } else { "lab heal" })?;
    let (a, a_ip) = host(lab, a)?;
    let (b, b_ip) = host(lab, b)?;
    if a == b {
        return Err("a host cannot be cut from itself".into());
    }
    let action = if broken { "add" } else { "del" };
    for (from, to) in [(&a, b_ip), (&b, a_ip)] {
        let ns = namespace(lab, from);
        let route = format!("{to}/32");
        if is_cut(&ns, to)? != broken {
            ip(&["-n", &ns, "route", action, "unreachable", &route])?;
        }
    }
    Ok(if broken {
        format!("cut: {a} and {b} cannot reach each other (postlab lab heal {a} {b} mends it)")
    } else {
        format!("healed: {a} and {b} reach each other again")
    })
}

/// Does namespace `ns` have an `unreachable` route to `to`? (`ip` prints
/// `unreachable 198.51.100.12`.)
fn is_cut(ns: &str, to: Ipv4Addr) -> Result<bool, String> {
    let to = to.to_string();
    Ok(ip(&["-n", ns, "route", "show", "type", "unreachable"])?
        .lines()
        .any(|l| {
            l.split_whitespace()
                .any(|w| w == to || w == format!("{to}/32"))
        }))
}

/// `lab delay A B MS`: what A and B send each other waits MS milliseconds (0 removes it).
/// Each host's eth0 gets a `prio` queue whose fourth band, where a filter sends the packets
/// for the other host, is a `netem` delay. A host has one delay at a time: a new `lab delay`
/// naming it replaces the last.
pub fn delay(lab: &Lab, a: &str, b: &str, ms: u32) -> Result<String, String> {
    require_netns(lab, "lab delay")?;
    let (a, a_ip) = host(lab, a)?;
    let (b, b_ip) = host(lab, b)?;
    for (from, to) in [(&a, b_ip), (&b, a_ip)] {
        let ns = namespace(lab, from);
        let _ = run("tc", &["-n", &ns, "qdisc", "del", "dev", "eth0", "root"]);
        if ms == 0 {
            continue;
        }
        let delay = format!("{ms}ms");
        let dst = format!("{to}/32");
        let steps: [&[&str]; 3] = [
            &[
                "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "prio", "bands", "4",
            ],
            &[
                "qdisc", "add", "dev", "eth0", "parent", "1:4", "handle", "40:", "netem", "delay",
                &delay,
            ],
            &[
                "filter", "add", "dev", "eth0", "parent", "1:0", "protocol", "ip", "u32", "match",
                "ip", "dst", &dst, "flowid", "1:4",
            ],
        ];
        for step in steps {
            let args: Vec<&str> = ["-n", ns.as_str()].iter().chain(step).copied().collect();
            if let Err(e) = run("tc", &args) {
                let _ = run("tc", &["-n", &ns, "qdisc", "del", "dev", "eth0", "root"]);
                return Err(format!(
                    "{e}\n(this kernel lacks a queueing discipline lab delay needs, prio or netem \
                     (modules sch_prio, sch_netem): lab delay cannot work here; lab cut can)"
                ));
            }
        }
    }
    Ok(if ms == 0 {
        format!("{a} and {b}: no delay")
    } else {
        format!("{a} and {b}: each packet between them waits {ms} ms")
    })
}

/// The lab's links as `lab status` shows them: which pairs are cut.
pub fn status(lab: &Lab) -> String {
    if !lab.netns || !state_file(lab).exists() {
        return String::new();
    }
    let mut text = format!(
        "network     198.51.100.0/24, namespaces postlab-{}-*, this machine {} on {}\n",
        tag(lab),
        desk(),
        desk_link(lab)
    );
    let servers = lab.servers();
    for n in &servers {
        let ns = namespace(lab, &format!("lab{n}"));
        for m in servers.iter().filter(|m| *m > n) {
            if is_cut(&ns, lab.address(*m)).unwrap_or(false) {
                let _ = writeln!(text, "cut         lab{n} and lab{m}");
            }
        }
    }
    text
}
