//! Issue 14, findings 8, 9 and 10: secrets never reach a transcript whatever the shape of the
//! line, control characters are made visible (in transcripts and in the server's log),
//! `postlab status` cannot be fooled by a client's text, and everything under the data
//! directory is for postlab's user alone.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64ct::{Base64, Encoding};

use crate::imap::Imap;
use crate::support::{temp_dir, wait_for, Setup, TestServer, DEADLINE};

/// A bare POP3 client: one line out, one line back.
struct Pop3 {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Pop3 {
    fn connect(server: &TestServer) -> Pop3 {
        let stream = TcpStream::connect(server.addr("pop3")).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut pop3 = Pop3 {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        pop3.line();
        pop3
    }
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }
    fn cmd(&mut self, line: &str) -> String {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.line()
    }
}

#[test]
fn no_line_shape_carries_a_password_into_the_transcript() {
    let server = TestServer::start();
    let plain = Base64::encode_string(b"\0alice\0alice-password");

    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    // A tab after AUTH: parsed (and logged in), so it must be redacted too.
    smtp.expect(&format!("AUTH\tPLAIN {plain}"), 235);
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    assert_eq!(smtp.cmd(&format!("  auth   plain   {plain}")).code / 100, 5);
    smtp.expect("AUTH LOGIN", 334);
    smtp.expect(&Base64::encode_string(b"alice"), 334);
    smtp.expect(&Base64::encode_string(b"alice-password"), 235);

    let mut pop3 = Pop3::connect(&server);
    assert!(pop3.cmd("USER bob").starts_with("+OK"));
    pop3.cmd("PASS\tbob-password");
    pop3.cmd("pass  bob-password");
    let plain_bob = Base64::encode_string(b"\0bob\0bob-password");
    pop3.cmd(&format!("AUTH\tPLAIN\t{plain_bob}"));
    pop3.cmd(&format!("APOP\tbob\t{plain_bob}"));

    let mut imap = Imap::connect(server.addr("imap"));
    imap.cmd("a  LOGIN alice alice-password");
    imap.send(b"b\tLOGIN\talice\talice-password\r\n");
    imap.until("b");
    imap.cmd("c LOGIN \"alice\" \"alice-password\"");
    let mut imap = Imap::connect(server.addr("imap"));
    let r = imap.cmd("d LOGIN {5+}\r\nalice {14+}\r\nalice-password");
    assert!(r.last().unwrap().starts_with("d OK"), "{r:?}");
    let mut imap = Imap::connect(server.addr("imap"));
    imap.cmd(&format!("e AUTHENTICATE\tPLAIN\t{plain}"));

    let text = wait_for("the IMAP AUTHENTICATE in the transcript", || {
        let text = server.transcripts();
        text.contains("e AUTHENTICATE").then_some(text)
    });
    for secret in ["alice-password", "bob-password", &plain, &plain_bob] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    assert!(
        text.contains("C: AUTH PLAIN <credentials hidden>"),
        "{text}"
    );
    assert!(text.contains("a  LOGIN alice <password hidden>"), "{text}");
    assert!(text.contains("<rest of the LOGIN hidden>"), "{text}");
}

#[test]
fn control_characters_are_escaped_and_status_is_not_fooled() {
    let server = TestServer::start();
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    smtp.send_raw(b"NOOP \x1b]0;owned\x07\x1b[2J\rX \xc2\x9b31m\r\n");
    assert_eq!(smtp.read_reply().code / 100, 5);
    smtp.expect(
        "NOOP [6 MAILBOX] 19A3C4F2B8D10: delivered to mallory: forged",
        250,
    );
    let reply = smtp.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: s\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250);
    let mut imap = Imap::connect(server.addr("imap"));
    imap.send(b"a NOOP \x1b[31m\x7f\r\n");
    imap.until("a");

