//! Hostile input, one row per case: the exact bytes sent, the reply expected, and proof that
//! the server then serves the next client normally. (Issue "Prove the promises"; the SMTP
//! smuggling endings, STARTTLS injection and relay tricks have their own tests in limits.rs,
//! tls.rs, tls_access.rs and delivery.rs.)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::TestServer;

/// One case: which listener, what to send first (a greeting dance), the hostile bytes, and the
/// start of the line the server must answer with.
struct Case {
    service: &'static str,
    before: &'static [u8],
    bytes: Vec<u8>,
    expect: &'static str,
}

fn case(
    service: &'static str,
    before: &'static [u8],
    bytes: impl Into<Vec<u8>>,
    expect: &'static str,
) -> Case {
    Case {
        service,
        before,
        bytes: bytes.into(),
        expect,
    }
}

/// Sends the case and reads lines until one starts with the expected text (or fails).
fn run(server: &TestServer, case: &Case, row: usize) {
    let mut stream = TcpStream::connect(server.addr(case.service)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    stream.write_all(case.before).unwrap();
    stream.write_all(&case.bytes).unwrap();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => panic!(
                "row {row} ({}): no line starting {:?}; saw {seen:?}",
                case.service, case.expect
            ),
            Ok(_) => {}
        }
        if line.starts_with(case.expect) {
            break;
        }
        seen.push(line.clone());
    }
}

/// The next client is served as if nothing happened.
fn still_serving(server: &TestServer) {
    for (service, greeting) in [("smtp", "220 "), ("pop3", "+OK"), ("imap", "* OK")] {
        let stream = TcpStream::connect(server.addr(service)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        assert!(
            line.starts_with(greeting),
            "{service} after hostile input: {line:?}"
        );
    }
}

#[test]
fn every_hostile_row_gets_its_reply_and_the_server_goes_on() {
    let server = TestServer::start();
    const EHLO: &[u8] = b"EHLO hostile.test\r\n";
    const MAIL: &[u8] = b"EHLO hostile.test\r\nMAIL FROM:<alice@localhost>\r\n";
    const POP_LOGIN: &[u8] = b"USER bob\r\nPASS bob-password\r\n";
    let long_local = format!("RCPT TO:<{}@localhost>\r\n", "a".repeat(65));
    let long_domain = format!("RCPT TO:<a@{}.test>\r\n", "d".repeat(250));
    let many_rcpts = "RCPT TO:<bob@localhost>\r\n".repeat(101);
    let rows = vec![
        // SMTP: characters that have no place in a command.
        case("smtp", EHLO, b"NO\x00OP\r\n".to_vec(), "500 5.5.2"),
        case("smtp", EHLO, b"HELO caf\xe9\xff\r\n".to_vec(), "500 5.5.2"),
        case("smtp", EHLO, b"RSET\x07\r\n".to_vec(), "500 5.5.2"),
        // Envelope parameters that would smuggle a line break into a header or queue file.
        case(
            "smtp",
            EHLO,
            b"MAIL FROM:<a@b.test> AUTH=x+0D+0ARcpt:evil\r\n".to_vec(),
            "501 5.5.4",
        ),
        case(
            "smtp",
            EHLO,
            b"MAIL FROM:<a@b.test> ORCPT=rfc822;x\r\n".to_vec(),
            "555 5.5.4",
        ),
        case(
            "smtp",
            b"",
            b"EHLO evil\rInjected: yes\r\n".to_vec(),
            "500 5.5.2",
        ),
        case("smtp", b"", b"HELO evil(comment)\r\n".to_vec(), "501 5.5.4"),
        // Limits.
        case("smtp", MAIL, long_local.into_bytes(), "501 5.1.3"),
        case("smtp", MAIL, long_domain.into_bytes(), "501"),
        case(
            "smtp",
            EHLO,
            format!("MAIL FROM:<a@b.test> SIZE={}\r\n", "9".repeat(30)).into_bytes(),
            "552 5.3.4",
        ),
        case("smtp", MAIL, many_rcpts.into_bytes(), "452 4.5.3"),
        case(
            "smtp",
            EHLO,
            [vec![b'x'; 1 << 20], b"\r\n".to_vec()].concat(),
            "500 5.5.2",
        ),
        case("smtp", EHLO, b"DATA\r\n".to_vec(), "503 5.5.1"),
        // AUTH malformed.
        case("smtp", EHLO, b"AUTH PLAIN =\r\n".to_vec(), "501 5.5.2"),
        case("smtp", EHLO, b"AUTH PLAIN *\r\n".to_vec(), "501 5.0.0"),
        case(
            "smtp",
            EHLO,
            b"AUTH PLAIN !!notbase64!!\r\n".to_vec(),
            "501 5.5.2",
        ),
        case(
            "smtp",
            EHLO,
            b"AUTH PLAIN AGFsaWNlAA==\r\n".to_vec(),
            "501 5.5.2",
        ),
        case(
            "smtp",
            EHLO,
            b"AUTH PLAIN Ym9iAGFsaWNlAGFsaWNlLXBhc3N3b3Jk\r\n".to_vec(),
            "535 5.7.8",
        ),
        // POP3.
        case("pop3", b"", b"USER\x00bob\r\n".to_vec(), "-ERR"),
        case(
            "pop3",
            b"",
            [vec![b'x'; 300], b"\r\n".to_vec()].concat(),
            "-ERR",
        ),
        case("pop3", POP_LOGIN, b"RETR 0\r\n".to_vec(), "-ERR"),
        case("pop3", POP_LOGIN, b"RETR -1\r\n".to_vec(), "-ERR"),
        case(
            "pop3",
            POP_LOGIN,
            b"RETR 99999999999999999999\r\n".to_vec(),
            "-ERR",
        ),
        case("pop3", POP_LOGIN, b"TOP 1 x\r\n".to_vec(), "-ERR"),
        case("pop3", b"", b"STAT\r\n".to_vec(), "-ERR"),
        // IMAP: literals that are too big, malformed, or never come; names that try to escape.
        case(
            "imap",
            b"",
            b"a LOGIN {4294967295}\r\n".to_vec(),
            "a NO [LIMIT]",
        ),
        case(
            "imap",
            b"",
            b"a LOGIN {18446744073709551616}\r\n".to_vec(),
            "a NO [LIMIT]",
        ),
        case("imap", b"", b"a LOGIN {abc}\r\n".to_vec(), "a BAD"),
        case("imap", b"", b"a SELECT INBOX\r\n".to_vec(), "a BAD"),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE ../../etc\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE /etc/passwd\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE ~root/x\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE a//b\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE &AC4ALgAv-\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE &Jjo\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b CREATE cur\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b SELECT ./x\r\n".to_vec(),
            "b NO",
        ),
        case(
            "imap",
            b"a LOGIN bob bob-password\r\n",
            b"b FETCH 1:* (BODY[\x00])\r\n".to_vec(),
            "b BAD",
        ),
    ];
    for (i, row) in rows.iter().enumerate() {
        run(&server, row, i + 1);
    }
    still_serving(&server);
    // Nothing was created outside the user's Maildir, whatever the names tried.
    let outside: Vec<_> = std::fs::read_dir(server.dir.join("mail"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        outside.iter().all(|n| n == "bob" || n == "alice"),
        "{outside:?}"
    );
    assert!(!server.dir.join("etc").exists() && !server.dir.join("mail/etc").exists());
}
