//! `postlab lab up N --netns`: each lab server a host of its own (a network namespace), mail
//! between every pair, a link cut and healed with nothing lost or doubled, and `lab down`
//! leaving nothing behind even after `kill -9`.
//!
//! These tests need root and `ip` (iproute2), as `make test` has in CI. Where `ip netns add`
//! fails they fail, saying so: they never pass by skipping. Their traffic goes only to the
//! namespaces they make, in 198.51.100.0/24 (RFC 5737 TEST-NET-2), and each checks first that
//! the range is free and then that it is routed to the lab's own link.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::netns::ip;
use crate::support::{postlab, queue_id, temp_dir, wait_for, SmtpClient, BIN};

/// One namespaced lab at a time: they share 198.51.100.0/24.
static ONE_LAB: Mutex<()> = Mutex::new(());

/// Takes the lab down (processes, namespaces, links) even when the test fails.
struct Running(PathBuf);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["lab", "down", "--dir"])
            .arg(&self.0)
            .output();
    }
}

/// Starts `count` namespaced servers; checks the range was free and is now the lab's.
fn up(count: usize) -> (Running, PathBuf) {
    let (_, used) = ip(&["-o", "-4", "addr", "show", "to", "198.51.100.0/24"]);
    assert!(
        used.trim().is_empty(),
        "198.51.100.0/24 is already on an interface of this machine (a lab left running?):\n{used}"
    );
    let dir = temp_dir("netns").join("lab");
    let d = dir.to_str().unwrap();
    let (code, out, err) = postlab(
        &[
            "lab",
            "up",
            &count.to_string(),
            "--netns",
            "--retry",
            "1",
            "--dir",
            d,
        ],
        "",
    );
    let running = Running(dir.clone());
    assert_eq!(
        code, 0,
        "postlab lab up --netns failed: this test needs root and network namespaces \
         (`ip netns add`) and does not skip without them\n{out}{err}"
    );
    // Before any traffic: every lab address is reached through the lab's own link only.
    let link = out_link(&dir);
    for n in 0..=count {
        let address = format!("198.51.100.{}", 10 + n);
        let (_, way) = ip(&["route", "get", &address]);
        assert!(
            way.contains(&format!("dev {link} ")),
            "{address} is not routed to the lab: {way}"
        );
    }
    (running, dir)
}

/// Host `n`'s namespace, from the state file.
fn namespace(dir: &Path, n: usize) -> String {
    let state = std::fs::read_to_string(dir.join("netns.state")).expect("netns.state");
    let suffix = format!("-lab{n}");
    state
        .lines()
        .filter_map(|l| l.strip_prefix("netns "))
        .find(|l| l.ends_with(&suffix))
        .expect("the host in netns.state")
        .to_string()
}

/// The machine's end of the lab network, from the state file `lab up` wrote.
fn out_link(dir: &Path) -> String {
    let state = std::fs::read_to_string(dir.join("netns.state")).expect("netns.state");
    state
        .lines()
        .find_map(|l| l.strip_prefix("link "))
        .expect("a link in netns.state")
        .to_string()
}