    let text = wait_for("the IMAP NOOP in the transcript", || {
        let text = server.transcripts();
        text.contains("a NOOP").then_some(text)
    });
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && c.is_control())
        .collect();
    assert!(raw.is_empty(), "raw control characters {raw:?} in:\n{text}");
    assert!(
        text.contains("NOOP \\x1b]0;owned\\x07\\x1b[2J\\rX \\u{9b}31m"),
        "{text}"
    );
    assert!(text.contains("a NOOP \\x1b[31m\\x7f"), "{text}");

    let (_, out, _) = server.postlab(&["status"]);
    assert!(out.contains("delivered to bob"), "{out}");
    assert!(
        !out.contains("mallory"),
        "a client's NOOP passed for a delivery:\n{out}"
    );
}

#[test]
fn the_servers_log_gets_no_raw_control_characters() {
    let log = temp_dir("serve-log").join("serve.log");
    // The server's stderr (its log, as systemd or `make run` shows it) into a file, at the
    // level that shows transcript lines.
    let script = format!("RUST_LOG=info exec \"$0\" \"$@\" 2>{}", log.display());
    let server = TestServer::start_with(Setup {
        wrapper: vec!["sh".into(), "-c".into(), script],
        ..Setup::default()
    });
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    smtp.send_raw(b"NOOP \x1b]0;owned\x07\x1b[2J\rX\r\n");
    assert_eq!(smtp.read_reply().code / 100, 5);
    let mut imap = Imap::connect(server.addr("imap"));
    imap.send(b"a LOGIN \x1b[31mbob\x7f pw\r\n");
    imap.until("a");
    let text = wait_for("both lines in the log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (text.contains("C: NOOP") && text.contains("C: a LOGIN")).then_some(text)
    });
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && c.is_control())
        .collect();
    assert!(
        raw.is_empty(),
        "raw control characters {raw:?} in the log:\n{text}"
    );
    assert!(
        text.contains("C: NOOP \\x1b]0;owned\\x07\\x1b[2J\\rX"),
        "{text}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

/// Every entry under `root` whose mode gives group or others anything.
fn too_open(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.permissions().mode() & 0o077 != 0 && path != root {
            found.push(format!(
                "{} {:o}",
                path.display(),
                meta.permissions().mode()
            ));
        }
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found
}

#[test]
fn the_data_directory_is_private_and_check_fix_repairs_it() {
    let server = TestServer::start();
    assert_eq!(
        server
            .postlab(&["user", "add", "carol", "--password", "pw"])
            .0,
        0
    );
    let mut smtp = server.connect();
    smtp.expect("EHLO client.test", 250);
    let reply = smtp.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: s\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250);
    // A message for another domain waits in the queue (nothing listens for it).
    let reply = smtp.send_mail(
        "alice@localhost",
        &["x@remote.invalid"],
        "Subject: r\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250);
    let mut imap = Imap::login(server.addr("imap"), "bob");
    imap.cmd("c CREATE Projects");
    imap.cmd("c SELECT INBOX");
    imap.cmd("c COPY 1 Projects");
    wait_for("a transcript file", || {
        (!server.transcripts().is_empty()).then_some(())
    });

    // The test made the directory itself, with its own umask; the server leaves it alone.
    std::fs::set_permissions(&server.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let open = too_open(&server.dir);
    assert!(open.is_empty(), "readable by others: {open:#?}");

    let users = server.dir.join("users");
    let inbox = server.dir.join("mail/bob/new");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&inbox, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, _) = server.postlab(&["check"]);
    assert_eq!(code, 0, "a wide mode is a warning: {out}");
    assert!(out.contains("2 entries under"), "{out}");
    assert!(out.contains("users (mode 644)"), "{out}");
    assert!(out.contains("fix: postlab check --fix"), "{out}");

    let (code, out, _) = server.postlab(&["check", "--fix"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fixed: 2 file(s) and folder(s)"), "{out}");
    assert!(!out.contains("can be read by other users"), "{out}");
    assert_eq!(
        std::fs::metadata(&users).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&inbox).unwrap().permissions().mode() & 0o777,
        0o700
    );
}
