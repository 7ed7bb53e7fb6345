//! `postlab lab up | status | down`: a mini internet of mail servers and a DNS server, and a
//! message from lab1 to lab2 that takes the whole flowchart with a real MX lookup.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{postlab, temp_dir, wait_for, BIN};

/// Stops the lab even when the test fails.
struct Running(PathBuf);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["lab", "down", "--dir"])
            .arg(&self.0)
            .output();
    }
}

#[test]
fn lab_up_sends_across_domains_with_dns_and_lab_down_stops_it() {
    let dir = temp_dir("lab").join("lab");
    let d = dir.to_str().unwrap().to_string();
    // A port offset of its own, so the lab cannot meet a developer's `postlab lab up`.
    let (code, out, err) = postlab(
        &["lab", "up", "2", "--dir", &d, "--port-offset", "31000"],
        "",
    );
    let _running = Running(dir.clone());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("lab1.test  127.0.0.11")
            && out.contains("lab2.test  127.0.0.12")
            && out.contains("DNS        127.0.0.10"),
        "{out}"
    );
    let (_, status, _) = postlab(&["lab", "status", "--dir", &d], "");
    assert_eq!(status.matches("running (pid").count(), 3, "{status}");
    // The zone it wrote is a standard zone file: BIND's own check accepts it.
    crate::dns::named_checkzone("test", &dir.join("lab.zone"));
    let (code, _, err) = postlab(&["lab", "up", "--dir", &d], "");
    assert_eq!(code, 1, "a second lab in the same folder is refused");
    assert!(err.contains("already running"), "{err}");

    let (code, out, err) = postlab(
        &[
            "send",
            "--server",
            "127.0.0.11:31587",
            "--auth",
            "alice:alice-password",
            "--from",
            "alice@lab1.test",
            "--to",
            "bob@lab2.test",
            "--subject",
            "across the lab",
        ],
        "hello lab2\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let (_, list, _) = wait_for("the message in lab2's mailbox", || {
        let result = postlab(
            &[
                "fetch",
                "--imap",
                "--server",
                "127.0.0.12:31143",
                "--user",
                "bob",
                "--password",
                "bob-password",
                "list",
            ],
            "",
        );
        result.1.contains("across the lab").then_some(result)
    });
    assert!(list.contains("<alice@lab1.test>"), "{list}");
    // lab1 relayed from its own address, so lab2's Received: line names the real sender
    // (relay_source), not the 127.0.0.1 the system would pick.
    // (IMAP moved it from new/ to cur/.)
    let message = ["new", "cur"]
        .iter()
        .flat_map(|f| std::fs::read_dir(dir.join("lab2/mail/bob").join(f)).unwrap())
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|m| m.contains("across the lab"))
        .expect("the message in lab2's Maildir");
    assert!(
        message.contains("Received: from mx.lab1.test ([127.0.0.11])"),
        "{message}"
    );
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
    assert!(
        trace.contains("[lab1] MX? lab2.test → 10 mx.lab2.test"),
        "{trace}"
    );
    assert!(trace.contains("[lab2] delivered to bob"), "{trace}");

    let (code, out, _) = postlab(&["lab", "down", "--dir", &d], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("stopped lab1, lab2, DNS"), "{out}");
    let (_, status, _) = postlab(&["lab", "status", "--dir", &d], "");
    assert_eq!(status.matches("stopped").count(), 3, "{status}");
    assert!(
        std::net::TcpStream::connect("127.0.0.11:31025").is_err(),
        "the servers are gone"
    );
}
