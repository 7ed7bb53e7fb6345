//! Every limit and malformed input: the right reply, and the session or server goes on.

use std::io::Read;
use std::time::Duration;

use crate::support::{Setup, SmtpClient, TestServer};

fn server_with(config: &str) -> TestServer {
    TestServer::start_with(Setup {
        config: config.into(),
        ..Setup::default()
    })
}

#[test]
fn a_command_line_over_512_octets_gets_500_and_the_session_goes_on() {
    let server = TestServer::start();
    let mut c = server.connect();
    let long = format!("HELO {}", "a".repeat(600));
    let reply = c.expect(&long, 500);
    assert!(reply.text().starts_with("5.5.2"), "{reply:?}");
    // A megabyte with no line end at all: read and dropped, memory bounded, session alive.
    c.send_raw(&vec![b'x'; 1 << 20]);
    c.send_raw(b"\r\n");
    assert_eq!(c.read_reply().code, 500);
    c.expect("EHLO laptop", 250);
}

#[test]
fn a_text_line_over_1000_octets_refuses_the_message() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let content = format!("Subject: long\r\n\r\n{}\r\n", "y".repeat(1200));
    let reply = c.send_mail("alice@localhost", &["bob@localhost"], &content);
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(reply.text().contains("1000 octets"));
    assert!(server.new_mail("bob").is_empty());
    // The next transaction works.
    assert_eq!(
        c.send_mail(
            "alice@localhost",
            &["bob@localhost"],
            "Subject: ok\r\n\r\nfine\r\n"
        )
        .code,
        250
    );
}

#[test]
fn the_size_limit_is_enforced_at_mail_and_at_data() {
    let server = server_with("max_message_size = 1000\n");
    let mut c = server.connect();
    let ehlo = c.expect("EHLO laptop", 250);
    assert!(ehlo.lines.contains(&"SIZE 1000".to_string()));
    let reply = c.expect("MAIL FROM:<alice@localhost> SIZE=1001", 552);
    assert!(reply.text().starts_with("5.3.4"));
    c.expect(
        &format!("MAIL FROM:<alice@localhost> SIZE={}", "9".repeat(30)),
        552,
    );
    // No SIZE given, and more sent than allowed.
    let big = format!(
        "Subject: big\r\n\r\n{}",
        format!("{}\r\n", "z".repeat(70)).repeat(20)
    );
    let reply = c.send_mail("alice@localhost", &["bob@localhost"], &big);
    assert_eq!(reply.code, 552, "{reply:?}");
    assert!(server.new_mail("bob").is_empty());
    c.expect("NOOP", 250);
}

#[test]
fn too_many_recipients_get_452() {
    let server = server_with("max_recipients = 3\n");
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    for _ in 0..3 {
        c.expect("RCPT TO:<bob@localhost>", 250);
    }
    let reply = c.expect("RCPT TO:<alice@localhost>", 452);
    assert!(reply.text().starts_with("4.5.3"));
    c.expect("DATA", 354);
}

#[test]
fn ten_errors_close_the_session_with_421() {
    let server = TestServer::start();
    let mut c = server.connect();
    for _ in 0..9 {
        c.expect("BOGUS", 500);
    }
    c.send_raw(b"BOGUS\r\n");
    assert_eq!(c.read_reply().code, 500);
    let reply = c.read_reply();
    assert_eq!(reply.code, 421);
    assert!(reply.text().starts_with("4.7.0"));
    assert!(c.is_closed());
    // The server itself goes on.
    server.connect().expect("EHLO laptop", 250);
}

#[test]
fn an_idle_client_is_told_421_and_closed() {
    let server = server_with("idle_timeout = 1\n");
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.read_reply();
    assert_eq!(reply.code, 421);
    assert!(reply.text().starts_with("4.4.2"));
    assert!(c.is_closed());
}

#[test]
fn an_idle_client_in_the_middle_of_data_is_closed_too() {
    let server = server_with("idle_timeout = 1\n");
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("RCPT TO:<bob@localhost>", 250);
    c.expect("DATA", 354);
    c.send_raw(b"Subject: half a message\r\n");
    assert_eq!(c.read_reply().code, 421);
    assert!(server.new_mail("bob").is_empty());
}

