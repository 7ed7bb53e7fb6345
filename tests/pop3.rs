//! POP3 (flowchart step 7) against the real server: by hand over a socket as a class would in
//! telnet, then with real clients (Python's poplib, curl).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{python, queue_id, wait_for, Setup, TestServer, DEADLINE};

/// A bare POP3 client: send exact lines, read responses.
struct Pop3 {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    greeting: String,
}

impl Pop3 {
    fn connect(server: &TestServer) -> Pop3 {
        let stream = TcpStream::connect(server.addr("pop3")).expect("connect to pop3");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut client = Pop3 {
            reader,
            stream,
            greeting: String::new(),
        };
        client.greeting = client.line();
        assert!(client.greeting.starts_with("+OK "), "{}", client.greeting);
        client
    }

    /// One line from the server, without its CRLF.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line");
        assert!(n > 0, "connection closed while waiting for a line");
        assert!(line.ends_with("\r\n"), "line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// A command with a one-line response.
    fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }

    /// A command with a multi-line response: the status line and the data lines exactly as
    /// sent (still byte-stuffed), without the final ".".
    fn multi(&mut self, line: &str) -> (String, Vec<String>) {
        let status = self.cmd(line);
        assert!(status.starts_with("+OK"), "{line} → {status}");
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line == "." {
                return (status, lines);
            }
            lines.push(line);
        }
    }

    fn login(&mut self, user: &str, password: &str) {
        assert!(self.cmd(&format!("USER {user}")).starts_with("+OK"));
        let reply = self.cmd(&format!("PASS {password}"));
        assert!(reply.starts_with("+OK maildrop locked"), "{reply}");
    }

    /// True once the server has closed the connection (waits up to the read timeout).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

/// Sends one message to `to` over SMTP; returns its queue id.
fn deliver(server: &TestServer, to: &str, content: &str) -> String {
    let mut smtp = server.connect();
    smtp.expect("EHLO laptop", 250);
    let reply = smtp.send_mail("alice@localhost", &[to], content);
    assert_eq!(reply.code, 250, "{reply:?}");
    queue_id(&reply)
}

