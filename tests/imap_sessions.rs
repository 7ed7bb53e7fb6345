//! Issue 15: many sessions on one mailbox, and every session sees the truth. Each test runs
//! two (or more) real sessions over sockets against one account: a change made by one is never
//! lost by the other, nothing is invented for a message that is gone, and the client is told
//! when something it asked for did not happen (RFC 2180 §4).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use crate::imap::Imap;
use crate::support::{TestServer, DEADLINE};

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

/// Delivers one message to bob over SMTP; returns the content as stored (CRLF lines).
fn deliver(server: &TestServer, subject: &str) -> String {
    let content = format!(
        "From: Alice <alice@localhost>\r\nTo: bob@localhost\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"
    );
    let mut smtp = server.connect();
    smtp.expect("EHLO client", 250);
    assert_eq!(
        smtp.send_mail("alice@localhost", &["bob@localhost"], &content)
            .code,
        250
    );
    content
}

/// Files of bob's INBOX (new/ and cur/).
fn inbox_files(server: &TestServer) -> usize {
    ["new", "cur"]
        .iter()
        .map(|sub| {
            std::fs::read_dir(server.dir.join("mail/bob").join(sub))
                .unwrap()
                .count()
        })
        .sum()
}

/// Two sessions with INBOX selected; `a` selected first (it claims what is recent).
fn two_sessions(server: &TestServer) -> (Imap, Imap) {
    let mut a = Imap::login(server.addr("imap"), "bob");
    let mut b = Imap::login(server.addr("imap"), "bob");
    a.cmd("a SELECT INBOX");
    b.cmd("b SELECT INBOX");
    (a, b)
}

#[test]
fn a_flag_change_is_not_lost_after_another_session_changed_the_flags() {
    let server = TestServer::start();
    deliver(&server, "one");
    let (mut a, mut b) = two_sessions(&server);
    assert_eq!(
        b.cmd("b1 STORE 1 +FLAGS (\\Seen)")[0],
        "* 1 FETCH (FLAGS (\\Seen))"
    );
    // Was: `* 1 FETCH (FLAGS (\Seen \Recent))` and OK, with \Deleted silently dropped.
    let r = a.cmd("a1 STORE 1 +FLAGS (\\Deleted)");
    assert_eq!(
        r,
        [
            "* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))",
            "a1 OK STORE completed"
        ]
    );
    let r = a.cmd("a2 EXPUNGE");
    assert_eq!(r, ["* 1 EXPUNGE", "a2 OK EXPUNGE completed"]);
    assert_eq!(inbox_files(&server), 0, "the message was really removed");
    assert!(has(&b.cmd("b2 NOOP"), "* 1 EXPUNGE"));
}

#[test]
fn fetch_after_another_session_renamed_the_file_sends_the_real_message() {
    let server = TestServer::start();
    let content = deliver(&server, "renamed");
    let (mut a, mut b) = two_sessions(&server);
    b.cmd("b1 STORE 1 +FLAGS (\\Flagged)");
    // Was: `BODY[] ""`, an all-NIL ENVELOPE and INTERNALDATE 01-Jan-1970.
    let r = a.cmd("a1 FETCH 1 (INTERNALDATE ENVELOPE BODY.PEEK[])");
    assert!(r[0].contains(&format!("\r\n{content} FLAGS")), "{r:?}");
    assert!(r[0].contains("\"renamed\""), "{r:?}");
    assert!(!r[0].contains("1970"), "{r:?}");
    // The flags the other session set are shown with it, since this FETCH found them.
    assert!(r[0].contains("FLAGS (\\Flagged \\Recent)"), "{r:?}");
    assert_eq!(r.last().unwrap(), "a1 OK FETCH completed");
}

