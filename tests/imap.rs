//! IMAP (flowchart step 7) over real sockets: raw dialogues per command family, two sessions
//! on one folder, IDLE with mail delivered by SMTP, limits and path-escape attempts, UIDs
//! across a restart, and the transcript's redaction.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::support::{python, wait_for, Setup, TestServer, DEADLINE};

/// A bare IMAP client: send exact bytes, read lines.
pub struct Imap {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    pub greeting: String,
}

impl Imap {
    pub fn connect(addr: SocketAddr) -> Imap {
        Imap::over(TcpStream::connect(addr).expect("connect"))
    }

    /// A session on a connection made elsewhere (from another loopback address, say).
    pub fn over(stream: TcpStream) -> Imap {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut client = Imap {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
            greeting: String::new(),
        };
        client.greeting = client.line();
        client
    }

    pub fn login(addr: SocketAddr, user: &str) -> Imap {
        let mut c = Imap::connect(addr);
        let reply = c.cmd(&format!("l LOGIN {user} {user}-password"));
        assert!(reply.last().unwrap().starts_with("l OK"), "{reply:?}");
        c
    }

    /// One line, without CRLF; a literal's octets follow as the next "lines" as they are.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read");
        assert!(n > 0, "connection closed");
        let line = line.trim_end_matches("\r\n").to_string();
        // Read a literal announced at the end of the line along with it.
        if let Some(size) = line
            .strip_suffix('}')
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        {
            let mut bytes = vec![0; size];
            self.reader.read_exact(&mut bytes).unwrap();
            return format!(
                "{line}\r\n{}{}",
                String::from_utf8_lossy(&bytes),
                self.line()
            );
        }
        line
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends, and tells whether it could (the server may have closed the connection).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Sends a command and reads until its tagged reply; returns every line.
    pub fn cmd(&mut self, line: &str) -> Vec<String> {
        let tag = line.split(' ').next().unwrap().to_string();
        self.send(format!("{line}\r\n").as_bytes());
        self.until(&tag)
    }

    pub fn until(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }

    /// What the server has sent that is waiting (read for up to 50 ms without blocking longer),
    /// and whether it has closed the connection.
    pub fn waiting_now(&mut self) -> (String, bool) {
        self.stream
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let mut text = Vec::new();
        let mut buf = [0u8; 512];
        let closed = loop {
            match self.reader.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => text.extend_from_slice(&buf[..n]),
                Err(e) => break e.kind() != std::io::ErrorKind::WouldBlock,
            }
        };
        self.stream.set_read_timeout(Some(DEADLINE)).unwrap();
        (String::from_utf8_lossy(&text).into_owned(), closed)
    }
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

fn deliver(server: &TestServer, to: &str, subject: &str, body: &str) {
    let mut smtp = server.connect();
    smtp.expect("EHLO client", 250);
    let reply = smtp.send_mail(
        "alice@localhost",
        &[to],
        &format!(
            "From: Alice <alice@localhost>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
        ),
    );
    assert_eq!(reply.code, 250);
}