/// Every message file of an account, in `new/` and `cur/`.
fn mailbox_files(server: &TestServer, account: &str) -> Vec<PathBuf> {
    let root = server.dir.join("mail").join(account);
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(root.join(sub)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
}

/// A message with a body line that starts with a dot, as sent over SMTP (which stuffs it too):
/// the Maildir file holds `.starts with a dot`.
const DOTTED: &str = "Subject: dots\r\n\r\n..starts with a dot\r\nplain\r\n";

#[test]
fn a_session_by_hand_reads_and_deletes() {
    let server = TestServer::start();
    let id = deliver(&server, "bob@localhost", DOTTED);
    let mut pop = Pop3::connect(&server);
    assert!(pop.greeting.starts_with("+OK mx.test POP3 postlab ready"));
    assert_eq!(
        pop.cmd("STAT"),
        "-ERR not logged in yet (hint: USER your-name, then PASS your-password)"
    );
    pop.login("bob", "bob-password");

    let stat = pop.cmd("STAT");
    let size: u64 = stat.split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(stat, format!("+OK 1 {size}"));
    let file = &mailbox_files(&server, "bob")[0];
    assert_eq!(std::fs::metadata(file).unwrap().len(), size);
    assert!(
        file.parent().unwrap().ends_with("cur"),
        "moved to cur/ at login"
    );

    assert_eq!(pop.multi("LIST").1, vec![format!("1 {size}")]);
    assert_eq!(pop.cmd("LIST 1"), format!("+OK 1 {size}"));
    let (status, body) = pop.multi("RETR 1");
    assert_eq!(status, format!("+OK {size} octets"));
    assert!(
        body.contains(&"..starts with a dot".to_string()),
        "byte-stuffed: {body:?}"
    );
    assert_eq!(body.last().unwrap(), "plain");
    let (_, top) = pop.multi("TOP 1 0");
    assert_eq!(
        top.last().unwrap(),
        "",
        "TOP 1 0: the header and the blank line only"
    );
    assert!(top.contains(&"Subject: dots".to_string()));
    let (_, top) = pop.multi("TOP 1 1");
    assert_eq!(top.last().unwrap(), "..starts with a dot");

    // Nine -ERR responses in this session: one fewer than max_errors, which would close it.
    for bad in [
        "RETR 0",
        "RETR 2",
        "RETR -1",
        "RETR one",
        "LIST 99999999999",
    ] {
        assert!(pop.cmd(bad).starts_with("-ERR "), "{bad}");
    }
    assert!(pop.cmd("XYZZY").starts_with("-ERR unknown command"));
    assert!(pop.cmd("USER bob").starts_with("-ERR already logged in"));
    assert_eq!(pop.cmd("NOOP"), "+OK");
    assert_eq!(pop.cmd("DELE 1"), "+OK message 1 deleted");
    assert!(pop
        .cmd("RETR 1")
        .starts_with("-ERR message 1 already deleted"));
    assert_eq!(pop.cmd("STAT"), "+OK 0 0");
    assert_eq!(
        pop.cmd("QUIT"),
        "+OK postlab POP3 server signing off (0 messages left)"
    );
    assert!(pop.is_closed());
    assert!(
        mailbox_files(&server, "bob").is_empty(),
        "QUIT removed the message"
    );

    let text = server.transcripts();
    assert!(
        text.contains("[7 ACCESS] C: PASS <password hidden>"),
        "{text}"
    );
    assert!(!text.contains("bob-password"), "{text}");
    assert!(text.contains("[7 ACCESS] S: <message 1: "), "{text}");
    assert!(
        !text.contains("starts with a dot"),
        "message content stays out of the log"
    );
    assert!(text.contains(&format!("[7 ACCESS] {id}: retrieved by bob over POP3")));
    assert!(text.contains(&format!("[7 ACCESS] {id}: deleted by bob over POP3")));
    let (code, out, err) = server.postlab(&["trace", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("│ 7 ACCESS  │"), "{out}");
}

#[test]
fn capa_and_auth_plain_in_both_forms() {
    let server = TestServer::start();
    let mut pop = Pop3::connect(&server);
    let (_, capa) = pop.multi("CAPA");
    assert_eq!(
        capa,
        [
            "TOP",
            "UIDL",
            "RESP-CODES",
            "PIPELINING",
            "AUTH-RESP-CODE",
            "STLS",
            "USER",
            "SASL PLAIN",
            "IMPLEMENTATION postlab"
        ]
    );
    // "\0bob\0bob-password" and "\0bob\0wrong" in base64.
    let good = "AGJvYgBib2ItcGFzc3dvcmQ=";
    let wrong = "AGJvYgB3cm9uZw==";
    assert_eq!(
        pop.cmd(&format!("AUTH PLAIN {wrong}")),
        "-ERR [AUTH] invalid user name or password"
    );
    assert_eq!(pop.cmd("AUTH PLAIN"), "+ ");
    assert!(pop.cmd("*").starts_with("-ERR authentication cancelled"));
    assert_eq!(pop.cmd("AUTH PLAIN"), "+ ");
    assert!(pop.cmd(good).starts_with("+OK maildrop locked"));
    let (_, capa) = pop.multi("CAPA");
    assert!(
        !capa.contains(&"USER".to_string()),
        "no login methods after login"
    );
    pop.cmd("QUIT");

    let mut pop = Pop3::connect(&server);
    assert!(pop
        .cmd(&format!("AUTH PLAIN {good}"))
        .starts_with("+OK maildrop locked"));
    pop.cmd("QUIT");
    let text = server.transcripts();
    assert!(!text.contains(good) && !text.contains(wrong), "{text}");
    assert!(text.contains("C: AUTH PLAIN <credentials hidden>"));
    assert!(text.contains("C: <credentials hidden>"));
}

#[test]
fn apop_when_passwords_are_stored_plain_only() {
    // The test accounts are {PLAIN}: APOP is offered, and Python's poplib can use it.
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "Subject: apop\r\n\r\nx\r\n");
    let mut pop = Pop3::connect(&server);
    let stamp_at = pop.greeting.find('<').expect("a timestamp in the greeting");
    assert!(pop.greeting.ends_with("@mx.test>"), "{}", pop.greeting);
    assert!(pop
        .cmd("APOP bob 0123456789abcdef0123456789abcdef")
        .starts_with("-ERR [AUTH] "));
    drop(pop);
    let script = format!(
        r#"
import poplib
p = poplib.POP3("{ip}", {port})
p.apop("bob", "bob-password")
assert p.stat()[0] == 1, p.stat()
p.quit()
"#,
        ip = server.addr("pop3").ip(),
        port = server.addr("pop3").port()
    );
    python(&script);
    assert!(stamp_at > 0);

    // Demo accounts are stored hashed: no timestamp, and APOP is refused.
    let hashed = TestServer::start_with(Setup {
        users: None,
        ..Setup::default()
    });
    let mut pop = Pop3::connect(&hashed);
    assert!(!pop.greeting.contains('<'), "{}", pop.greeting);
    assert!(pop
        .cmd("APOP bob 0123456789abcdef0123456789abcdef")
        .starts_with("-ERR [AUTH] "));
}

#[test]
fn dropped_connection_deletes_nothing_and_rset_undoes() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "Subject: keep me\r\n\r\nx\r\n");
    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    assert_eq!(pop.cmd("DELE 1"), "+OK message 1 deleted");
    drop(pop); // no QUIT: no UPDATE state
               // The lock goes when the server notices; log in again (poll, the server thread may lag).
    let mut pop = wait_for("the mailbox to be free again", || {
        let mut pop = Pop3::connect(&server);
        pop.cmd("USER bob");
        pop.cmd("PASS bob-password")
            .starts_with("+OK")
            .then_some(pop)
    });
    assert_eq!(pop.multi("LIST").1.len(), 1, "the message survived");
    pop.cmd("DELE 1");
    assert!(pop.cmd("RSET").starts_with("+OK maildrop has 1 messages"));
    assert!(pop.cmd("QUIT").starts_with("+OK"));
    assert_eq!(mailbox_files(&server, "bob").len(), 1);
}