/// Submits one message on server `from`'s port 25: the machine's own address may relay.
fn send(from: usize, to: usize, subject: &str) -> String {
    let addr = format!("198.51.100.{}:25", 10 + from).parse().unwrap();
    let mut client = SmtpClient::connect(addr);
    client.expect("EHLO desk.test", 250);
    let reply = client.send_mail(
        &format!("alice@lab{from}.test"),
        &[&format!("bob@lab{to}.test")],
        &format!("From: alice@lab{from}.test\r\nTo: bob@lab{to}.test\r\nSubject: {subject}\r\n\r\nhello\r\n"),
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    client.expect("QUIT", 221);
    queue_id(&reply)
}

/// The messages in bob's new/ on server `n`, as text.
fn mailbox(dir: &Path, n: usize) -> Vec<String> {
    std::fs::read_dir(dir.join(format!("lab{n}/mail/bob/new")))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn subject_count(dir: &Path, n: usize, subject: &str) -> usize {
    let line = format!("Subject: {subject}\r\n");
    mailbox(dir, n).iter().filter(|m| m.contains(&line)).count()
}

fn queue(dir: &Path, n: usize) -> String {
    let data = dir.join(format!("lab{n}"));
    postlab(&["queue", "list", "--data", data.to_str().unwrap()], "").1
}

#[test]
fn three_hosts_send_every_pair_once_across_a_cut_and_heal() {
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let (_running, dir) = up(3);
    let d = dir.to_str().unwrap();
    let mut expected = Vec::new();
    for from in 1..=3 {
        for to in (1..=3).filter(|t| *t != from) {
            let subject = format!("before the cut, lab{from} to lab{to}");
            send(from, to, &subject);
            expected.push((to, subject));
        }
    }

    let (code, out, err) = postlab(&["lab", "cut", "lab1", "lab2", "--dir", d], "");
    assert_eq!(code, 0, "{out}{err}");
    let (_, status, _) = postlab(&["lab", "status", "--dir", d], "");
    assert!(status.contains("cut         lab1 and lab2"), "{status}");
    let id = send(1, 2, "across the cut, lab1 to lab2");
    send(2, 1, "across the cut, lab2 to lab1");
    send(1, 3, "beside the cut, lab1 to lab3");
    expected.extend([
        (2, "across the cut, lab1 to lab2".to_string()),
        (1, "across the cut, lab2 to lab1".to_string()),
        (3, "beside the cut, lab1 to lab3".to_string()),
    ]);
    // Both sides keep their message and retry; the rest of the lab is not affected.
    wait_for("lab1 and lab2 to defer across the cut", || {
        (queue(&dir, 1).contains("No route to host") && queue(&dir, 2).contains("No route to host"))
            .then_some(())
    });
    wait_for("lab1 to lab3 beside the cut", || {
        (subject_count(&dir, 3, "beside the cut, lab1 to lab3") == 1).then_some(())
    });
    assert_eq!(subject_count(&dir, 2, "across the cut, lab1 to lab2"), 0);

    let (code, out, err) = postlab(&["lab", "heal", "lab1", "lab2", "--dir", d], "");
    assert_eq!(code, 0, "{out}{err}");
    wait_for("every queue to empty after the heal", || {
        (1..=3)
            .all(|n| {
                queue(&dir, n)
                    .lines()
                    .any(|l| l == "0 message(s) in the queue")
            })
            .then_some(())
    });
    // The queues are empty, so nothing more can arrive: each message is there exactly once.
    for (to, subject) in &expected {
        assert_eq!(subject_count(&dir, *to, subject), 1, "{subject} in lab{to}");
    }
    let total: usize = (1..=3).map(|n| mailbox(&dir, n).len()).sum();
    assert_eq!(total, expected.len(), "no message doubled");
    // Each relayed message names the host it really came from (relay_source).
    for n in 1..=3 {
        for message in mailbox(&dir, n) {
            let from = message
                .split("Subject: ")
                .nth(1)
                .and_then(|s| s.split("lab").nth(1))
                .and_then(|s| s.split(' ').next())
                .unwrap_or("?")
                .to_string();
            let line = format!("Received: from mx.lab{from}.test ([198.51.100.1{from}])");
            assert!(message.contains(&line), "{line} in\n{message}");
        }
    }
    // A delay needs the kernel's prio and netem queues; where they are missing it says so.
    let (code, out, err) = postlab(&["lab", "delay", "lab1", "lab3", "50", "--dir", d], "");
    if code == 0 {
        let (_, queues) = ip(&[
            "netns",
            "exec",
            &namespace(&dir, 1),
            "tc",
            "qdisc",
            "show",
            "dev",
            "eth0",
        ]);
        assert!(
            queues.contains("netem") && queues.contains("delay 50ms"),
            "{out}\n{queues}"
        );
    } else {
        assert!(
            err.contains("lab delay cannot work here; lab cut can"),
            "{err}"
        );
    }
    let (code, trace, err) = postlab(
        &[
            "trace",
            &id,
            "--data",
            &format!("{d}/lab1"),
            "--data",
            &format!("{d}/lab2"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(trace.contains("No route to host"), "{trace}");
    assert!(trace.contains("next attempt in"), "{trace}");
    assert!(trace.contains("[lab2] delivered to bob"), "{trace}");
}

#[test]
fn lab_down_after_kill_9_leaves_no_namespace_link_or_process() {
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let (_running, dir) = up(2);
    let state = std::fs::read_to_string(dir.join("netns.state")).unwrap();
    let namespaces: Vec<&str> = state
        .lines()
        .filter_map(|l| l.strip_prefix("netns "))
        .collect();
    assert_eq!(namespaces.len(), 4, "switch, DNS and two hosts: {state}");
    let mut pids = Vec::new();
    for ns in &namespaces {
        let (_, list) = ip(&["netns", "pids", ns]);
        pids.extend(list.split_whitespace().map(str::to_string));
    }
    assert_eq!(pids.len(), 3, "two servers and the DNS: {pids:?}");
    // A server the class talks to does not run as root, though `lab up` did.
    for pid in &pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid.split_whitespace().skip(1).all(|id| id != "0"),
            "pid {pid} runs as root: {uid}"
        );
    }
    for pid in &pids {
        Command::new("kill").args(["-9", pid]).status().unwrap();
    }
    wait_for("the killed processes to go", || {
        pids.iter()
            .all(|p| !postlab::lab::alive(p.parse().unwrap()))
            .then_some(())
    });

    let link = out_link(&dir);
    let (code, out, err) = postlab(&["lab", "down", "--dir", dir.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}{err}");
    let (_, list) = ip(&["netns", "list"]);
    for ns in &namespaces {
        assert!(!list.contains(ns), "{ns} is left: {list}");
    }
    let (exists, _) = ip(&["link", "show", &link]);
    assert!(!exists, "the machine's lab link is left");
    let (_, used) = ip(&["-o", "-4", "addr", "show", "to", "198.51.100.0/24"]);
    assert!(used.trim().is_empty(), "{used}");
    assert!(!dir.join("netns.state").exists());
}

#[test]
fn netns_without_root_says_so_and_makes_nothing() {
    let dir = temp_dir("netns-user").join("lab");
    // Run as nobody: `ip netns add` is not allowed there.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["lab", "up", "1", "--netns", "--dir"])
        .arg(&dir)
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("needs root") && err.contains("loopback"),
        "{err}"
    );
    assert!(!dir.exists(), "nothing was made");
}