#[test]
fn login_states_and_errors() {
    let server = TestServer::start();
    let mut c = Imap::connect(server.addr("imap"));
    assert!(
        c.greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
        "{}",
        c.greeting
    );
    assert!(c.greeting.contains("AUTH=PLAIN"));
    let r = c.cmd("a1 SELECT INBOX");
    assert!(
        r[0].starts_with("a1 BAD [CLIENTBUG] Not allowed in the Not Authenticated"),
        "{r:?}"
    );
    let r = c.cmd("a2 FROB");
    assert_eq!(
        r[0],
        "a2 BAD [CLIENTBUG] Unknown command FROB (hint: CAPABILITY lists what this server offers)"
    );
    let r = c.cmd("a3 LOGIN bob wrong");
    assert_eq!(
        r[0],
        "a3 NO [AUTHENTICATIONFAILED] Wrong user name or password"
    );
    // AUTHENTICATE PLAIN with a continuation: base64 of "\0bob\0bob-password".
    c.send(b"a4 AUTHENTICATE PLAIN\r\n");
    assert_eq!(c.line(), "+ ");
    c.send(b"AGJvYgBib2ItcGFzc3dvcmQ=\r\n");
    let r = c.until("a4");
    assert!(r.last().unwrap().starts_with("a4 OK [CAPABILITY"), "{r:?}");
    let r = c.cmd("a5 LOGIN bob bob-password");
    assert!(r[0].starts_with("a5 BAD"), "{r:?}");
    let r = c.cmd("a6 NAMESPACE");
    assert_eq!(r[0], "* NAMESPACE ((\"\" \".\")) NIL NIL");
    let r = c.cmd("a7 LOGOUT");
    assert_eq!(r, ["* BYE postlab logging out", "a7 OK LOGOUT completed"]);
    assert!(c.is_closed());
    // Secrets never reach the transcript.
    let log = server.transcripts();
    assert!(
        log.contains("[7 ACCESS] C: a3 LOGIN bob <password hidden>"),
        "{log}"
    );
    // No initial response on the line: nothing to hide there; the continuation line is.
    assert!(log.contains("C: a4 AUTHENTICATE PLAIN\n"), "{log}");
    assert!(log.contains("C: <credentials hidden>"), "{log}");
    assert!(!log.contains("bob-password") && !log.contains("AGJvYgBib2ItcGFzc3dvcmQ="));
}