#[test]
fn a_message_expunged_elsewhere_is_answered_with_no_never_with_empty_data() {
    let server = TestServer::start();
    deliver(&server, "one");
    deliver(&server, "two");
    let (mut a, mut b) = two_sessions(&server);
    b.cmd("b1 STORE 1 +FLAGS (\\Deleted)");
    b.cmd("b2 EXPUNGE");
    // RFC 2180 §4.1.2: what can be answered is, the rest gets NO; no EXPUNGE during FETCH.
    let r = a.cmd("a1 FETCH 1:2 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].starts_with("* 2 FETCH (UID 2 BODY"), "{r:?}");
    assert_eq!(
        r[1],
        "a1 NO [EXPUNGEISSUED] FETCH: some of the messages no longer exist, they have been deleted by another session"
    );
    // STORE on it: NO too, and the message that exists is changed.
    let r = a.cmd("a2 STORE 1:2 +FLAGS (\\Answered)");
    assert_eq!(r[0], "* 2 FETCH (FLAGS (\\Answered \\Recent))");
    assert!(r[1].starts_with("a2 NO [EXPUNGEISSUED]"), "{r:?}");
    // COPY of a set with a gone message copies nothing (RFC 2180 §4.4.1).
    // COPY may report the expunge (RFC 3501 §7.4.1 forbids it only for FETCH, STORE, SEARCH).
    let r = a.cmd("a3 COPY 1:2 Trash");
    assert_eq!(
        r,
        [
            "* 1 EXPUNGE",
            "a3 NO [EXPUNGEISSUED] COPY: some of the messages no longer exist, they have been deleted by another session"
        ]
    );
    assert_eq!(
        a.cmd("a4 STATUS Trash (MESSAGES)")[0],
        "* STATUS \"Trash\" (MESSAGES 0)"
    );
}

#[test]
fn append_with_flags_while_another_session_polls_is_ok_and_stored_once() {
    let server = TestServer::start();
    let addr = server.addr("imap");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Sessions that look at INBOX all the time, so they move every new/ file to cur/ as soon
    // as it appears: they used to win the race against APPEND's second rename.
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut b = Imap::login(addr, "bob");
                b.cmd("b SELECT INBOX");
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    b.cmd(&format!("n{n} NOOP"));
                }
            })
        })
        .collect();
    let mut a = Imap::login(addr, "bob");
    for i in 0..60 {
        let message = format!("Subject: appended {i}\r\n\r\nhello\r\n");
        // A new keyword each time: saving the keyword table made the window wider.
        let r = a.cmd(&format!(
            "p{i} APPEND INBOX (\\Seen k{}) \"01-Feb-2026 10:00:00 +0000\" {{{}+}}\r\n{message}",
            i % 20,
            message.len()
        ));
        assert!(r[0].starts_with(&format!("p{i} OK [APPENDUID ")), "{r:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for poller in pollers {
        poller.join().unwrap();
    }
    assert_eq!(
        inbox_files(&server),
        60,
        "one file per APPEND, no duplicates"
    );
    a.cmd("x EXAMINE INBOX");
    let r = a.cmd("x1 SEARCH SEEN ON 1-Feb-2026");
    let found = r[0].split(' ').skip(2).count();
    assert_eq!(found, 60, "{r:?}");
}

#[test]
fn recent_is_claimed_by_exactly_one_session_and_counted_alike_everywhere() {
    let server = TestServer::start();
    deliver(&server, "one");
    deliver(&server, "two");
    let mut c = Imap::login(server.addr("imap"), "bob");
    // Was: EXAMINE said `* 0 RECENT` while STATUS said RECENT 2.
    assert!(has(
        &c.cmd("s1 STATUS INBOX (RECENT)"),
        "* STATUS \"INBOX\" (RECENT 2)"
    ));
    assert!(has(&c.cmd("e EXAMINE INBOX"), "* 2 RECENT"));
    assert!(has(&c.cmd("s SELECT INBOX"), "* 2 RECENT"));
    assert!(has(
        &c.cmd("s2 STATUS INBOX (RECENT)"),
        "* STATUS \"INBOX\" (RECENT 0)"
    ));
    let mut other = Imap::login(server.addr("imap"), "bob");
    assert!(has(&other.cmd("o SELECT INBOX"), "* 0 RECENT"));
    // A COPY brings new messages: the first session to see them reports them as recent.
    // Was: a copy with flags went to cur/ and was \Recent nowhere.
    c.cmd("f STORE 1 +FLAGS (\\Seen)");
    let r = c.cmd("c1 COPY 1:2 INBOX");
    assert!(has(&r, "* 4 EXISTS") && has(&r, "* 4 RECENT"), "{r:?}");
    let r = other.cmd("o1 NOOP");
    assert!(has(&r, "* 4 EXISTS") && !has(&r, "RECENT"), "{r:?}");
    let r = other.cmd("o2 FETCH 3:4 FLAGS");
    assert!(!has(&r, "\\Recent"), "{r:?}");

    // Many sessions and many deliveries at once: every message is \Recent in one session.
    let sessions: Vec<Imap> = (0..4)
        .map(|_| {
            let mut s = Imap::login(server.addr("imap"), "bob");
            s.cmd("s SELECT INBOX");
            s
        })
        .collect();
    let go = std::sync::Arc::new(std::sync::Barrier::new(5));
    let threads: Vec<_> = sessions
        .into_iter()
        .map(|mut s| {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                let start = std::time::Instant::now();
                for n in 0.. {
                    let r = s.cmd(&format!("n{n} NOOP"));
                    if has(&r, "* 24 EXISTS") {
                        break;
                    }
                    assert!(start.elapsed() < DEADLINE, "the deliveries never showed");
                }
                let r = s.cmd("f FETCH 1:* FLAGS");
                r.iter().filter(|l| l.contains("\\Recent")).count()
            })
        })
        .collect();
    go.wait();
    for i in 0..20 {
        deliver(&server, &format!("burst {i}"));
    }
    let recent: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        recent, 20,
        "each new message is \\Recent in exactly one session"
    );
}

