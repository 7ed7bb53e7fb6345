//! Issue 14, finding 5: the quota covers every folder and every writer. IMAP APPEND and COPY
//! answer `NO [OVERQUOTA]` (RFC 9208 §5) where SMTP says 452 4.2.2 and `postlab deliver` exits
//! 75, mail copied into folders counts for all of them, and a bounce for a local sender does
//! not pass the quota either.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::imap::Imap;
use crate::support::{domain_server, route, wait_for, TestServer, BIN};

/// A message of exactly `size` octets, in lines of 76 (SMTP allows at most 1,000).
fn message(size: usize) -> String {
    let mut text = String::from("Subject: filler\r\n\r\n");
    while text.len() + 78 <= size {
        text.push_str(&"x".repeat(76));
        text.push_str("\r\n");
    }
    let rest = size - text.len();
    if rest >= 2 {
        text.push_str(&"y".repeat(rest - 2));
        text.push_str("\r\n");
    }
    assert_eq!(text.len(), size);
    text
}

fn append(c: &mut Imap, folder: &str, size: usize) -> String {
    let text = message(size);
    let r = c.cmd(&format!("a APPEND {folder} {{{}+}}\r\n{text}", text.len()));
    r.last().unwrap().clone()
}

#[test]
fn every_writer_and_every_folder_count_against_the_quota() {
    let server = TestServer::start();
    let (code, _, err) = server.postlab(&["user", "quota", "bob", "64K"]);
    assert_eq!(code, 0, "{err}");

    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(append(&mut c, "INBOX", 20_000).starts_with("a OK"));
    assert!(c.cmd("c CREATE q").last().unwrap().starts_with("c OK"));
    c.cmd("s SELECT INBOX");
    // 20,000 in INBOX; two copies make 60,000 of 65,536; a third would pass the quota.
    for _ in 0..2 {
        let r = c.cmd("k COPY 1:* q");
        assert!(r.last().unwrap().starts_with("k OK"), "{r:?}");
    }
    let r = c.cmd("k COPY 1:* q");
    assert!(r.last().unwrap().starts_with("k NO [OVERQUOTA]"), "{r:?}");
    let r = c.cmd("t STATUS q (MESSAGES)");
    assert!(
        r[0].contains("MESSAGES 2"),
        "nothing of the refused COPY was written: {r:?}"
    );

    // APPEND into any folder: full for now, or bigger than the whole quota.
    assert!(append(&mut c, "q", 10_000).starts_with("a NO [OVERQUOTA]"));
    assert!(append(&mut c, "INBOX", 70_000).starts_with("a NO [OVERQUOTA]"));
    assert!(append(&mut c, "q", 4_000).starts_with("a OK"));

    // SMTP sees the folders too: INBOX alone holds 20,000, the account 64,000.
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let reply = smtp.send_mail("alice@localhost", &["bob@localhost"], &message(5_000));
    assert_eq!(reply.code, 452, "{reply:?}");

    // So does the local delivery agent (EX_TEMPFAIL: the sending MTA keeps it).
    let mut lda = Command::new(BIN)
        .args(["deliver", "--user", "bob", "--data"])
        .arg(&server.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lda.stdin
        .take()
        .unwrap()
        .write_all(message(5_000).as_bytes())
        .unwrap();
    assert_eq!(lda.wait().unwrap().code(), Some(75));

    // A MOVE adds nothing: a full mailbox can still be tidied, and then emptied.
    c.cmd("s SELECT q");
    let r = c.cmd("m MOVE 1 Trash");
    assert!(r.last().unwrap().starts_with("m OK"), "{r:?}");
    c.cmd("s SELECT Trash");
    c.cmd("f STORE 1 +FLAGS (\\Deleted)");
    c.cmd("e EXPUNGE");
    let reply = smtp.send_mail("alice@localhost", &["bob@localhost"], &message(5_000));
    assert_eq!(reply.code, 250, "{reply:?}");
}

#[test]
fn a_bounce_does_not_pass_the_senders_quota() {
    let a = domain_server("a.test", "");
    assert_eq!(a.postlab(&["user", "quota", "alice", "3K"]).0, 0);
    let mut smtp = a.connect();
    smtp.expect("EHLO client.test", 250);
    let reply = smtp.send_mail("bob@a.test", &["alice@a.test"], &message(2_500));
    assert_eq!(reply.code, 250, "{reply:?}");
    // A route back to this server is a loop: the message bounces to alice at once (5.4.6).
    route(&a, "b.test", a.smtp);
    let reply = smtp.send_mail("alice@a.test", &["bob@b.test"], &message(1_000));
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_for("the bounce to be refused for the quota", || {
        a.transcripts()
            .contains("bounce to <alice@a.test> not stored")
            .then_some(())
    });
    assert_eq!(
        a.new_mail("alice").len(),
        1,
        "the bounce passed alice's quota"
    );
}