#[test]
fn select_fetch_store_search_expunge() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "first", "one");
    deliver(&server, "bob@localhost", "second", "two two");
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("s SELECT inbox");
    assert!(has(&r, "* 2 EXISTS") && has(&r, "* 2 RECENT") && has(&r, "[UIDVALIDITY "));
    assert!(has(&r, "* OK [UNSEEN 1]") && has(&r, "[UIDNEXT 3]"));
    assert!(r.last().unwrap().starts_with("s OK [READ-WRITE]"));
    let r = c.cmd("f1 FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        r[0].starts_with(
            "* 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (\"SUBJECT\")] {18}"
        ),
        "{r:?}"
    );
    assert!(r[0].contains("Subject: first\r\n\r\n)"), "{r:?}");
    let r = c.cmd("f2 FETCH 2 BODY[TEXT]<0.3>");
    assert_eq!(
        r[0],
        "* 2 FETCH (BODY[TEXT]<0> {3}\r\ntwo FLAGS (\\Seen \\Recent))"
    );
    let r = c.cmd("f3 SEARCH UNSEEN");
    assert_eq!(r[0], "* SEARCH 1");
    let r = c.cmd("f4 UID SEARCH OR SUBJECT second LARGER 100000");
    assert_eq!(r[0], "* SEARCH 2");
    let r = c.cmd("f5 STORE 1 +FLAGS (\\Deleted \\Flagged)");
    assert_eq!(r[0], "* 1 FETCH (FLAGS (\\Flagged \\Deleted \\Recent))");
    let r = c.cmd("f6 UID STORE 2 FLAGS.SILENT (\\Answered)");
    assert_eq!(r, ["f6 OK STORE completed"]);
    let r = c.cmd("f7 EXPUNGE");
    assert_eq!(r, ["* 1 EXPUNGE", "f7 OK EXPUNGE completed"]);
    let r = c.cmd("f8 FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE)");
    assert!(
        r[0].starts_with("* 1 FETCH (UID 2 FLAGS (\\Answered \\Recent) RFC822.SIZE "),
        "{r:?}"
    );
    // The flags are in the file name, where POP3 and other clients see them.
    let cur: Vec<String> = std::fs::read_dir(server.dir.join("mail/bob/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // FLAGS (not +FLAGS) replaced \Seen with \Answered alone.
    assert!(cur.len() == 1 && cur[0].ends_with(":2,R"), "{cur:?}");
    // A FETCH of a body logs its size, not its bytes.
    let log = server.transcripts();
    assert!(log.contains("BODY[TEXT]<0> {3} <3 octets>"), "{log}");
}

#[test]
fn folders_append_copy_move_and_special_use() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "keep", "body");
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("l LIST \"\" *");
    for want in [
        "* LIST (\\HasNoChildren) \".\" \"INBOX\"",
        "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"",
        "* LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"",
        "* LIST (\\HasNoChildren \\Drafts) \".\" \"Drafts\"",
        "* LIST (\\HasNoChildren \\Junk) \".\" \"Junk\"",
    ] {
        assert!(r.contains(&want.to_string()), "{want} not in {r:?}");
    }
    assert!(c.cmd("c1 CREATE Work.Reports")[0].starts_with("c1 OK"));
    assert!(c.cmd("c2 CREATE Work")[0].starts_with("c2 OK"));
    assert_eq!(
        c.cmd("c3 CREATE Work")[0],
        "c3 NO [ALREADYEXISTS] The folder already exists"
    );
    let r = c.cmd("c4 LIST \"\" Work%");
    assert_eq!(r[0], "* LIST (\\HasChildren) \".\" \"Work\"");
    assert!(c.cmd("c5 RENAME Work Job")[0].starts_with("c5 OK"));
    assert!(server.dir.join("mail/bob/.Job.Reports/cur").is_dir());
    assert!(c.cmd("c6 DELETE Job.Reports")[0].starts_with("c6 OK"));
    assert_eq!(
        c.cmd("c7 DELETE INBOX")[0],
        "c7 NO [CANNOT] INBOX cannot be deleted"
    );
    assert_eq!(
        c.cmd("c8 SELECT Nowhere")[0],
        "c8 NO [NONEXISTENT] No such folder"
    );
    assert_eq!(c.cmd("c9 SUBSCRIBE Job")[0], "c9 OK SUBSCRIBE completed");
    assert!(has(&c.cmd("c10 LSUB \"\" *"), "* LSUB () \".\" \"Job\""));

    // APPEND with a synchronizing literal: the server says "+" first.
    c.send(b"a1 APPEND Sent (\\Seen) {22}\r\n");
    assert_eq!(c.line(), "+ Ready for 22 octets");
    c.send(b"Subject: sent\r\n\r\nhello\r\n");
    let r = c.until("a1");
    assert!(r[0].starts_with("a1 OK [APPENDUID "), "{r:?}");
    // LITERAL+: no waiting.
    let r = c.cmd("a2 APPEND Drafts (\\Draft) \"01-Feb-2026 10:00:00 +0000\" {7+}\r\nDraft!!");
    assert!(
        r[0].starts_with("a2 OK [APPENDUID ") && r[0].contains(" 1]"),
        "{r:?}"
    );
    assert_eq!(
        c.cmd("a3 APPEND Nope {1+}\r\nx")[0],
        "a3 NO [TRYCREATE] No such folder; CREATE it first"
    );
    let r = c.cmd("a4 STATUS Sent (MESSAGES UNSEEN UIDNEXT)");
    assert_eq!(r[0], "* STATUS \"Sent\" (MESSAGES 1 UNSEEN 0 UIDNEXT 2)");
    // EXAMINE shows the appended message as recent (no session has claimed it) and leaves it
    // recent for the next SELECT.
    let r = c.cmd("e EXAMINE Drafts");
    assert!(has(&r, "* 1 RECENT"), "{r:?}");
    let r = c.cmd("e1 FETCH 1 (FLAGS INTERNALDATE)");
    assert_eq!(
        r[0],
        "* 1 FETCH (FLAGS (\\Draft \\Recent) INTERNALDATE \"01-Feb-2026 10:00:00 +0000\")"
    );
    assert_eq!(
        c.cmd("e2 STORE 1 +FLAGS (\\Seen)")[0],
        "e2 NO [CANNOT] The folder is read-only (EXAMINE)"
    );

    c.cmd("s SELECT INBOX");
    let r = c.cmd("m1 UID COPY 1 Trash");
    assert!(
        r[0].starts_with("m1 OK [COPYUID ") && r[0].ends_with(" 1 1] COPY completed"),
        "{r:?}"
    );
    let r = c.cmd("m2 MOVE 1 Junk");
    assert!(
        r[0].starts_with("* OK [COPYUID ") && r[0].contains(" 1 1]"),
        "{r:?}"
    );
    assert_eq!(r[1..], ["* 1 EXPUNGE", "m2 OK MOVE completed"]);
    let r = c.cmd("m3 STATUS Junk (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"Junk\" (MESSAGES 1)");
}