#[test]
fn an_empty_folder_keeps_its_uidvalidity() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("c CREATE Empty");
    let validity = |c: &mut Imap, tag: &str, name: &str| {
        let r = c.cmd(&format!("{tag} STATUS {name} (UIDVALIDITY UIDNEXT)"));
        r[0].clone()
    };
    // Was: a new value on every STATUS until the first message arrived (RFC 3501 §2.3.1.1).
    for name in ["Empty", "INBOX", "Trash"] {
        let first = validity(&mut c, "v1", name);
        assert!(first.ends_with(" UIDNEXT 1)"), "{first}");
        assert_eq!(validity(&mut c, "v2", name), first);
        let r = c.cmd(&format!("s SELECT {name}"));
        let selected = r.iter().find(|l| l.contains("UIDVALIDITY")).unwrap();
        let number = first.split(' ').nth(4).unwrap();
        assert!(
            selected.contains(&format!("[UIDVALIDITY {number}]")),
            "{r:?}"
        );
    }
}

/// A bare POP3 session (also used by `imap_concurrency`).
pub struct Pop3 {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Pop3 {
    fn login(server: &TestServer) -> Pop3 {
        let mut pop = Pop3::connect(server.addr("pop3"));
        assert!(pop.cmd("USER bob").starts_with("+OK"));
        assert!(pop.cmd("PASS bob-password").starts_with("+OK"));
        pop
    }

    /// Connects and reads the greeting.
    pub fn connect(addr: std::net::SocketAddr) -> Pop3 {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut pop = Pop3 {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        pop.line();
        pop
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    /// A multi-line answer's lines, without the final dot.
    pub fn multi(&mut self, line: &str) -> (String, String) {
        let first = self.cmd(line);
        let mut body = String::new();
        if first.starts_with("+OK") {
            loop {
                let l = self.line();
                if l == ".\r\n" {
                    break;
                }
                body.push_str(&l);
            }
        }
        (first, body)
    }
}

#[test]
fn pop3_reads_and_deletes_a_message_imap_renamed_meanwhile() {
    let server = TestServer::start();
    let content = deliver(&server, "both");
    deliver(&server, "other");
    let mut pop = Pop3::login(&server);
    let mut imap = Imap::login(server.addr("imap"), "bob");
    imap.cmd("s SELECT INBOX");
    imap.cmd("s1 STORE 1:2 +FLAGS (\\Flagged)");
    // Was: -ERR for RETR, and DELE + QUIT left the message where it was.
    let (first, body) = pop.multi("RETR 1");
    assert!(first.starts_with("+OK"), "{first}");
    assert!(body.ends_with(&content), "{body:?}");
    assert!(pop.cmd("DELE 1").starts_with("+OK"));
    assert!(pop.cmd("QUIT").starts_with("+OK"));
    let r = imap.cmd("s2 NOOP");
    assert!(has(&r, "* 1 EXPUNGE"), "{r:?}");
    assert_eq!(inbox_files(&server), 1);
}

#[test]
fn a_folder_that_cannot_be_read_is_reported_not_passed_over() {
    let server = TestServer::start();
    deliver(&server, "one");
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    // The UID list replaced by a directory: the next look at the folder fails.
    let list = server.dir.join("mail/bob/postlab-uidlist");
    std::fs::remove_file(&list).unwrap();
    std::fs::create_dir(&list).unwrap();
    // Was: a plain OK, as if nothing could have changed.
    let r = c.cmd("n NOOP");
    assert!(
        r[0].starts_with("* NO [SERVERBUG] Cannot read the folder now:"),
        "{r:?}"
    );
    assert_eq!(r[1], "n OK NOOP completed");
}
