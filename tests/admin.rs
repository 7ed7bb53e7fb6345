//! The administrator's commands: `postlab deliver`, `alias`, `user disable | enable`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::*;

/// Runs `postlab ARGS --data DIR` with `stdin` and extra environment; (exit code, stderr).
fn postlab_with_stdin(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> (i32, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("SENDER")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A usage error exits before reading: a broken pipe here is expected.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// One POP3 login attempt; the reply to PASS.
pub fn pop3_login(server: &TestServer, user: &str, password: &str) -> String {
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    for command in [format!("USER {user}"), format!("PASS {password}")] {
        line.clear();
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        reader.read_line(&mut line).unwrap();
    }
    line
}

#[test]
fn deliver_writes_into_the_maildir_with_sysexits() {
    let server = TestServer::start_with(Setup {
        users: Some(vec![("alice", "alice-password")]),
        ..Setup::default()
    });
    let (code, stderr) = postlab_with_stdin(
        &server.dir,
        &["deliver", "--user", "Alice"],
        &[
            ("SENDER", "bob@example.org"),
            ("RECIPIENT", "alice@lab.test"),
        ],
        b"Subject: piped\n\nfrom a pipe\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let mail = server.new_mail("alice");
    assert_eq!(mail.len(), 1);
    let text = std::fs::read_to_string(&mail[0]).unwrap();
    assert_eq!(
        text,
        "Return-Path: <bob@example.org>\r\nDelivered-To: alice@lab.test\r\nSubject: piped\r\n\r\nfrom a pipe\r\n"
    );

    let (code, stderr) =
        postlab_with_stdin(&server.dir, &["deliver", "--user", "nobody"], &[], b"x\n");
    assert_eq!(code, 67, "EX_NOUSER: {stderr}");
    assert!(stderr.contains("no account nobody"), "{stderr}");
    let (code, _) = postlab_with_stdin(&server.dir, &["deliver"], &[], b"x\n");
    assert_eq!(code, 64, "EX_USAGE");
    let (code, _) = postlab_with_stdin(
        &server.dir,
        &["deliver", "--user", "alice", "--bogus"],
        &[],
        b"x\n",
    );
    assert_eq!(code, 64, "EX_USAGE");

    // A mailbox that cannot be written is a temporary failure: the MTA keeps the message.
    let new = server.dir.join("mail/alice/tmp");
    std::fs::remove_dir_all(&new).unwrap();
    std::fs::write(&new, "not a folder").unwrap();
    let (code, stderr) =
        postlab_with_stdin(&server.dir, &["deliver", "--user", "alice"], &[], b"x\n");
    assert_eq!(code, 75, "EX_TEMPFAIL: {stderr}");
    assert_eq!(server.new_mail("alice").len(), 1);
}

#[test]
fn aliases_added_and_deleted_take_effect_at_once() {
    let server = TestServer::start();
    let (code, out, err) = server.postlab(&["alias", "add", "team", "alice", "bob"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "team -> alice, bob\n");
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let reply = smtp.send_mail(
        "carol@example.org",
        &["team@localhost"],
        "Subject: hi\r\n\r\nhi\r\n",
    );
    assert_eq!(reply.code, 250);
    wait_for("both copies", || {
        (server.new_mail("alice").len() == 1 && server.new_mail("bob").len() == 1).then_some(())
    });

    let (code, out, _) = server.postlab(&["alias", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("team: alice, bob\n") && out.contains("postmaster: "),
        "{out}"
    );

    let (code, _, err) = server.postlab(&["alias", "add", "lost", "nosuchuser"]);
    assert_eq!(code, 1);
    assert!(err.contains("go nowhere"), "{err}");
    let (code, _, err) = server.postlab(&["alias", "add", "alice", "bob"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = server.postlab(&["alias", "add", "team"]);
    assert_eq!(code, 2);

    assert_eq!(server.postlab(&["alias", "del", "team"]).0, 0);
    let text = std::fs::read_to_string(server.dir.join("aliases")).unwrap();
    assert!(
        !text.contains("team") && text.contains("# postlab aliases"),
        "{text}"
    );
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    smtp.expect("MAIL FROM:<carol@example.org>", 250);
    assert_eq!(smtp.cmd("RCPT TO:<team@localhost>").code, 550);
    assert_eq!(server.postlab(&["alias", "del", "team"]).0, 1);
}

#[test]
fn a_disabled_account_cannot_log_in_but_still_receives_mail() {
    let server = TestServer::start_with(Setup {
        users: Some(vec![("alice", "alice-password"), ("bob", "bob-password")]),
        ..Setup::default()
    });
    let (code, out, err) = server.postlab(&["user", "disable", "bob"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("bob is disabled"), "{out}");
    let users = std::fs::read_to_string(server.dir.join("users")).unwrap();
    assert!(
        users.contains("bob:{PLAIN}bob-password::::::nologin=y\n"),
        "{users}"
    );

    assert!(pop3_login(&server, "bob", "bob-password").starts_with("-ERR [AUTH]"));
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    // AUTH PLAIN of "\0bob\0bob-password".
    assert_eq!(smtp.cmd("AUTH PLAIN AGJvYgBib2ItcGFzc3dvcmQ=").code, 535);
    let reply = smtp.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: hi\r\n\r\nhi\r\n",
    );
    assert_eq!(reply.code, 250, "mail still arrives");

    assert_eq!(server.postlab(&["user", "enable", "bob"]).0, 0);
    assert!(pop3_login(&server, "bob", "bob-password").starts_with("+OK"));
    assert_eq!(server.postlab(&["user", "disable", "nobody"]).0, 1);
    assert_eq!(server.postlab(&["user", "disable"]).0, 2);
}

#[test]
fn check_finds_each_kind_of_problem_with_its_fix() {
    let server = TestServer::start();
    let (code, out, err) = server.postlab(&["check"]);
    assert_eq!(code, 0, "a fresh directory is fine: {out}{err}");

    let dir = &server.dir;
    let mut conf = std::fs::read_to_string(dir.join("postlab.conf")).unwrap();
    let bad_line = conf.lines().count() + 1;
    conf.push_str("max_recipient = 5\nmax_errors = lots\ntls_cert = /nonexistent/cert.pem\n");
    std::fs::write(dir.join("postlab.conf"), conf).unwrap();
    std::fs::write(dir.join("aliases"), "a: b\nb: a\nlost: nobody\n").unwrap();
    std::fs::write(dir.join("transport"), "only-a-domain\n").unwrap();
    // A Maildir made by hand, without tmp/.
    std::fs::create_dir_all(dir.join("mail/alice/new")).unwrap();
    std::fs::create_dir_all(dir.join("mail/alice/cur")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("users"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let (code, out, _) = server.postlab(&["check"]);
    assert_eq!(code, 1, "{out}");
    for expected in [
        format!("error: postlab.conf line {bad_line}: unknown setting 'max_recipient'"),
        format!("error: postlab.conf line {}: max_errors", bad_line + 1),
        "error: alias a: loops: a -> b -> a".to_string(),
        "target nobody is neither an account".to_string(),
        "error: no postmaster".to_string(),
        "postlab alias add postmaster".to_string(),
        "transport".to_string(),
        "error: tls_cert = /nonexistent/cert.pem: cannot read it".to_string(),
        "error: tls_cert and tls_key: only one of them is set".to_string(),
        "error: Maildir of alice has no tmp".to_string(),
        "can be read by other users of this machine, e.g.".to_string(),
        "fix: postlab check --fix".to_string(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert_eq!(server.postlab(&["check", "extra"]).0, 2);
}

#[test]
fn status_shows_the_running_server_and_says_when_it_is_not() {
    let server = TestServer::start();
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let reply = smtp.send_mail(
        "carol@example.org",
        &["alice@localhost"],
        "Subject: s\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250);
    smtp.expect("RCPT TO:<nobody@localhost>", 503);
    let pid = server.child.id().to_string();
    let out = wait_for("status to show the open SMTP session", || {
        let (code, out, _) = server.postlab(&["status"]);
        (code == 0 && out.contains("open sessions: smtp 1")).then_some(out)
    });
    assert!(
        out.contains(&format!("postlab is running, pid {pid}")),
        "{out}"
    );
    assert!(out.contains(&format!("smtp {}", server.smtp)), "{out}");
    assert!(out.contains("queue: 0 message(s), 0 held"), "{out}");
    assert!(out.contains("delivered to alice"), "{out}");
    assert!(out.contains("S: 503"), "{out}");

    let dir = server.kill();
    let (code, out, _) = postlab_in(&dir, &["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("postlab is not running"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quota_refuses_for_now_or_for_good_and_pop3_still_empties_the_mailbox() {
    let server = TestServer::start_with(Setup {
        users: Some(vec![("alice", "alice-password"), ("bob", "bob-password")]),
        ..Setup::default()
    });
    let (code, out, err) = server.postlab(&["user", "quota", "bob", "2K"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("bob may keep 2K"), "{out}");
    let users = std::fs::read_to_string(server.dir.join("users")).unwrap();
    assert!(
        users.contains("bob:{PLAIN}bob-password::::::userdb_quota_rule=*:storage=2K\n"),
        "{users}"
    );
    assert_eq!(server.postlab(&["user", "quota", "bob", "lots"]).0, 2);

    // Lines of 100 octets with CRLF (SMTP lines stop at 1000).
    let body = |octets: usize| {
        format!(
            "Subject: q\r\n\r\n{}",
            format!("{}\r\n", "x".repeat(98)).repeat(octets / 100)
        )
    };
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    assert_eq!(
        smtp.send_mail("alice@localhost", &["bob@localhost"], &body(1000))
            .code,
        250
    );
    let full = smtp.send_mail("alice@localhost", &["bob@localhost"], &body(1000));
    assert_eq!(
        (full.code, full.text().starts_with("4.2.2 Mailbox full")),
        (452, true),
        "{full:?}"
    );
    let too_big = smtp.send_mail("alice@localhost", &["bob@localhost"], &body(3000));
    assert_eq!(
        (
            too_big.code,
            too_big.text().starts_with("5.2.2 Mailbox full")
        ),
        (552, true),
        "{too_big:?}"
    );
    // Alice has no quota.
    assert_eq!(
        smtp.send_mail("bob@localhost", &["alice@localhost"], &body(3000))
            .code,
        250
    );

    // Over quota, POP3 still logs in and deletes; then there is room again.
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    for command in ["USER bob", "PASS bob-password", "DELE 1", "QUIT"] {
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{command}: {line}");
    }
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    assert_eq!(
        smtp.send_mail("alice@localhost", &["bob@localhost"], &body(1000))
            .code,
        250
    );

    assert_eq!(server.postlab(&["user", "quota", "bob", "0"]).0, 0);
    assert_eq!(
        smtp.send_mail("alice@localhost", &["bob@localhost"], &body(3000))
            .code,
        250
    );
}