#[test]
fn two_sessions_see_each_others_changes_and_new_mail_arrives_during_idle() {
    let server = TestServer::start();
    for n in 1..=3 {
        deliver(&server, "bob@localhost", &format!("m{n}"), "x");
    }
    let mut a = Imap::login(server.addr("imap"), "bob");
    let mut b = Imap::login(server.addr("imap"), "bob");
    a.cmd("a SELECT INBOX");
    b.cmd("b SELECT INBOX");
    b.cmd("b1 STORE 1 +FLAGS (\\Flagged)");
    b.cmd("b2 STORE 2:3 +FLAGS (\\Deleted)");
    b.cmd("b3 EXPUNGE");
    let r = a.cmd("a1 NOOP");
    // Highest first, so each number is right when read (RFC 3501 §7.4.1).
    assert_eq!(r[0..2], ["* 3 EXPUNGE", "* 2 EXPUNGE"], "{r:?}");
    assert_eq!(r[2], "* 1 FETCH (FLAGS (\\Flagged \\Recent))");
    // No EXPUNGE during FETCH (§7.4.1), but after the next NOOP.
    b.cmd("b4 STORE 1 +FLAGS (\\Deleted)");
    b.cmd("b5 EXPUNGE");
    let r = a.cmd("a2 FETCH 1 FLAGS");
    // No EXPUNGE response, and no invented data: RFC 2180 §4.1.2 lets the server say NO.
    assert_eq!(
        r,
        ["a2 NO [EXPUNGEISSUED] FETCH: some of the messages no longer exist, they have been deleted by another session"]
    );
    assert!(has(&a.cmd("a3 NOOP"), "* 1 EXPUNGE"));

    // New mail shows as EXISTS at the next command…
    deliver(&server, "bob@localhost", "m4", "x");
    let r = a.cmd("a4 NOOP");
    assert!(has(&r, "* 1 EXISTS") && has(&r, "* 1 RECENT"), "{r:?}");
    // … and during IDLE without any command.
    a.send(b"a5 IDLE\r\n");
    assert_eq!(a.line(), "+ idling");
    deliver(&server, "bob@localhost", "m5", "x");
    assert_eq!(a.line(), "* 2 EXISTS");
    assert_eq!(a.line(), "* 2 RECENT");
    a.send(b"DONE\r\n");
    let r = a.until("a5");
    assert_eq!(r.last().unwrap(), "a5 OK IDLE terminated");
}

#[test]
fn bad_input_is_refused_and_the_session_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    for huge in ["{4294967295}", "{18446744073709551616}"] {
        let r = c.cmd(&format!("x APPEND INBOX {huge}"));
        assert!(r[0].starts_with("x NO [LIMIT] Literal too large"), "{r:?}");
    }
    let r = c.cmd("y APPEND INBOX {abc}");
    assert_eq!(
        r[0],
        "y BAD [CLIENTBUG] Literal size must be digits (like {123})"
    );
    // 8192 octets must be accepted (RFC 7162 §4); far more is refused with the tag.
    let set: String = (1..2000).map(|n| format!("{n},")).collect();
    c.cmd("s SELECT INBOX");
    let r = c.cmd(&format!("z2 FETCH {}1 FLAGS", set));
    assert_eq!(r, ["z2 OK FETCH completed"]);
    let long = "a".repeat(70_000);
    let r = c.cmd(&format!("z3 NOOP {long}"));
    assert!(
        r[0].starts_with("z3 BAD [CLIENTBUG] Line too long"),
        "{r:?}"
    );
    for name in [
        "../../etc",
        "a/b",
        "/etc",
        "~root",
        "&AC4ALgAv-",
        "x..y",
        "..",
    ] {
        let r = c.cmd(&format!("p CREATE \"{name}\""));
        assert!(
            r[0].starts_with("p NO [CANNOT] Bad folder name"),
            "{name}: {r:?}"
        );
        // (The first after a selected folder is told `* OK [CLOSED]` first: RFC 7162 §3.2.11.)
        let r = c.cmd(&format!("q SELECT \"{name}\""));
        assert!(r.last().unwrap().starts_with("q NO ["), "{name}: {r:?}");
    }
    assert!(!server.dir.join("mail/etc").exists() && !server.dir.join("etc").exists());
    assert!(c.cmd("n NOOP").last().unwrap().starts_with("n OK"));
}