#[test]
fn a_second_session_on_the_same_mailbox_is_in_use() {
    let server = TestServer::start();
    let mut first = Pop3::connect(&server);
    first.login("bob", "bob-password");
    let mut second = Pop3::connect(&server);
    second.cmd("USER bob");
    assert_eq!(
        second.cmd("PASS bob-password"),
        "-ERR [IN-USE] mailbox is already open in another POP3 session (hint: close the other session (QUIT) and try again)"
    );
    // Another mailbox is not affected.
    let mut alice = Pop3::connect(&server);
    alice.login("alice", "alice-password");
    assert!(first.cmd("QUIT").starts_with("+OK"));
    assert!(first.is_closed());
    second.cmd("USER bob");
    assert!(second
        .cmd("PASS bob-password")
        .starts_with("+OK maildrop locked"));
}

#[test]
fn mail_arriving_during_a_session_waits_for_the_next() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "Subject: one\r\n\r\nx\r\n");
    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    deliver(&server, "bob@localhost", "Subject: two\r\n\r\ny\r\n");
    assert_eq!(
        server.new_mail("bob").len(),
        1,
        "the newcomer waits in new/"
    );
    assert!(pop.cmd("STAT").starts_with("+OK 1 "));
    assert_eq!(pop.multi("UIDL").1.len(), 1);
    assert!(pop.cmd("RETR 2").starts_with("-ERR no such message"));
    pop.cmd("DELE 1");
    assert!(pop.cmd("QUIT").ends_with("(0 messages left)"));
    assert!(pop.is_closed());
    assert_eq!(server.new_mail("bob").len(), 1, "not touched by the UPDATE");

    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    assert!(pop.cmd("STAT").starts_with("+OK 1 "));
    let (_, body) = pop.multi("RETR 1");
    assert!(body.contains(&"Subject: two".to_string()));
}

#[test]
fn uidl_is_stable_across_sessions_and_restarts() {
    let setup = Setup::default();
    let server = TestServer::start_with(Setup::default());
    deliver(&server, "bob@localhost", "Subject: a\r\n\r\nx\r\n");
    deliver(&server, "bob@localhost", "Subject: b\r\n\r\ny\r\n");
    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    let (_, before) = pop.multi("UIDL");
    assert_eq!(before.len(), 2);
    assert_ne!(before[0].split(' ').nth(1), before[1].split(' ').nth(1));
    assert_eq!(pop.cmd("UIDL 2"), format!("+OK {}", before[1]));
    pop.cmd("QUIT");

    let dir = server.kill();
    let server = TestServer::start_in(dir, &setup);
    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    assert_eq!(pop.multi("UIDL").1, before);
}

#[test]
fn long_lines_errors_and_failed_logins() {
    let server = TestServer::start();
    let mut pop = Pop3::connect(&server);
    // RFC 2449 §4: 255 octets with the CRLF. 253 + CRLF is fine; 300 is refused.
    assert!(pop
        .cmd(&format!("USER {}", "b".repeat(248)))
        .starts_with("+OK"));
    assert!(pop
        .cmd(&format!("USER {}", "b".repeat(300)))
        .starts_with("-ERR line too long"));
    assert_eq!(
        pop.cmd("NOOP"),
        "-ERR not logged in yet (hint: USER your-name, then PASS your-password)"
    );

    // Two free failures, then a growing delay (login::Throttle); the password is not logged.
    for _ in 0..3 {
        pop.cmd("USER bob");
        assert_eq!(
            pop.cmd("PASS not-the-password"),
            "-ERR [AUTH] invalid user name or password"
        );
    }
    pop.cmd("USER bob");
    let start = Instant::now();
    assert!(pop.cmd("PASS still-wrong").starts_with("-ERR [AUTH]"));
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let text = server.transcripts();
    assert!(text.contains("login failed for 'bob' (the password is not logged)"));
    assert!(!text.contains("not-the-password") && !text.contains("still-wrong"));

    // max_errors (10) -ERR responses end the session.
    let mut pop = Pop3::connect(&server);
    for _ in 0..9 {
        assert!(pop.cmd("BOGUS").starts_with("-ERR unknown"));
    }
    assert!(pop.cmd("BOGUS").starts_with("-ERR unknown"));
    assert_eq!(pop.line(), "-ERR too many errors, closing the connection");
    assert!(pop.is_closed());
}

