//! The outbound MTA: AUTH and submission, relay control, the queue, relaying between two
//! servers, retries, bounces, hold and release, restarts.
//!
//! Two real servers on loopback play two domains. The sending server finds the receiving one
//! through `DIR/transport` (a static route), so these tests need no DNS.

use std::fs;

use crate::support::{domain_server, queue_id, route, wait_for, Setup, SmtpClient, TestServer};

const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"; // "\0alice\0alice-password"

/// Logs in on the submission port and sends one message; returns the reply to the data.
fn submit(server: &TestServer, from: &str, to: &str, content: &str) -> crate::support::Reply {
    let mut c = SmtpClient::connect(server.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    c.send_mail(from, &[to], content)
}

fn queue_is_empty(server: &TestServer) -> bool {
    fs::read_dir(server.dir.join("queue/active"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn submission_needs_auth_and_the_users_own_address() {
    let a = domain_server("a.test", "");
    let mut c = SmtpClient::connect(a.addr("submission"));
    c.expect("EHLO laptop", 250);
    let reply = c.expect("MAIL FROM:<alice@a.test>", 530);
    assert!(reply.text().starts_with("5.7.0"));
    c.expect("AUTH PLAIN AGFsaWNlAHdyb25n", 535); // \0alice\0wrong
    c.expect("AUTH PLAIN =", 501);
    c.expect("AUTH CRAM-MD5", 504);
    c.expect("AUTH LOGIN", 334);
    c.expect("*", 501);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    c.expect("AUTH PLAIN x", 503);
    let reply = c.expect("MAIL FROM:<bob@a.test>", 553);
    assert!(reply.text().starts_with("5.7.1"), "{reply:?}");
    c.expect("MAIL FROM:<alice+lists@a.test>", 250);
    c.expect("RCPT TO:<bob@a.test>", 250);
    c.expect("DATA", 354);
    c.send_raw(b"Subject: no date, no id\r\n\r\nhi\r\n.\r\n");
    let reply = c.read_reply();
    assert_eq!(reply.code, 250);
    let id = queue_id(&reply);
    let text = fs::read_to_string(&a.new_mail("bob")[0]).unwrap();
    assert!(text.contains(&format!("with ESMTPA id {id}")), "{text}");
    assert!(
        text.contains("\r\nDate: ")
            && text.contains(&format!("\r\nMessage-ID: <{id}@mx.a.test>\r\n")),
        "{text}"
    );
}

#[test]
fn strangers_may_not_relay_but_logged_in_users_may() {
    let a = domain_server("a.test", "relay_networks =\n");
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@a.test>", 250);
    c.expect("RCPT TO:<bob@b.test>", 554);
    c.expect("RSET", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    c.expect("MAIL FROM:<alice@a.test>", 250);
    c.expect("RCPT TO:<bob@b.test>", 250);
}

#[test]
fn mail_travels_from_one_server_to_another() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    let reply = submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: across\r\n\r\nHello Bob on b.test\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let id = queue_id(&reply);
    let file = wait_for("the message in bob's Maildir on b.test", || {
        b.new_mail("bob").into_iter().next()
    });
    let text = fs::read_to_string(file).unwrap();
    // The hop between the servers went over STARTTLS (relay_tls = may), which b.test's line
    // names as Postfix does.
    assert!(text.starts_with("Return-Path: <alice@a.test>\r\nReceived: from mx.a.test ([127.0.0.1])\r\n\t(using TLS 1.3, TLS_AES_256_GCM_SHA384)\r\n\tby mx.b.test (postlab) with ESMTPS"), "{text}");
    assert!(
        text.contains(&format!("by mx.a.test (postlab) with ESMTPA id {id}")),
        "both servers' Received: lines: {text}"
    );
    assert!(text.ends_with("Hello Bob on b.test\r\n"));
    wait_for("a.test's queue to empty", || {
        queue_is_empty(&a).then_some(())
    });

    let relay = a.transcripts();
    assert!(
        relay.contains(&format!("[4 DNS] {id}: b.test: the transport map says")),
        "{relay}"
    );
    assert!(
        relay.contains("[5 RELAY] C: MAIL FROM:<alice@a.test>"),
        "{relay}"
    );
    assert!(
        relay.contains(&format!("[5 RELAY] {id}: <bob@b.test> delivered")),
        "{relay}"
    );
    let (code, trace, _) = a.postlab(&["trace", &id]);
    assert_eq!(code, 0);
    for step in ["│ 1 MUA", "│ 2 MTA", "│ 3 MDA", "│ 4 DNS", "│ 5 RELAY"] {
        assert!(trace.contains(step), "{step} in\n{trace}");
    }

    // Across both servers: b.test's part of the journey follows its "queued as" id, and the
    // picture has a lane per server: steps 1 to 5 on a.test, 1 to 3 and 6 on b.test.
    let svg = crate::support::temp_dir("svg").join("journey.svg");
    let b_dir = b.dir.to_str().unwrap().to_string();
    let (code, trace, err) = a.postlab(&[
        "trace",
        &id,
        "--data",
        &b_dir,
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        trace.contains("│ 6 MAILBOX") && trace.contains("delivered to bob"),
        "{trace}"
    );
    let check = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
rects = [r for r in root.iter('{http://www.w3.org/2000/svg}rect') if 'step ' in r.get('class', '')]
assert len(rects) == 14, len(rects)
def passed(lane):
    return sorted(int(r.get('data-step')) for r in rects if 'passed' in r.get('class') and r.get('data-lane') == lane)
assert passed('0') == [1, 2, 3, 4, 5], passed('0')
assert passed('1') == [1, 2, 3, 6], passed('1')
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(check)
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_permanent_refusal_bounces_to_the_sender() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    let reply = submit(
        &a,
        "alice@a.test",
        "nobody@b.test",
        "Subject: to nobody\r\nX-Tag: original\r\n\r\nsecret body\r\n",
    );
    let id = queue_id(&reply);
    let bounce = wait_for("a bounce in alice's Maildir", || {
        a.new_mail("alice").into_iter().next()
    });
    let text = fs::read_to_string(bounce).unwrap();
    assert!(text.starts_with("Return-Path: <>\r\n"), "{text}");
    assert!(text.contains("From: Mail Delivery System <MAILER-DAEMON@mx.a.test>"));
    assert!(text.contains("multipart/report; report-type=delivery-status"));
    assert!(
        text.contains(&format!("Your message {id} could not be delivered")),
        "{text}"
    );
    assert!(
        text.contains(
            "Final-Recipient: rfc822; nobody@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("X-Tag: original") && !text.contains("secret body"));
    wait_for("a.test's queue to empty", || {
        queue_is_empty(&a).then_some(())
    });
}

#[test]
fn a_bounce_is_never_bounced() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    route(&a, "b.test", b.smtp);
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.send_mail("", &["nobody@b.test"], "Subject: a bounce\r\n\r\nx\r\n");
    let id = queue_id(&reply);
    let text = wait_for("the failure in the transcript", || {
        let text = a.transcripts();
        text.contains("no bounce is sent").then_some(text)
    });
    assert!(
        text.contains(&format!("{id}: <nobody@b.test> failed (5.1.1)")),
        "{text}"
    );
    assert!(a.new_mail("alice").is_empty() && a.new_mail("bob").is_empty());
}

#[test]
fn a_deferred_message_is_retried_and_survives_a_restart() {
    let a = domain_server("a.test", "");
    let b = domain_server("b.test", "");
    // Nothing listens on the discard port of loopback: the first attempts fail to connect.
    fs::write(a.dir.join("transport"), "b.test [127.0.0.1]:9\n").unwrap();
    let reply = submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: patience\r\n\r\nretry me\r\n",
    );
    let id = queue_id(&reply);
    wait_for("a deferral", || {
        a.transcripts()
            .contains(&format!("{id}: <bob@b.test> deferred, will retry"))
            .then_some(())
    });
    let (_, list, _) = a.postlab(&["queue", "list"]);
    assert!(list.contains(&id) && list.contains("pending"), "{list}");

    // The server goes down hard; the message is still in the queue files.
    let dir = a.kill();
    assert!(dir.join(format!("queue/active/{id}.env")).exists());
    route_dir(&dir, "b.test", b.smtp);
    let setup = Setup {
        args: vec![
            "--hostname".into(),
            "mx.a.test".into(),
            "--domain".into(),
            "a.test".into(),
        ],
        ..Setup::default()
    };
    let a = TestServer::start_in(dir, &setup);
    wait_for("delivery after the restart", || {
        b.new_mail("bob").into_iter().next()
    });
    wait_for("a.test's queue to empty", || {
        queue_is_empty(&a).then_some(())
    });
}

fn route_dir(dir: &std::path::Path, domain: &str, to: std::net::SocketAddr) {
    fs::write(
        dir.join("transport"),
        format!("{domain} [{}]:{}\n", to.ip(), to.port()),
    )
    .unwrap();
}

#[test]
fn hold_stops_a_message_and_release_sends_it() {
    let a = domain_server("a.test", "queue_retry_min = 3600\nqueue_retry_max = 3600\n");
    let b = domain_server("b.test", "");
    fs::write(a.dir.join("transport"), "b.test [127.0.0.1]:9\n").unwrap();
    let reply = submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: held\r\n\r\nwait\r\n",
    );
    let id = queue_id(&reply);
    wait_for("a deferral saved in the queue", || {
        a.transcripts()
            .contains(&format!("{id}: next attempt in"))
            .then_some(())
    });
    let (code, out, err) = a.postlab(&["queue", "hold", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(a.dir.join(format!("queue/hold/{id}.msg")).exists());
    let (_, shown, _) = a.postlab(&["queue", "show", &id]);
    assert!(
        shown.contains("rcpt: <bob@b.test>\nstatus: pending") && shown.contains("Subject: held"),
        "{shown}"
    );
    route(&a, "b.test", b.smtp);
    // Released, it is due at once (its hour-long retry wait is skipped).
    let (code, _, _) = a.postlab(&["queue", "release", &id]);
    assert_eq!(code, 0);
    wait_for("delivery after release", || {
        b.new_mail("bob").into_iter().next()
    });
    assert_eq!(
        a.postlab(&["queue", "release", &id]).0,
        1,
        "nothing left to release"
    );
    assert_eq!(a.postlab(&["queue", "hold", "../x"]).0, 1);
}

#[test]
fn flush_and_delete() {
    let a = domain_server("a.test", "queue_retry_min = 3600\nqueue_retry_max = 3600\n");
    let b = domain_server("b.test", "");
    fs::write(a.dir.join("transport"), "b.test [127.0.0.1]:9\n").unwrap();
    let first = queue_id(&submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: one\r\n\r\n1\r\n",
    ));
    let second = queue_id(&submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: two\r\n\r\n2\r\n",
    ));
    // "next attempt in" is written once the deferral is saved in the queue file.
    wait_for("both deferred", || {
        let t = a.transcripts();
        (t.contains(&format!("{first}: next attempt in"))
            && t.contains(&format!("{second}: next attempt in")))
        .then_some(())
    });
    assert_eq!(a.postlab(&["queue", "delete", &second]).0, 0);
    route(&a, "b.test", b.smtp);
    let (code, out, _) = a.postlab(&["queue", "flush"]);
    assert_eq!((code, out.trim()), (0, "1 message(s) will be tried now"));
    let file = wait_for("the flushed message", || {
        b.new_mail("bob").into_iter().next()
    });
    assert!(fs::read_to_string(file).unwrap().contains("Subject: one"));
    wait_for("an empty queue", || queue_is_empty(&a).then_some(()));
    assert_eq!(b.new_mail("bob").len(), 1, "the deleted message never left");
}

#[test]
fn loops_are_refused() {
    let a = domain_server("a.test", "");
    // Over 50 Received: lines: refused at the end of DATA with 5.4.6.
    let mut c = a.connect();
    c.expect("EHLO laptop", 250);
    let looped = format!(
        "{}Subject: loop\r\n\r\nx\r\n",
        "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n".repeat(51)
    );
    let reply = c.send_mail("alice@a.test", &["bob@a.test"], &looped);
    assert_eq!(reply.code, 554);
    assert!(reply.text().starts_with("5.4.6"));
    assert!(a.new_mail("bob").is_empty());

    // A route that points back at this server is a loop too: bounced with 5.4.6.
    route(&a, "b.test", a.smtp);
    let id = queue_id(&submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: to myself\r\n\r\nx\r\n",
    ));
    let bounce = wait_for("the loop bounce", || a.new_mail("alice").into_iter().next());
    let text = fs::read_to_string(bounce).unwrap();
    assert!(
        text.contains("Status: 5.4.6") && text.contains(&id),
        "{text}"
    );
}

#[test]
fn a_4xx_reply_defers_one_recipient_until_a_later_attempt() {
    let a = domain_server("a.test", "");
    // b.test takes one recipient per message: the second gets 452 4.5.3 (try again later).
    let b = domain_server("b.test", "max_recipients = 1\n");
    route(&a, "b.test", b.smtp);
    let mut c = SmtpClient::connect(a.addr("submission"));
    c.expect("EHLO laptop", 250);
    c.expect(&format!("AUTH PLAIN {PLAIN_ALICE}"), 235);
    let reply = c.send_mail(
        "alice@a.test",
        &["bob@b.test", "alice@b.test"],
        "Subject: two of you\r\n\r\nhi\r\n",
    );
    let id = queue_id(&reply);
    wait_for("both copies on b.test", || {
        (b.new_mail("bob").len() == 1 && b.new_mail("alice").len() == 1).then_some(())
    });
    // The sender writes its "delivered" line just after the receiver's 250: wait for it.
    let text = wait_for("the second attempt in the transcript", || {
        let text = a.transcripts();
        text.contains(&format!("{id}: <alice@b.test> delivered"))
            .then_some(text)
    });
    assert!(
        text.contains(&format!("{id}: <alice@b.test> deferred, will retry")),
        "{text}"
    );
    assert!(text.contains("452 4.5.3"), "{text}");
    wait_for("an empty queue", || queue_is_empty(&a).then_some(()));
}

#[test]
fn failed_logins_slow_down() {
    let a = domain_server("a.test", "");
    let mut c = SmtpClient::connect(a.addr("submission"));
    c.expect("EHLO laptop", 250);
    // Two free failures, then each answer waits: 1 s, 2 s, ... (accounts/login.rs).
    for _ in 0..2 {
        c.expect("AUTH PLAIN AGFsaWNlAHdyb25n", 535);
    }
    c.expect("AUTH PLAIN AGFsaWNlAHdyb25n", 535);
    let started = std::time::Instant::now();
    c.expect("AUTH PLAIN AGFsaWNlAHdyb25n", 535);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "the fourth failure waited {:?}",
        started.elapsed()
    );
    // An unknown user is answered exactly like a wrong password.
    let reply = c.expect("AUTH PLAIN AG1hbGxvcnkAd3Jvbmc=", 535); // \0mallory\0wrong
    assert_eq!(reply.lines, ["5.7.8 Authentication credentials invalid"]);
}

/// The SMTP smuggling rule works both ways: whatever is in a queue file, our relay client sends
/// only CRLF line ends, dot-stuffed. A queue file written by hand with LF endings, a lone CR and
/// a line that is only a dot goes out clean; a recording server keeps the raw bytes.
#[test]
fn the_relay_never_sends_a_bare_cr_or_lf() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = listener.local_addr().unwrap();
    let raw = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let record = raw.clone();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer.write_all(b"220 recorder.test ESMTP\r\n").unwrap();
        let mut in_data = false;
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            record.lock().unwrap().extend_from_slice(&line);
            let answer: &[u8] = if in_data {
                if line == b".\r\n" {
                    in_data = false;
                    b"250 2.0.0 recorded\r\n"
                } else {
                    continue;
                }
            } else if line.starts_with(b"EHLO") {
                b"250 recorder.test\r\n"
            } else if line.starts_with(b"DATA") {
                in_data = true;
                b"354 go on\r\n"
            } else if line.starts_with(b"QUIT") {
                b"221 bye\r\n"
            } else {
                b"250 ok\r\n"
            };
            writer.write_all(answer).unwrap();
        }
        let _ = reader.read_to_end(&mut Vec::new());
    });

    let a = domain_server("a.test", "");
    route(&a, "b.test", peer);
    // A queue file made by hand, as an administrator might: LF line ends, a lone CR, a dot line.
    let id = "19A3C4F2B8D10";
    let active = a.dir.join("queue/active");
    fs::write(
        active.join(format!("{id}.msg")),
        b"Subject: handmade\n\nline one\n.\nbare\rCR\nlast",
    )
    .unwrap();
    fs::write(
        active.join(format!("{id}.env")),
        "from: <alice@a.test>\narrived: 1795707025\nattempts: 0\nnext-attempt: 0\nrcpt: <bob@b.test> pending\n",
    )
    .unwrap();
    wait_for("the recorder to get the message", || {
        let bytes = raw.lock().unwrap().clone();
        bytes.windows(5).any(|w| w == b"\r\n.\r\n").then_some(())
    });
    let bytes = raw.lock().unwrap().clone();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "bare LF at {i}: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        if b == b'\r' {
            assert!(
                bytes.get(i + 1) == Some(&b'\n'),
                "bare CR at {i}: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("\r\nline one\r\n..\r\nbareCR\r\nlast\r\n.\r\n"),
        "{text}"
    );
}

/// A receiving server that trickles its greeting, one octet every 300 ms, never finishing the
/// line (a tarpit). Each octet comes well inside every per-read timeout; `relay_timeout` bounds
/// the whole reply, so the delivery gives up and the message waits in the queue for a retry.
#[test]
fn a_tarpit_cannot_hold_a_delivery() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tarpit = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                for byte in b"220 tarpit.test ".iter().cycle().take(200) {
                    if stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            });
        }
    });
    let a = domain_server("a.test", "relay_timeout = 2\n");
    route(&a, "b.test", tarpit);
    let started = std::time::Instant::now();
    let reply = submit(
        &a,
        "alice@a.test",
        "bob@b.test",
        "Subject: slow\r\n\r\nhello\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let id = queue_id(&reply);
    let transcript = wait_for("the attempt to give up", || {
        let t = a.transcripts();
        t.contains("the server's reply took too long").then_some(t)
    });
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "gave up after {:?}: {transcript}",
        started.elapsed()
    );
    let (_, list, _) = a.postlab(&["queue", "list"]);
    assert!(list.contains(&id), "{list}");
}