#[test]
fn silent_clients_are_logged_out() {
    let server = TestServer::start_with(Setup {
        config: "imap_idle_timeout = 1\n".into(),
        ..Setup::default()
    });
    let mut c = Imap::connect(server.addr("imap"));
    assert_eq!(c.line(), "* BYE Autologout: idle for too long");
    assert!(c.is_closed());
}

#[test]
fn uids_survive_a_restart() {
    let setup = Setup::default();
    let server = TestServer::start_with(Setup::default());
    deliver(&server, "bob@localhost", "a", "x");
    deliver(&server, "bob@localhost", "b", "x");
    let mut c = Imap::login(server.addr("imap"), "bob");
    let before = c.cmd("s SELECT INBOX");
    let validity = before
        .iter()
        .find(|l| l.contains("UIDVALIDITY"))
        .unwrap()
        .clone();
    c.cmd("d STORE 1 +FLAGS (\\Deleted)");
    c.cmd("e EXPUNGE");
    drop(c);
    let dir = server.kill();
    let server = TestServer::start_in(dir, &setup);
    deliver(&server, "bob@localhost", "c", "x");
    let mut c = Imap::login(server.addr("imap"), "bob");
    let after = c.cmd("s SELECT INBOX");
    assert!(after.contains(&validity), "{after:?}");
    let r = c.cmd("f UID FETCH 1:* FLAGS");
    assert!(
        r[0].starts_with("* 1 FETCH (UID 2 ") && r[1].starts_with("* 2 FETCH (UID 3 "),
        "{r:?}"
    );
}

#[test]
fn python_imaplib_reads_files_and_idles() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "hello", "Hi Bob!");
    let imap = server.addr("imap");
    let smtp = server.smtp;
    let script = format!(
        r#"
import imaplib, smtplib, sys
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
typ, folders = m.list()
assert any(b"\\Trash" in f for f in folders), folders
typ, data = m.select("INBOX")
assert data == [b"1"], data
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER] FLAGS)")
assert b"Subject: hello" in data[0][1], data
typ, data = m.fetch("1", "(RFC822)")
assert data[0][1].endswith(b"Hi Bob!\r\n"), data
m.store("1", "+FLAGS", "\\Flagged")
typ, data = m.uid("MOVE", "1", "Trash")
assert typ == "OK", (typ, data)
m.expunge()
typ, data = m.append("Sent", "(\\Seen)", None, b"Subject: sent\r\n\r\nbody\r\n")
assert b"APPENDUID" in data[0], data
typ, data = m.status("Trash", "(MESSAGES)")
assert b"MESSAGES 1" in data[0], data
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
assert m.readline().startswith(b"+"), "no continuation"
s = smtplib.SMTP("{sip}", {sport})
s.sendmail("alice@localhost", ["bob@localhost"], "Subject: during idle\r\n\r\nnew\r\n")
s.quit()
line = m.readline()
assert line == b"* 1 EXISTS\r\n", line
m.send(b"DONE\r\n")
while not m.readline().startswith(tag):
    pass
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port(),
        sip = smtp.ip(),
        sport = smtp.port()
    );
    assert_eq!(python(&script).trim(), "ok");
}

#[test]
fn curl_lists_and_fetches() {
    let server = TestServer::start();
    deliver(&server, "bob@localhost", "for curl", "curl body");
    let imap = server.addr("imap");
    let run = |url: String| {
        let out = std::process::Command::new("curl")
            .args(["-s", "--max-time", "20", "-u", "bob:bob-password", &url])
            .output()
            .expect("curl (Debian package curl)");
        assert!(out.status.success(), "{url}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = run(format!("imap://{imap}/"));
    assert!(list.contains("\"Sent\""), "{list}");
    let body = run(format!("imap://{imap}/INBOX;UID=1"));
    assert!(
        body.contains("Subject: for curl") && body.contains("curl body"),
        "{body}"
    );
    wait_for("the curl session's transcript", || {
        server
            .transcripts()
            .contains("logged in as bob")
            .then_some(())
    });
    assert!(!server.transcripts().contains("bob-password"));
}
