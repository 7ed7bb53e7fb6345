//! `postlab serve` as a daemon: SIGTERM says goodbye to every session and lets a transfer in
//! flight finish, SIGHUP survives a broken config file, one server per data directory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

fn signal(server: &TestServer, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the server process to end and gives its exit code.
fn exit_code(server: &mut TestServer) -> Option<i32> {
    wait_for("the server to exit", || {
        server.child.try_wait().ok().flatten()
    })
    .code()
}

/// A POP3 connection, greeting read.
fn pop3(server: &TestServer) -> (BufReader<TcpStream>, TcpStream) {
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("+OK"), "{greeting}");
    (reader, stream)
}

#[test]
fn sigterm_tells_idle_sessions_goodbye_and_exits_0() {
    let mut server = TestServer::start();
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let (mut pop3_reader, _pop3) = pop3(&server);

    signal(&server, "TERM");

    let reply = smtp.read_reply();
    assert_eq!(reply.code, 421);
    assert_eq!(reply.text(), "4.3.2 Service shutting down");
    let mut line = String::new();
    pop3_reader.read_line(&mut line).unwrap();
    assert_eq!(line, "-ERR [SYS/TEMP] server shutting down\r\n");
    assert_eq!(exit_code(&mut server), Some(0));
}

#[test]
fn sigterm_tells_an_imap_session_in_idle_goodbye() {
    let mut server = TestServer::start_with(Setup {
        users: Some(vec![("alice", "alice-password")]),
        ..Setup::default()
    });
    let stream = TcpStream::connect(server.addr("imap")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut command = |text: &str, until: &str| {
        stream.write_all(format!("{text}\r\n").as_bytes()).unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.starts_with(until) {
                return;
            }
        }
    };
    command("a1 LOGIN alice alice-password", "a1 OK");
    command("a2 SELECT INBOX", "a2 OK");
    command("a3 IDLE", "+ ");

    signal(&server, "TERM");
    let mut bye = String::new();
    reader.read_line(&mut bye).unwrap();
    assert_eq!(bye, "* BYE [UNAVAILABLE] Server shutting down\r\n");
    assert_eq!(exit_code(&mut server), Some(0));
}

#[test]
fn a_message_being_received_is_finished_and_kept() {
    let mut server = TestServer::start();
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    smtp.expect("MAIL FROM:<bob@localhost>", 250);
    smtp.expect("RCPT TO:<alice@localhost>", 250);
    smtp.expect("DATA", 354);
    smtp.send_raw(b"Subject: in flight\r\n\r\nfirst half\r\n");

    signal(&server, "TERM");
    // The stop has begun once a newcomer is sent away after its greeting.
    let mut newcomer = server.connect();
    assert_eq!(newcomer.read_reply().code, 421);

    smtp.send_raw(b"second half\r\n.\r\n");
    assert_eq!(
        smtp.read_reply().code,
        250,
        "the message in flight is accepted"
    );
    assert_eq!(smtp.read_reply().code, 421, "then the session is closed");
    assert_eq!(exit_code(&mut server), Some(0));
    let mail = server.new_mail("alice");
    assert_eq!(mail.len(), 1);
    let text = std::fs::read_to_string(&mail[0]).unwrap();
    assert!(text.contains("first half\r\nsecond half\r\n"), "{text}");
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let server = TestServer::start();
    let output = Command::new(BIN)
        .args(["serve", "--ephemeral-ports", "--data"])
        .arg(&server.dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pid = server.child.id().to_string();
    assert!(
        stderr.contains("already using") && stderr.contains(&pid),
        "{stderr}"
    );
    // The first one is untouched.
    server.connect().expect("NOOP", 250);
}

#[test]
fn sighup_applies_new_limits_to_new_sessions_and_survives_a_broken_file() {
    let mut server = TestServer::start();
    let conf = server.dir.join("postlab.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    let mut open = server.connect();
    open.expect("HELO client.test", 250);
    open.expect("MAIL FROM:<>", 250);

    text.push_str("max_recipients = 1\n");
    std::fs::write(&conf, &text).unwrap();
    signal(&server, "HUP");
    wait_for("a new session to get the new limit", || {
        let mut smtp = server.connect();
        smtp.expect("HELO client.test", 250);
        smtp.expect("MAIL FROM:<>", 250);
        smtp.expect("RCPT TO:<alice@localhost>", 250);
        (smtp.cmd("RCPT TO:<bob@localhost>").code == 452).then_some(())
    });
    // The session open across the SIGHUP keeps the limit it started with.
    open.expect("RCPT TO:<alice@localhost>", 250);
    open.expect("RCPT TO:<bob@localhost>", 250);

    // A broken file: logged, and the running settings (max_recipients 1) stay.
    std::fs::write(&conf, "max_recipients = many\n").unwrap();
    signal(&server, "HUP");
    let mut users = std::fs::read_to_string(server.dir.join("users")).unwrap();
    users.push_str("carol:{PLAIN}carol-password\n");
    std::fs::write(server.dir.join("users"), users).unwrap();
    let mut smtp = server.connect();
    smtp.expect("HELO client.test", 250);
    smtp.expect("MAIL FROM:<>", 250);
    smtp.expect("RCPT TO:<carol@localhost>", 250);
    smtp.expect("RCPT TO:<bob@localhost>", 452);
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    drop(smtp);
    drop(open);
    signal(&server, "INT");
    assert_eq!(exit_code(&mut server), Some(0));
}

#[test]
fn a_transfer_that_outlasts_the_grace_period_is_cut_and_not_kept() {
    let mut server = TestServer::start_with(Setup {
        config: "shutdown_grace = 1\n".into(),
        ..Setup::default()
    });
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    smtp.expect("MAIL FROM:<bob@localhost>", 250);
    smtp.expect("RCPT TO:<alice@localhost>", 250);
    smtp.expect("DATA", 354);
    smtp.send_raw(b"Subject: never finished\r\n\r\n");
    signal(&server, "TERM");
    assert_eq!(exit_code(&mut server), Some(0));
    assert!(smtp.is_closed());
    assert!(
        server.new_mail("alice").is_empty(),
        "nothing half-received is kept"
    );
}