/// Everything a surplus connection is told before the server closes it.
fn turned_away(server: &TestServer) -> String {
    let mut stream = std::net::TcpStream::connect(server.smtp).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Waits until a new connection is greeted with 220 again (a place was freed on close).
fn wait_for_a_place(server: &TestServer, what: &str) {
    crate::support::wait_for(what, || {
        let mut stream = std::net::TcpStream::connect(server.smtp).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let mut first = [0u8; 3];
        stream.read_exact(&mut first).ok()?;
        (&first == b"220").then_some(())
    });
}

#[test]
fn connections_over_the_limit_get_421() {
    let server = server_with("max_connections = 2\n");
    let _a = server.connect();
    let _b = server.connect();
    let text = turned_away(&server);
    assert!(text.starts_with("421 4.7.0"), "{text:?}");
    drop(_a);
    // Once a slot is free, a new client is served (the count is released on close).
    wait_for_a_place(&server, "a free connection slot");
}

#[test]
fn bare_lf_and_bare_cr_in_data_are_refused_not_repaired() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    for body in [
        "Subject: x\r\n\r\nbare LF here\nend\r\n",
        "Subject: x\r\n\r\nbare CR here\rend\r\n",
        "Subject: x\r\n\r\nNUL\0here\r\n",
    ] {
        let reply = c.send_mail("alice@localhost", &["bob@localhost"], body);
        assert_eq!(reply.code, 550, "{body:?}: {reply:?}");
        assert!(reply.text().contains("nc -C"), "{reply:?}");
    }
    assert!(server.new_mail("bob").is_empty());
}

#[test]
fn smuggled_end_of_data_never_runs_the_next_command() {
    let server = TestServer::start();
    let endings: [&[u8]; 9] = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r",
        b"\r.\n",
        b"\n.\r",
        b"\r\n.\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
    ];
    for ending in endings {
        let mut c = server.connect();
        c.expect("EHLO laptop", 250);
        c.expect("MAIL FROM:<alice@localhost>", 250);
        c.expect("RCPT TO:<bob@localhost>", 250);
        c.expect("DATA", 354);
        let mut bytes = b"Subject: first\r\n\r\nhello".to_vec();
        bytes.extend_from_slice(ending);
        bytes.extend_from_slice(b"MAIL FROM:<mallory@localhost>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n");
        c.send_raw(&bytes);
        let reply = c.read_reply();
        assert_eq!(
            reply.code, 550,
            "{ending:?}: the whole thing is one refused message, {reply:?}"
        );
        c.expect("NOOP", 250);
    }
    assert!(
        server.new_mail("alice").is_empty(),
        "no smuggled message was delivered"
    );
    assert!(server.new_mail("bob").is_empty());
}

#[test]
fn bare_lf_and_nul_in_commands() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.send_raw(b"EHLO laptop\n");
    let reply = c.read_reply();
    assert_eq!(reply.code, 500);
    assert!(reply.text().contains("nc -C"), "{reply:?}");
    c.send_raw(b"NO\0OP\r\n");
    let reply = c.read_reply();
    assert_eq!(reply.code, 500);
    assert!(reply.text().starts_with("5.5.2"));
    c.send_raw(b"HELO caf\xff\r\n");
    assert_eq!(c.read_reply().code, 500);
    c.expect("EHLO laptop", 250);
}

#[test]
fn address_length_limits() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect(&format!("MAIL FROM:<{}@localhost>", "a".repeat(65)), 501);
    c.expect(&format!("MAIL FROM:<a@{}.example>", "d".repeat(256)), 501);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    let reply = c.expect(&format!("RCPT TO:<{}@localhost>", "b".repeat(65)), 501);
    assert!(reply.text().contains("64 octets"), "{reply:?}");
}

#[test]
fn a_client_that_vanishes_mid_data_leaves_nothing_behind() {
    let server = TestServer::start();
    {
        let mut c = server.connect();
        c.expect("EHLO laptop", 250);
        c.expect("MAIL FROM:<alice@localhost>", 250);
        c.expect("RCPT TO:<bob@localhost>", 250);
        c.expect("DATA", 354);
        c.send_raw(b"Subject: cut off\r\n\r\nhalf");
    }
    let mut c: SmtpClient = server.connect();
    c.expect("EHLO laptop", 250);
    assert!(server.new_mail("bob").is_empty());
    let in_tmp = std::fs::read_dir(server.dir.join("mail/bob/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(in_tmp, 0);
}

#[test]
fn one_address_cannot_take_every_connection() {
    // Loopback is trusted (and exempt) by default; here it is a stranger like any other.
    let server = server_with("relay_networks =\nmax_connections_per_ip = 2\n");
    let _a = server.connect();
    let _b = server.connect();
    let text = turned_away(&server);
    assert!(text.starts_with("421 4.7.0"), "{text:?}");
    drop(_a);
    wait_for_a_place(&server, "a free place for this address");
}

/// Slowloris: a client that sends a command one octet at a time, each octet within the idle
/// timeout, still has to finish the line within that time from its first octet.
#[test]
fn a_line_that_trickles_in_is_cut_off() {
    use std::io::Write;
    let server = server_with("idle_timeout = 2\n");
    let mut c = server.connect();
    let started = std::time::Instant::now();
    // One octet every 0.7 s: each read comes well within the 2 s idle timeout.
    for byte in b"NOOP NOOP NOOP NOOP\r\n" {
        if c.stream.write_all(&[*byte]).is_err() || started.elapsed() > Duration::from_secs(8) {
            break;
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    let reply = c.read_reply();
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(reply.text().starts_with("4.4.2 Too slow"), "{reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off after {:?}",
        started.elapsed()
    );
}
