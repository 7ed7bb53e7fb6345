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
    child.stdin.take().unwrap().write_all(stdin).unwrap();
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
