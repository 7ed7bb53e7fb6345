//! The SMTP commands by hand, as a student types them.

use crate::support::{Setup, TestServer};

#[test]
fn ehlo_advertises_the_extensions() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(c.greeting.code, 220);
    assert!(c.greeting.text().starts_with("mx.test ESMTP postlab"));
    let reply = c.expect("EHLO laptop.example", 250);
    assert_eq!(reply.lines[0], "mx.test greets laptop.example");
    assert_eq!(
        reply.lines[1..],
        [
            "PIPELINING",
            "SIZE 26214400",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "HELP"
        ]
    );
}

#[test]
fn helo_greets_without_extensions_and_refuses_parameters() {
    let server = TestServer::start();
    let mut c = server.connect();
    let reply = c.expect("HELO laptop", 250);
    assert_eq!(reply.lines, ["mx.test greets laptop"]);
    // Extensions exist only after EHLO.
    c.expect("MAIL FROM:<alice@localhost> SIZE=100", 555);
    c.expect("MAIL FROM:<alice@localhost>", 250);
}

#[test]
fn the_small_commands() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    assert!(c.expect("NOOP", 250).text().starts_with("2.0.0"));
    assert!(c.expect("VRFY bob", 252).text().starts_with("2.5.0"));
    assert!(c.expect("EXPN staff", 502).text().starts_with("5.5.1"));
    let help = c.expect("HELP", 214);
    assert!(help.text().contains("RCPT TO"));
    let help = c.expect("HELP MAIL", 214);
    assert!(help.text().contains("RFC 5321 section 4.1.1.2"), "{help:?}");
    c.expect("HELP NONSENSE", 504);
    c.expect("BDAT 10 LAST", 502);
    c.expect("XYZZY", 500);
    c.expect("VRFY", 501);
    assert!(c.expect("QUIT", 221).text().starts_with("2.0.0"));
    assert!(c.is_closed());
}

#[test]
fn commands_out_of_order_get_503_with_a_hint() {
    let server = TestServer::start();
    let mut c = server.connect();
    let reply = c.expect("MAIL FROM:<alice@localhost>", 503);
    assert!(reply.text().starts_with("5.5.1"));
    assert!(
        reply.text().contains("hint: introduce yourself"),
        "{reply:?}"
    );
    c.expect("EHLO laptop", 250);
    c.expect("RCPT TO:<bob@localhost>", 503);
    c.expect("DATA", 503);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("MAIL FROM:<alice@localhost>", 503);
    // MAIL given but no recipient accepted: RFC 5321 §3.3 allows 554 "no valid recipients".
    c.expect("RCPT TO:<nobody@localhost>", 550);
    c.expect("DATA", 554);
}

#[test]
fn rset_and_ehlo_abandon_the_transaction() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("RCPT TO:<bob@localhost>", 250);
    c.expect("RSET", 250);
    c.expect("DATA", 503);
    c.expect("MAIL FROM:<alice@localhost>", 250);
    c.expect("EHLO laptop", 250);
    c.expect("RCPT TO:<bob@localhost>", 503);
    assert!(server.new_mail("bob").is_empty());
}

#[test]
fn hints_can_be_turned_off() {
    let server = TestServer::start_with(Setup {
        config: "hints = no\n".into(),
        ..Setup::default()
    });
    let mut c = server.connect();
    let reply = c.expect("MAIL FROM:<alice@localhost>", 503);
    assert!(!reply.text().contains("hint"), "{reply:?}");
}

#[test]
fn syntax_errors_name_the_right_form() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let reply = c.expect("MAIL FROM: alice@localhost", 501);
    assert!(
        reply.text().contains("MAIL FROM:<sender@domain>"),
        "{reply:?}"
    );
    c.expect("MAIL FROM:<alice@localhost> BODY=BINARYMIME", 555);
    let reply = c.expect("MAIL FROM:<josé@localhost>", 553);
    assert!(reply.text().starts_with("5.6.7"));
    c.expect("MAIL FROM:<josé@localhost> SMTPUTF8", 250);
    c.expect("RCPT TO:<bob@localhost> NOTIFY=NEVER", 555);
    let reply = c.expect("RCPT TO:<bob@@localhost>", 501);
    assert!(reply.text().starts_with("5.1.3"));
}

#[test]
fn pipelined_commands_are_all_answered_in_order() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    // RFC 2920: a client may send a whole group in one write; DATA ends the group.
    c.send_raw(b"MAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\nRCPT TO:<nobody@localhost>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n");
    let codes: Vec<u16> = (0..5).map(|_| c.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    c.send_raw(b"Subject: pipelined\r\n\r\nhi\r\n.\r\nNOOP\r\nRSET\r\nNOOP\r\nQUIT\r\n");
    let codes: Vec<u16> = (0..5).map(|_| c.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 250, 221]);
    assert_eq!(server.new_mail("bob").len(), 1);
    assert_eq!(server.new_mail("alice").len(), 1);
}

#[test]
fn many_pipelined_commands_in_one_write() {
    let server = TestServer::start();
    let mut c = server.connect();
    c.expect("EHLO laptop", 250);
    let burst = "NOOP\r\n".repeat(10_000);
    let writer = {
        let mut stream = c.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            std::io::Write::write_all(&mut stream, burst.as_bytes()).unwrap()
        })
    };
    for _ in 0..10_000 {
        assert_eq!(c.read_reply().code, 250);
    }
    writer.join().unwrap();
    c.expect("QUIT", 221);
}
