//! What lands in the Maildir, and who gets it.

use std::fs;

use crate::support::{queue_id, wait_for, Setup, TestServer};

const MESSAGE: &str = "From: Alice <alice@localhost>\r\nTo: Bob <bob@localhost>\r\nSubject: hello\r\n\r\nHi Bob,\r\n..a line that starts with a dot\r\n\r\nAlice\r\n";

#[test]
fn a_message_lands_in_new_exactly_as_sent_with_return_path_and_received() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("alice@localhost", &["bob@localhost"], MESSAGE);
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(reply.text().starts_with("2.0.0 Ok: queued as "));
    let id = queue_id(&reply);

    let files = server.new_mail("bob");
    assert_eq!(files.len(), 1);
    let bytes = fs::read(&files[0]).unwrap();
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.ends_with(&format!(".mx.test,S={}", bytes.len())),
        "{name}"
    );
    assert!(
        fs::read_dir(server.dir.join("mail/bob/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "tmp/ is empty"
    );

    let text = String::from_utf8(bytes).unwrap();
    let (head, rest) = text.split_once("Subject: hello\r\n").unwrap();
    assert!(head.starts_with("Return-Path: <alice@localhost>\r\nReceived: from laptop ([127.0.0.1])\r\n\tby mx.test (postlab) with ESMTP id "));
    assert!(
        head.contains(&format!(
            "with ESMTP id {id}\r\n\tfor <bob@localhost>;\r\n\t"
        )),
        "{head}"
    );
    // Everything the client sent, dot-unstuffed, CRLF kept.
    let sent = MESSAGE.replace("\r\n..a line", "\r\n.a line");
    assert!(text.ends_with(&sent), "{text:?}");
    assert!(!rest.contains('\n') || rest.contains("\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "no bare LF anywhere"
    );
}

#[test]
fn each_recipient_gets_a_copy_and_a_reply_of_its_own() {
    let server = TestServer::start_with(Setup {
        aliases: Some("postmaster: alice\nstaff: alice, bob\nloop1: loop2\nloop2: loop1\nfwd: carol@elsewhere.example\n".into()),
        ..Setup::default()
    });
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<carol@elsewhere.example>", 250);
    c.expect("RCPT TO:<bob@localhost>", 250);
    let unknown = c.expect("RCPT TO:<nobody@localhost>", 550);
    assert!(unknown.text().starts_with("5.1.1"));
    c.expect("RCPT TO:<Bob+Lists@LOCALHOST>", 250);
    c.expect("RCPT TO:<Postmaster>", 250);
    c.expect("RCPT TO:<staff@mx.test>", 250);
    let looped = c.expect("RCPT TO:<loop1@localhost>", 550);
    assert!(looped.text().starts_with("5.4.6"));
    // An alias to another domain forwards through the queue (tests/accounts.rs follows it).
    c.expect("RCPT TO:<fwd@localhost>", 250);
    c.expect("DATA", 354);
    c.send_raw(b"Subject: to many\r\n\r\nhello\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    // bob is named three times (directly, +Lists, via staff) and gets one copy; alice is
    // postmaster and in staff, and gets one copy.
    assert_eq!(server.new_mail("bob").len(), 1);
    assert_eq!(server.new_mail("alice").len(), 1);
    // With several recipients, the Received: header names none (no Bcc leak).
    let text = fs::read_to_string(&server.new_mail("alice")[0]).unwrap();
    assert!(!text.contains("\tfor <"), "{text}");
}

#[test]
fn the_default_aliases_make_postmaster_the_first_account() {
    let server = TestServer::start();
    let aliases = fs::read_to_string(server.dir.join("aliases")).unwrap();
    assert!(aliases.contains("postmaster: alice"), "{aliases}");
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    assert_eq!(
        c.send_mail(
            "bob@localhost",
            &["postmaster@localhost"],
            "Subject: x\r\n\r\ny\r\n"
        )
        .code,
        250
    );
    assert_eq!(server.new_mail("alice").len(), 1);
}

#[test]
fn another_domain_is_refused_as_relaying_and_nothing_is_written() {
    // No trusted network: the test client is a stranger.
    let server = TestServer::start_with(Setup {
        config: "relay_networks =\n".into(),
        ..Setup::default()
    });
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    // The classic relay tests: never relayed; either relay-denied or an unknown local user.
    for (rcpt, code) in [
        ("<v@t.example>", 554),
        ("<v@[192.0.2.9]>", 554),
        ("<@mx.test:v@t.example>", 554),
        ("<v%t.example@localhost>", 550),
        ("<t.example!v@localhost>", 550),
        ("<\"v@t.example\"@localhost>", 550),
        ("<v@t.example.>", 501),
    ] {
        let reply = c.cmd(&format!("RCPT TO:{rcpt}"));
        assert_eq!(reply.code, code, "{rcpt}: {reply:?}");
        if code == 554 {
            assert!(reply.text().starts_with("5.7.1"), "{reply:?}");
        }
    }
    c.expect("DATA", 554);
    assert!(fs::read_dir(server.dir.join("queue/active"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_user_added_while_running_receives_mail_at_once() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("RCPT TO:<carol@localhost>", 550);
    let (code, out, err) =
        server.postlab(&["user", "add", "carol", "--password", "carol-password"]);
    assert_eq!(code, 0, "{out}{err}");
    // Users are re-read when a client connects.
    let mut c = wait_for("carol to be known", || {
        let mut c = server.connect();
        c.expect("EHLO laptop", 250);
        c.expect("MAIL FROM:<alice@localhost>", 250);
        (c.cmd("RCPT TO:<carol@localhost>").code == 250).then_some(c)
    });
    c.expect("DATA", 354);
    c.send_raw(b"Subject: welcome\r\n\r\nhi carol\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    assert_eq!(server.new_mail("carol").len(), 1);
}

#[test]
fn null_sender_and_utf8_addresses() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    assert_eq!(
        c.send_mail("", &["bob@localhost"], "Subject: bounce-like\r\n\r\nx\r\n")
            .code,
        250
    );
    let text = fs::read_to_string(&server.new_mail("bob")[0]).unwrap();
    assert!(text.starts_with("Return-Path: <>\r\n"), "{text}");

    c.expect("MAIL FROM:<jos\u{e9}@example.org> SMTPUTF8", 250);
    c.expect("RCPT TO:<bob@localhost>", 250);
    c.expect("DATA", 354);
    c.send_raw("Subject: caf\u{e9}\r\n\r\nna\u{ef}ve\r\n.\r\n".as_bytes());
    assert_eq!(c.read_reply().code, 250);
    let newest = server
        .new_mail("bob")
        .into_iter()
        .find(|p| fs::read_to_string(p).unwrap().contains("caf\u{e9}"))
        .unwrap();
    let text = fs::read_to_string(newest).unwrap();
    assert!(text.contains("with UTF8SMTP id"), "{text}");
}