#[test]
fn idle_sessions_are_logged_out_without_removing_anything() {
    let server = TestServer::start_with(Setup {
        config: "pop3_idle_timeout = 1\n".into(),
        ..Setup::default()
    });
    deliver(&server, "bob@localhost", "Subject: stay\r\n\r\nx\r\n");
    let mut pop = Pop3::connect(&server);
    pop.login("bob", "bob-password");
    pop.cmd("DELE 1");
    let start = Instant::now();
    assert!(
        pop.is_closed(),
        "closed with no response (RFC 1939 section 3)"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(mailbox_files(&server, "bob").len(), 1);
    wait_for("the autologout note", || {
        server.transcripts().contains("autologout").then_some(())
    });
}

#[test]
fn python_poplib_lists_retrieves_and_deletes() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", DOTTED);
    deliver(&server, "bob@localhost", "Subject: second\r\n\r\nhello\r\n");
    let script = format!(
        r#"
import poplib
p = poplib.POP3("{ip}", {port})
caps = p.capa()
assert "UIDL" in caps and "TOP" in caps, caps
p.user("bob")
p.pass_("bob-password")
count, size = p.stat()
assert count == 2, count
resp, listing, _ = p.list()
assert len(listing) == 2, listing
resp, lines, octets = p.retr(1)
assert b"Subject: dots" in lines, lines
assert b".starts with a dot" in lines, lines   # poplib removes the stuffed dot
resp, uids, _ = p.uidl()
assert len(uids) == 2
p.dele(1)
p.dele(2)
p.quit()
print("ok")
"#,
        ip = server.addr("pop3").ip(),
        port = server.addr("pop3").port()
    );
    assert_eq!(python(&script).trim(), "ok");
    wait_for("the UPDATE to remove both", || {
        mailbox_files(&server, "bob").is_empty().then_some(())
    });
}

#[test]
fn curl_lists_and_retrieves() {
    // curl is a Debian package the CI installs (.ci/run); without it this test fails loudly.
    let server = TestServer::start();
    deliver(&server, "bob@localhost", DOTTED);
    let url = format!("pop3://bob:bob-password@{}/", server.addr("pop3"));
    let curl = |extra: &[&str], url: &str| {
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20"])
            .args(extra)
            .arg(url)
            .output()
            .expect("curl (Debian package curl) must be installed");
        assert!(
            output.status.success(),
            "curl {extra:?} {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let listing = curl(&[], &url);
    assert!(listing.starts_with("1 "), "{listing:?}");
    let message = curl(&[], &format!("{url}1"));
    assert!(message.contains("Subject: dots\r\n"), "{message:?}");
    assert!(
        message.contains("\r\n.starts with a dot\r\n"),
        "curl unstuffs: {message:?}"
    );
    curl(&["--request", "DELE", "--list-only"], &format!("{url}1"));
    wait_for("curl's DELE and QUIT to remove it", || {
        mailbox_files(&server, "bob").is_empty().then_some(())
    });
}

/// This machine's address on its network (not loopback), found by asking the routing table
/// which source a UDP "connection" would use (no packet is sent).
fn network_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.200:9")
        .or_else(|_| socket.connect("10.255.255.1:9"))
        .expect("a network interface besides loopback, to test the plaintext rule");
    let ip = socket.local_addr().unwrap().ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
    ip
}

#[test]
fn plaintext_logins_are_refused_and_hidden_off_loopback() {
    let server = TestServer::start_with(Setup {
        args: vec![
            "--hostname".into(),
            "mx.test".into(),
            "--listen".into(),
            "0.0.0.0".into(),
        ],
        ..Setup::default()
    });
    let port = server.addr("pop3").port();
    let stream = TcpStream::connect((network_address(), port)).expect("connect over the network");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut pop = Pop3 {
        reader: BufReader::new(stream.try_clone().unwrap()),
        stream,
        greeting: String::new(),
    };
    pop.greeting = pop.line();
    let (_, capa) = pop.multi("CAPA");
    assert!(!capa.contains(&"USER".to_string()) && !capa.iter().any(|c| c.starts_with("SASL")));
    for line in ["USER bob", "AUTH PLAIN AGJvYgBib2ItcGFzc3dvcmQ="] {
        let reply = pop.cmd(line);
        assert!(
            reply.starts_with("-ERR [AUTH] plaintext passwords"),
            "{line} → {reply}"
        );
    }
    assert!(pop
        .cmd("PASS bob-password")
        .starts_with("-ERR send USER first"));
}
