//! `postlab lab class`: a class across laptops. Network namespaces stand in for the
//! classroom: a teacher, three students (ani, budi, citra) and a visitor who is not in the
//! class, each a host on one switch in 203.0.113.0/24 (RFC 5737 TEST-NET-3, a range no real
//! network uses, and another than `tests/lab_netns.rs`'s). The hosts have no route out of the
//! room, and the test's own process sends nothing to them: every packet stays in namespaces
//! the test made. Every program of the class runs as nobody, as a student's would.
//!
//! Like `tests/lab_netns.rs`, this needs root and `ip netns`, as `make test` has in CI; where
//! they are missing it fails, saying so, and never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::netns::Room;
use crate::support::{temp_dir, wait_for, BIN};

const NET: &str = "203.0.113";
const TEACHER: &str = "203.0.113.10";
/// The students: host, name, address's last number.
const STUDENTS: [(&str, &str, u8); 3] =
    [("s1", "ani", 21), ("s2", "budi", 22), ("s3", "citra", 23)];

/// `postlab ARGS` as nobody on host `host`: (exit code, stdout, stderr).
fn postlab_on(room: &Room, host: &str, args: &[&str]) -> (i32, String, String) {
    let out = room.exec(host, BIN, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A folder of host `host`'s own, which nobody (its user) may write.
fn home(base: &Path, host: &str) -> PathBuf {
    let dir = base.join(host);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    dir
}

/// Starts `lab class host` on the teacher's host; returns it and the class code.
fn start_teacher(room: &Room, dir: &Path, log: &Path) -> (Child, String) {
    let _ = std::fs::remove_file(log);
    let child = Command::new("ip")
        .args(["netns", "exec", &room.namespace("teacher"), "setpriv"])
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args([
            "lab",
            "class",
            "host",
            "--network",
            "203.0.113.0/24",
            "--dir",
        ])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    wait_for("the teacher's DNS to listen", || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let err = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
        assert!(err.is_empty(), "lab class host failed: {err}");
        text.contains("listening on 203.0.113.10:10053")
            .then_some(())
    });
    let code = std::fs::read_to_string(dir.join("code"))
        .unwrap()
        .trim()
        .to_string();
    (child, code)
}

/// `dig @TEACHER QUESTION` from the visitor's host.
fn dig(room: &Room, question: &[&str]) -> String {
    let mut args = vec!["@203.0.113.10", "-p", "10053", "+time=2", "+tries=1"];
    args.extend(question);
    room.exec_root("visitor", "dig", &args)
}

/// Bob's messages on student `name`'s server, as text.
fn inbox(base: &Path, host: &str, name: &str) -> Vec<String> {
    std::fs::read_dir(base.join(host).join(format!("class/{name}/mail/bob/new")))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs a small shell script on the visitor's host, as nobody.
fn visitor_sh(room: &Room, script: &str) -> String {
    let out = room.exec("visitor", "bash", &["-c", script]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_class_of_three_laptops_mails_every_pair_once_through_the_teachers_dns() {
    let mut hosts: Vec<(&str, u8)> = vec![("teacher", 10), ("visitor", 99)];
    hosts.extend(STUDENTS.iter().map(|(h, _, n)| (*h, *n)));
    let mut room = Room::new("plclass", NET, &hosts);
    let base = temp_dir("class");
    for (host, _) in &hosts {
        home(&base, host);
    }
    let class = base.join("teacher/class");
    let log = base.join("teacher.log");
    let (mut teacher, code) = start_teacher(&room, &class, &log);

    // Every student joins; the teacher's screen shows it, the zone publishes it.
    let mut passwords = Vec::new();
    for (host, name, n) in STUDENTS {
        let dir = base.join(host).join("class");
        let (status, out, err) = postlab_on(
            &room,
            host,
            &[
                "lab",
                "class",
                "join",
                name,
                "--teacher",
                TEACHER,
                "--code",
                &code,
                "--dir",
                dir.to_str().unwrap(),
            ],
        );
        assert_eq!(status, 0, "{name} could not join: {out}{err}");
        assert!(
            out.contains(&format!(
                "250 {name}.class.test is {NET}.{n}: MX 10 mx.{name}.class.test, 2 DKIM key(s)"
            )),
            "{out}"
        );
        let secret = out
            .split("alice:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("alice's password in the join output")
            .to_string();
        passwords.push(secret);
        // Nothing of the student's listens beyond its class address, but the web on loopback.
        let sockets = room.exec_root(host, "ss", &["-ltnuH"]);
        for line in sockets.lines() {
            let local = line.split_whitespace().nth(4).unwrap_or("");
            assert!(
                local.starts_with(&format!("{NET}.{n}:")) || local.starts_with("127.0.0.1:"),
                "{name} listens on {local}:\n{sockets}"
            );
        }
    }
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("JOIN budi → 250"));
    let answer = dig(&room, &["budi.class.test", "MX", "+short"]);
    assert_eq!(answer.trim(), "10 mx.budi.class.test.", "{answer}");
    let answer = dig(
        &room,
        &["postlab-ed25519._domainkey.ani.class.test", "TXT", "+short"],
    );
    assert!(answer.contains("v=DKIM1; k=ed25519; p="), "{answer}");
    // No open resolver: a name outside the zone is refused, and recursion is not offered.
    let answer = dig(&room, &["example.com", "A"]);
    assert!(answer.contains("status: REFUSED"), "{answer}");
    let flags = answer
        .split("flags:")
        .nth(1)
        .and_then(|f| f.split(';').next())
        .unwrap_or("");
    assert!(!flags.contains(" ra"), "recursion offered: {answer}");
    let sockets = room.exec_root("teacher", "ss", &["-ltnuH"]);
    for line in sockets.lines() {
        let local = line.split_whitespace().nth(4).unwrap_or("");
        assert!(
            local.starts_with(&format!("{TEACHER}:")),
            "the teacher listens on {local}"
        );
    }

    // Every pair, by MX through the teacher's DNS, submitted over STARTTLS with AUTH.
    for (i, (host, from, _)) in STUDENTS.iter().enumerate() {
        for (_, to, _) in STUDENTS.iter().filter(|(_, to, _)| to != from) {
            let server = format!("{NET}.{}:10587", STUDENTS[i].2);
            let auth = format!("alice:{}", passwords[i]);
            let (status, out, err) = postlab_on(
                &room,
                host,
                &[
                    "send",
                    "--server",
                    &server,
                    "--auth",
                    &auth,
                    "--from",
                    &format!("alice@{from}.class.test"),
                    "--to",
                    &format!("bob@{to}.class.test"),
                    "--subject",
                    &format!("{from} to {to}"),
                    "--body",
                    "hello",
                ],
            );
            assert_eq!(status, 0, "{from} to {to}: {out}{err}");
        }
    }
    wait_for("every message to arrive", || {
        STUDENTS
            .iter()
            .all(|(host, name, _)| inbox(&base, host, name).len() >= 2)
            .then_some(())
    });
    for (host, from, n) in STUDENTS {
        let queue = base.join(host).join(format!("class/{from}"));
        wait_for("the queues to empty", || {
            let out = Command::new(BIN)
                .args(["queue", "list", "--data"])
                .arg(&queue)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .contains("0 message(s) in the queue")
                .then_some(())
        });
        for (to_host, to, _) in STUDENTS.iter().filter(|(_, to, _)| *to != from) {
            let subject = format!("Subject: {from} to {to}\r\n");
            let copies: Vec<String> = inbox(&base, to_host, to)
                .into_iter()
                .filter(|m| m.contains(&subject))
                .collect();
            assert_eq!(copies.len(), 1, "{subject} at {to}");
            let message = &copies[0];
            // Sent from the student's own address, signed with the key the zone publishes.
            let received = format!("Received: from mx.{from}.class.test ([{NET}.{n}])");
            assert!(message.contains(&received), "{received} in\n{message}");
            assert!(
                message.contains("dkim=pass") && message.contains("spf=pass"),
                "{message}"
            );
        }
    }
    for (host, name, _) in STUDENTS {
        assert_eq!(
            inbox(&base, host, name).len(),
            2,
            "no message doubled at {name}"
        );
    }

    // No laptop relays for the room: not for the visitor, not for another student.
    let relay = |host: &str, from: &str| {
        postlab_on(
            &room,
            host,
            &[
                "send",
                "--server",
                "203.0.113.21:10025",
                "--from",
                from,
                "--to",
                "bob@citra.class.test",
                "--subject",
                "relay?",
                "--body",
                "x",
            ],
        )
    };
    for (host, from) in [
        ("visitor", "eve@visitor.test"),
        ("s2", "alice@budi.class.test"),
    ] {
        let (status, out, err) = relay(host, from);
        assert_ne!(status, 0, "{host} relayed through ani: {out}");
        assert!(
            err.contains("554 5.7.1") && err.contains("Relay access denied"),
            "{err}"
        );
    }
    // Ani's own users reach class domains only: no real domain, no address literal.
    for to in ["bob@example.com", "bob@[203.0.113.22]"] {
        let (status, out, err) = postlab_on(
            &room,
            "s1",
            &[
                "send",
                "--server",
                "203.0.113.21:10587",
                "--auth",
                &format!("alice:{}", passwords[0]),
                "--from",
                "alice@ani.class.test",
                "--to",
                to,
                "--body",
                "x",
            ],
        );
        assert_ne!(status, 0, "{to}: {out}");
        assert!(
            err.contains("554 5.7.1") && err.contains("relays to its class's domains only"),
            "{err}"
        );
    }
    // A password does not cross the room in clear text.
    let (status, out, err) = postlab_on(
        &room,
        "visitor",
        &[
            "send",
            "--server",
            "203.0.113.21:10587",
            "--no-starttls",
            "--auth",
            &format!("alice:{}", passwords[0]),
            "--from",
            "alice@ani.class.test",
            "--to",
            "bob@budi.class.test",
            "--body",
            "x",
        ],
    );
    assert_ne!(status, 0, "a plaintext login off loopback: {out}");
    assert!(err.contains("TLS"), "{err}");

    // Registration: a taken name, a wrong code, a long line, too many requests.
    let visitor_dir = base.join("visitor/class");
    let v = visitor_dir.to_str().unwrap();
    let (status, _, err) = postlab_on(
        &room,
        "visitor",
        &[
            "lab",
            "class",
            "join",
            "ani",
            "--teacher",
            TEACHER,
            "--code",
            &code,
            "--dir",
            v,
        ],
    );
    assert_eq!(status, 1);
    assert!(
        err.contains("550 5.7.1 ani.class.test is taken by 203.0.113.21"),
        "{err}"
    );
    assert!(
        room.pids("visitor").is_empty(),
        "a refused join starts no server"
    );
    let (status, _, err) = postlab_on(
        &room,
        "visitor",
        &[
            "lab",
            "class",
            "join",
            "dewi",
            "--teacher",
            TEACHER,
            "--code",
            "ABCD-EFGH",
            "--dir",
            v,
        ],
    );
    assert_eq!(status, 1);
    assert!(err.contains("535 5.7.8"), "{err}");
    let long = visitor_sh(
        &room,
        "exec 3<>/dev/tcp/203.0.113.10/10054; IFS= read -r -t 5 g <&3; head -c 2000 /dev/zero | tr '\\0' x >&3; \
         printf '\\r\\n' >&3; timeout 5 cat <&3",
    );
    assert!(long.contains("500 5.5.2"), "{long}");
    let lines = visitor_sh(
        &room,
        "exec 3<>/dev/tcp/203.0.113.10/10054; IFS= read -r -t 5 g <&3; \
         for i in $(seq 9); do printf 'JOIN dewi ABCD-EFGH\\r\\n' >&3; done; timeout 5 cat <&3",
    );
    assert!(
        lines.contains("501 5.5.4 a request has at most 8 lines"),
        "{lines}"
    );
    let many = visitor_sh(
        &room,
        "for i in $(seq 21); do exec 3<>/dev/tcp/203.0.113.10/10054 || continue; IFS= read -r -t 5 g <&3; echo \"$g\"; \
         case $g in 220*) printf 'LEAVE dewi ABCD-EFGH\\r\\nEND\\r\\n' >&3; timeout 5 cat <&3;; esac; exec 3<&-; done",
    );
    assert!(many.contains("535 5.7.8"), "{many}");
    assert!(
        many.contains("421 4.7.0 more than 10 requests a minute from 203.0.113.99"),
        "{many}"
    );
    let roster = std::fs::read_to_string(class.join("roster")).unwrap();
    assert_eq!(
        roster.lines().filter(|l| !l.starts_with('#')).count(),
        3,
        "{roster}"
    );

    // The teacher edits the roster by hand: the zone follows.
    std::fs::write(class.join("roster"), roster + "dewi 203.0.113.99\n").unwrap();
    wait_for("the hand-added name in the zone", || {
        (dig(&room, &["dewi.class.test", "MX", "+short"]).trim() == "10 mx.dewi.class.test.")
            .then_some(())
    });

    // citra leaves; budi's server crashed first, and leaves all the same.
    let leave = |host: &str| {
        let dir = base.join(host).join("class");
        postlab_on(
            &room,
            host,
            &["lab", "class", "leave", "--dir", dir.to_str().unwrap()],
        )
    };
    let (status, out, err) = leave("s3");
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("stopped the server of citra")
            && out.contains("250 citra.class.test left the class"),
        "{out}"
    );
    assert!(room.pids("s3").is_empty());
    assert!(dig(&room, &["citra.class.test", "MX"]).contains("status: NXDOMAIN"));
    for pid in room.pids("s2") {
        Command::new("kill").args(["-9", &pid]).status().unwrap();
    }
    wait_for("budi's server to die", || {
        room.pids("s2").is_empty().then_some(())
    });
    let (status, out, err) = leave("s2");
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("was not running") && out.contains("250 budi.class.test left the class"),
        "{out}"
    );

    // The teacher's laptop crashes; a new start serves the same class with the same code.
    for pid in room.pids("teacher") {
        Command::new("kill").args(["-9", &pid]).status().unwrap();
    }
    let _ = teacher.wait();
    let (mut again, same_code) = start_teacher(&room, &class, &log);
    assert_eq!(same_code, code);
    assert_eq!(
        dig(&room, &["ani.class.test", "MX", "+short"]).trim(),
        "10 mx.ani.class.test."
    );
    assert!(dig(&room, &["budi.class.test", "MX"]).contains("status: NXDOMAIN"));

    // Everything the test made goes: processes, namespaces.
    let left = room.remove();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    let _ = again.wait();
    let (_, list) = crate::support::netns::ip(&["netns", "list"]);
    assert!(!list.contains("plclass-"), "{list}");
}

/// Without root or namespaces: a class refuses a network that is not a classroom's, and a
/// student's server refuses to listen on every address or to follow a teacher on the internet.
#[test]
fn a_class_refuses_public_networks_and_listening_everywhere() {
    let dir = temp_dir("class-refusals").join("class");
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| crate::support::postlab(args, "");
    let (code, _, err) = run(&[
        "lab",
        "class",
        "host",
        "--network",
        "8.8.8.0/24",
        "--dir",
        d,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not a private network (RFC 1918"), "{err}");
    let (code, _, err) = run(&[
        "lab",
        "class",
        "host",
        "--network",
        "192.168.0.0/8",
        "--dir",
        d,
    ]);
    assert_eq!(code, 1, "192.0.0.0/8 is mostly public: {err}");
    let join = |teacher: &str, listen: &str| {
        run(&[
            "lab",
            "class",
            "join",
            "ani",
            "--teacher",
            teacher,
            "--listen",
            listen,
            "--code",
            "ABCD-EFGH",
            "--dir",
            d,
        ])
    };
    let (code, _, err) = join("8.8.8.8", "192.168.5.23");
    assert_eq!(code, 1);
    assert!(
        err.contains("--teacher 8.8.8.8 is not an address on a classroom network"),
        "{err}"
    );
    for listen in ["0.0.0.0", "127.0.0.1", "8.8.4.4"] {
        let (code, _, err) = join("192.168.5.10", listen);
        assert_eq!(code, 1, "{listen}: {err}");
        assert!(
            err.contains(&format!(
                "{listen} is not an address on a classroom network"
            )),
            "{err}"
        );
    }
    let (code, _, err) = run(&[
        "lab",
        "class",
        "join",
        "Ani!",
        "--teacher",
        "192.168.5.10",
        "--code",
        "X",
        "--dir",
        d,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot be a class name"), "{err}");
    assert!(!dir.exists(), "nothing was made");
}
