//! Issue 17's SORT, THREAD (RFC 5256), ESORT (RFC 5267), BINARY (RFC 3516),
//! CREATE-SPECIAL-USE (RFC 6154 §3) and TRYCREATE before a literal (RFC 3502's A004), over
//! real sockets: the RFCs' examples replayed, Python's imaplib reading SORT and THREAD, and a
//! hostile row for each new grammar (the server answering and going on).

use std::fs;

use crate::imap::Imap;
use crate::support::{python, Setup, TestServer};

/// Puts messages straight into bob's INBOX as a delivery agent would (`new/`, names in
/// delivery order, so sequence numbers and UIDs follow the order given).
fn deliver(server: &TestServer, messages: &[String]) {
    let new = server.dir.join("mail/bob/new");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(server.dir.join("mail/bob").join(sub)).unwrap();
    }
    for (i, body) in messages.iter().enumerate() {
        let name = format!("{}.M{i}P1.mx.test,S={}", 1_700_000_000 + i, body.len());
        fs::write(new.join(name), body).unwrap();
    }
}

/// A message with a Message-ID, References, subject and date (day of March 2000).
fn message(id: &str, refs: &str, subject: &str, day: u32) -> String {
    let mut m = format!(
        "From: user{day}@example.org\r\nSubject: {subject}\r\nDate: {day:02} Mar 2000 10:00:00 +0000\r\n"
    );
    if !id.is_empty() {
        m.push_str(&format!("Message-ID: <{id}@example.org>\r\n"));
    }
    if !refs.is_empty() {
        let refs: Vec<String> = refs
            .split(' ')
            .map(|r| format!("<{r}@example.org>"))
            .collect();
        m.push_str(&format!("References: {}\r\n", refs.join("\r\n ")));
    }
    m.push_str("\r\nbody\r\n");
    m
}

/// The one untagged line starting with `word`, and the tagged reply being OK.
fn answer(c: &mut Imap, command: &str, word: &str) -> String {
    let r = c.cmd(command);
    let tag = command.split(' ').next().unwrap();
    assert!(
        r.last().unwrap().starts_with(&format!("{tag} OK")),
        "{command}: {r:?}"
    );
    r.iter()
        .find(|l| l.starts_with(word))
        .cloned()
        .unwrap_or_else(|| panic!("{command}: no {word} in {r:?}"))
}

#[test]
fn sort_answers_in_the_order_rfc_5256_describes() {
    let server = TestServer::start();
    // Five messages: base subjects B, A, B, A, C; dates so that within a subject the later
    // sorts first under REVERSE DATE.
    let messages: Vec<String> = [
        ("Re: [list] beta", 3, "c@x.org", 300),
        ("Alpha", 5, "a@x.org", 100),
        ("beta (fwd)", 1, "b@x.org", 200),
        ("Fwd: alpha", 2, "", 500),
        ("[fwd: Gamma]", 4, "d@x.org", 400),
    ]
    .iter()
    .map(|(subject, day, from, pad)| {
        format!(
            "From: {from}\r\nSubject: {subject}\r\nDate: {day:02} Feb 1994 10:00:00 -0800\r\n\r\n{}\r\n",
            "x".repeat(*pad)
        )
    })
    .collect();
    deliver(&server, &messages);
    let mut c = Imap::login(server.addr("imap"), "bob");
    let caps = c.cmd("c CAPABILITY")[0].clone();
    for cap in [
        " SORT",
        " THREAD=ORDEREDSUBJECT",
        " THREAD=REFERENCES",
        " ESORT",
        " BINARY",
        " CREATE-SPECIAL-USE",
    ] {
        assert!(caps.contains(cap), "{cap} in {caps}");
    }
    c.cmd("s SELECT INBOX");
    for (command, want) in [
        // RFC 5256 §3's example commands, on this folder.
        (
            "A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994",
            "* SORT 2 4 1 3 5",
        ),
        (
            "A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
            "* SORT 2 4 1 3 5",
        ),
        (
            "A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"",
            "* SORT",
        ),
        ("a1 SORT (DATE) UTF-8 ALL", "* SORT 3 4 1 5 2"),
        ("a2 SORT (REVERSE DATE) UTF-8 ALL", "* SORT 2 5 1 4 3"),
        ("a3 SORT (SIZE) UTF-8 ALL", "* SORT 2 3 1 5 4"),
        // The empty From: sorts first; then a, b, c, d.
        ("a4 SORT (FROM) UTF-8 ALL", "* SORT 4 2 3 1 5"),
        // All equal (no To:): mailbox order, REVERSE or not.
        ("a5 SORT (REVERSE TO) UTF-8 ALL", "* SORT 1 2 3 4 5"),
        ("a6 SORT (ARRIVAL) \"UTF-8\" 2:4", "* SORT 2 3 4"),
        ("a7 UID SORT (SUBJECT) UTF-8 UID 1:3", "* SORT 2 1 3"),
        // ESORT (RFC 5267): MIN and MAX are the first and last in the sort order.
        (
            "a8 SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL",
            "* ESEARCH (TAG \"a8\") MIN 3 MAX 2 COUNT 5 ALL 3:4,1,5,2",
        ),
        (
            "a9 UID SORT RETURN () (SUBJECT) UTF-8 NOT 3",
            "* ESEARCH (TAG \"a9\") UID ALL 2,4,1,5",
        ),
    ] {
        let tag = command.split(' ').next().unwrap();
        let word = if want.starts_with("* ESEARCH") {
            "* ESEARCH"
        } else {
            "* SORT"
        };
        assert_eq!(answer(&mut c, command, word), want, "{tag}");
    }
}

#[test]
fn thread_replays_the_rfc_examples() {
    let server = TestServer::start();
    // RFC 5256 §4's tree `(2)(3 6 (4 23)(44 7 96))`, its messages numbered 1…8 here in the
    // order 2, 3, 4, 6, 7, 23, 44, 96; then `((3)(5))`'s two replies to a missing message.
    let messages = vec![
        message("m2", "", "two", 1),
        message("m3", "", "three", 2),
        message("m4", "m3 m6", "Re: three", 4),
        message("m6", "m3", "Re: three", 3),
        message("m7", "m3 m6 m44", "Re: three", 7),
        message("m23", "m3 m6 m4", "Re: three", 5),
        message("m44", "m3 m6", "Re: three", 6),
        message("m96", "m3 m6 m44 m7", "Re: three", 8),
        message("r1", "lost", "Re: lost", 9),
        message("r2", "lost", "Re: lost", 10),
    ];
    deliver(&server, &messages);
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    assert_eq!(
        answer(&mut c, "a1 THREAD REFERENCES UTF-8 ALL", "* THREAD"),
        "* THREAD (1)(2 4 (3 6)(7 5 8))((9)(10))"
    );
    assert_eq!(
        answer(&mut c, "a2 UID THREAD REFERENCES US-ASCII 2:8", "* THREAD"),
        "* THREAD (2 4 (3 6)(7 5 8))"
    );
    assert_eq!(
        answer(&mut c, "a3 THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD"),
        "* THREAD (1)(2 (4)(3)(6)(7)(5)(8))(9 10)"
    );
    // RFC 5256 §3's A284: nothing matches, a bare THREAD.
    assert_eq!(
        answer(
            &mut c,
            "A284 THREAD ORDEREDSUBJECT US-ASCII TEXT \"gewp\"",
            "* THREAD"
        ),
        "* THREAD"
    );
}

#[test]
fn imaplib_sorts_and_threads() {
    let server = TestServer::start();
    deliver(
        &server,
        &[
            message("a", "", "lunch", 3),
            message("b", "a", "Re: lunch", 4),
            message("c", "", "agenda", 1),
        ],
    );
    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
assert "SORT" in m.capabilities, m.capabilities
m.select("INBOX")
typ, data = m.sort("(DATE)", "UTF-8", "ALL")
assert typ == "OK" and data == [b"3 1 2"], (typ, data)
typ, data = m.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL")
assert typ == "OK" and data == [b"1 2 3"], (typ, data)
typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
assert typ == "OK" and data == [b"(3)(1 2)"], (typ, data)
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port()
    );
    python(&script);
}

#[test]
fn hostile_sort_and_thread_lines_are_refused_and_the_session_goes_on() {
    let server = TestServer::start();
    deliver(&server, &[message("a", "", "x", 1)]);
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    let huge_charset = "X".repeat(60_000);
    let criteria = vec!["SIZE"; 40].join(" ");
    for line in [
        "h SORT (BOGUS) UTF-8 ALL".to_string(),
        "h SORT (REVERSE) UTF-8 ALL".to_string(),
        "h SORT () UTF-8 ALL".to_string(),
        "h SORT (DATE) ALL".to_string(),
        "h SORT DATE UTF-8 ALL".to_string(),
        format!("h SORT ({criteria}) UTF-8 ALL"),
        "h THREAD BOGUS UTF-8 ALL".to_string(),
        "h THREAD REFERENCES".to_string(),
        "h UID SORT (DATE) UTF-8 NOT".to_string(),
        format!("h THREAD REFERENCES UTF-8 {}", "NOT ".repeat(100) + "ALL"),
    ] {
        let r = c.cmd(&line);
        assert!(
            r.last().unwrap().starts_with("h BAD"),
            "{}: {r:?}",
            &line[..line.len().min(60)]
        );
        assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    }
    // A charset we do not have is a NO naming those we do (RFC 3501 §6.4.4), not echoed.
    for line in [
        format!("h SORT (DATE) {huge_charset} ALL"),
        format!("h THREAD REFERENCES \"{huge_charset}\" ALL"),
        "h SORT (DATE) ISO-8859-1 ALL".to_string(),
    ] {
        let r = c.cmd(&line);
        assert_eq!(
            r.last().unwrap(),
            "h NO [BADCHARSET (US-ASCII UTF-8)] Only US-ASCII and UTF-8 are supported"
        );
    }
    // Not in the Authenticated state.
    c.cmd("u UNSELECT");
    assert!(c
        .cmd("h SORT (DATE) UTF-8 ALL")
        .last()
        .unwrap()
        .starts_with("h BAD"));
}

/// A thread 10,000 messages deep and a References field of 100,000 IDs: answered in the
/// RFC's form (a chain is one flat list), with the server's memory bounded.
#[test]
fn deep_threads_are_answered_without_recursion() {
    let server = TestServer::start();
    let mut messages: Vec<String> = (0..10_000)
        .map(|i| {
            let refs = if i == 0 {
                String::new()
            } else {
                format!("c{}", i - 1)
            };
            message(&format!("c{i}"), &refs, "Re: chain", 1)
        })
        .collect();
    let many: Vec<String> = (0..100_000).map(|i| format!("r{i}")).collect();
    messages.push(message("z", &many.join(" "), "long", 2));
    deliver(&server, &messages);
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    let chain: Vec<String> = (1..=10_000).map(|n| n.to_string()).collect();
    assert_eq!(
        answer(&mut c, "a THREAD REFERENCES UTF-8 ALL", "* THREAD"),
        format!("* THREAD ({})(10001)", chain.join(" "))
    );
    // Again from the session's cache, and ORDEREDSUBJECT over the same folder.
    assert_eq!(
        answer(&mut c, "b THREAD REFERENCES UTF-8 ALL", "* THREAD"),
        format!("* THREAD ({})(10001)", chain.join(" "))
    );
    let ordered = answer(&mut c, "c THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD");
    assert!(
        ordered.starts_with("* THREAD (1 (2)(3)"),
        "{}",
        &ordered[..40]
    );
    let status = fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(peak_kb < 300 * 1024, "peak {peak_kb} kB");
}

/// A multipart message: quoted-printable text, base64 octets with NUL, an unknown encoding.
const PARTS: &str = "Subject: parts\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 =\r\nau lait\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAECAwBoaQ==\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n\
begin 644 x\r\n\
--b--\r\n";

#[test]
fn binary_fetches_decoded_parts_and_appends_literal8() {
    let server = TestServer::start();
    deliver(&server, &[PARTS.to_string()]);
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("s SELECT INBOX");
    let r = c.cmd("a FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.PEEK[1])");
    assert_eq!(
        r[0],
        "* 1 FETCH (BINARY.SIZE[1] 13 BINARY.SIZE[2] 7 BINARY[1] {13}\r\ncafé au lait)"
    );
    // The octets with NUL come as literal8; read them raw.
    c.send(b"b FETCH 1 BINARY.PEEK[2]<1.5>\r\n");
    let r = c.until("b");
    assert_eq!(
        r[0].as_bytes(),
        b"* 1 FETCH (BINARY[2]<1> ~{5}\r\n\x01\x02\x03\x00h)"
    );
    assert_eq!(r[1], "b OK FETCH completed");
    // PEEK left \Seen off; BINARY sets it.
    assert_eq!(c.cmd("f FETCH 1 FLAGS")[0], "* 1 FETCH (FLAGS (\\Recent))");
    let r = c.cmd("c FETCH 1 (BINARY[9] BINARY[1.1])");
    assert_eq!(
        r[0],
        "* 1 FETCH (BINARY[9] NIL BINARY[1.1] {13}\r\ncafé au lait FLAGS (\\Seen \\Recent))"
    );
    // RFC 3516 §4.3: an encoding we cannot undo fails the whole FETCH.
    let r = c.cmd("d FETCH 1 (FLAGS BINARY[3])");
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("d NO [UNKNOWN-CTE]"), "{r:?}");
    // Bogus sections are syntax errors.
    for bad in [
        "e FETCH 1 BINARY[1.TEXT]",
        "e FETCH 1 BINARY[HEADER]",
        "e FETCH 1 BINARY[0]",
        "e FETCH 1 BINARY.SIZE[1]<0.5>",
        "e FETCH 1 BINARY[1",
    ] {
        assert!(c.cmd(bad).last().unwrap().starts_with("e BAD"), "{bad}");
    }
    // APPEND with literal8 (RFC 3516 §4.4): the part with NUL is stored base64-encoded, as a
    // plain FETCH may not send NUL (RFC 9051 §4); BINARY gives back the octets as sent.
    let content = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n";
    c.send(format!("g APPEND INBOX ~{{{}}}\r\n", content.len()).as_bytes());
    assert!(c.line().starts_with('+'));
    c.send(content);
    c.send(b"\r\n");
    assert!(c.until("g").last().unwrap().starts_with("g OK [APPENDUID"));
    c.cmd("n NOOP");
    c.send(b"h FETCH 2 (BODY.PEEK[1] BINARY.PEEK[1])\r\n");
    let r = c.until("h");
    assert_eq!(
        r[0].as_bytes(),
        b"* 2 FETCH (BODY[1] {10}\r\nYQBiDQo=\r\n BINARY[1] ~{5}\r\na\x00b\r\n)"
    );
    // A NUL that cannot be re-encoded (here in a header) refuses the message.
    let bad = b"Subject: n\x00l\r\n\r\nbody\r\n";
    c.send(format!("i APPEND INBOX ~{{{}}}\r\n", bad.len()).as_bytes());
    assert!(c.line().starts_with('+'));
    c.send(bad);
    c.send(b"\r\n");
    let r = c.until("i");
    assert!(r.last().unwrap().starts_with("i NO [UNKNOWN-CTE]"), "{r:?}");
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
}

#[test]
fn a_literal8_over_the_limit_is_refused_like_a_literal() {
    let server = TestServer::start_with(Setup {
        config: "max_message_size = 1000\n".into(),
        ..Setup::default()
    });
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("a APPEND INBOX ~{5000}");
    assert!(r.last().unwrap().starts_with("a NO [LIMIT]"), "{r:?}");
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    // LITERAL+ over the limit: the octets are on their way, so the connection closes.
    c.send(b"b APPEND INBOX ~{5000+}\r\n");
    assert!(c.line().starts_with("* BYE"));
}

#[test]
fn create_special_use_is_kept_and_listed() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert_eq!(
        c.cmd("a CREATE Letters (USE (\\Drafts))").last().unwrap(),
        "a OK CREATE completed"
    );
    assert_eq!(
        c.cmd("b LIST \"\" Letters")[0],
        "* LIST (\\HasNoChildren \\Drafts) \".\" \"Letters\""
    );
    // A folder of real messages cannot be \All or \Flagged, and is then not made at all.
    for (line, code) in [
        ("c CREATE Everything (USE (\\All))", "c NO [USEATTR]"),
        (
            "c CREATE Everything (USE (\\Drafts \\Bogus))",
            "c NO [USEATTR]",
        ),
    ] {
        assert!(c.cmd(line).last().unwrap().starts_with(code), "{line}");
    }
    assert_eq!(c.cmd("d LIST \"\" Everything").len(), 1);
    for bad in [
        "e CREATE X (FROB (\\Drafts))",
        "e CREATE X (USE \\Drafts)",
        "e CREATE X (USE (\\Drafts)",
    ] {
        assert!(c.cmd(bad).last().unwrap().starts_with("e BAD"), "{bad}");
    }
    // Kept in the folder: it moves with a RENAME and outlives the session and a restart.
    c.cmd("f RENAME Letters Notes");
    drop(c);
    let dir = server.kill();
    let server = TestServer::start_in(dir, &Setup::default());
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("g LIST (SPECIAL-USE) \"\" *");
    assert!(
        r.contains(&"* LIST (\\Drafts) \".\" \"Notes\"".to_string()),
        "{r:?}"
    );
}

#[test]
fn append_to_a_missing_folder_is_refused_before_the_literal() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    // RFC 3502's A004: NO [TRYCREATE] instead of the continuation, so no octet is sent.
    c.send(b"A004 APPEND unknown (\\Seen) {329}\r\n");
    assert_eq!(
        c.line(),
        "A004 NO [TRYCREATE] No such folder; CREATE it first"
    );
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    // A folder name sent as a literal is taken; the message's literal is then refused.
    c.send(b"b APPEND {7}\r\n");
    assert!(c.line().starts_with('+'));
    c.send(b"unknown {10}\r\n");
    assert!(c.line().starts_with("b NO [TRYCREATE]"));
    // LITERAL+: the octets are already sent; they are read and the command refused.
    let r = c.cmd("c APPEND unknown {5+}\r\nhello");
    assert!(r.last().unwrap().starts_with("c NO [TRYCREATE]"), "{r:?}");
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    // An existing folder still gets its continuation.
    c.send(b"d APPEND Drafts {5}\r\n");
    assert!(c.line().starts_with('+'));
    c.send(b"hello\r\n");
    assert!(c.until("d").last().unwrap().starts_with("d OK"));
}

/// A message another session expunged is left out of SORT (RFC 2180 §4.1.3, as SEARCH does),
/// and the EXPUNGE waits for the next command (RFC 5256 §3). Before it, with the folder's
/// directories unchanged since a trusted scan, SORT reads no message file at all.
#[test]
fn sort_leaves_out_what_another_session_expunged() {
    let server = TestServer::start();
    let bob = server.dir.join("mail/bob");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(bob.join(sub)).unwrap();
    }
    for day in 1..=3 {
        let body = message(&format!("m{day}"), "", "same", day);
        let name = format!(
            "{}.M{day}P1.mx.test,S={}:2,S",
            1_700_000_000 + day,
            body.len()
        );
        fs::write(bob.join("cur").join(name), body).unwrap();
    }
    // The directories look old, so the first scan is trusted (`selected.rs`).
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for sub in ["new", "cur"] {
        fs::File::open(bob.join(sub))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let mut a = Imap::login(server.addr("imap"), "bob");
    a.cmd("s SELECT INBOX");
    assert_eq!(
        a.cmd("a1 SORT (REVERSE DATE) UTF-8 ALL"),
        ["* SORT 3 2 1", "a1 OK SORT completed"]
    );
    let mut b = Imap::login(server.addr("imap"), "bob");
    b.cmd("s SELECT INBOX");
    b.cmd("d STORE 2 +FLAGS.SILENT (\\Deleted)");
    assert!(b.cmd("e EXPUNGE").contains(&"* 2 EXPUNGE".to_string()));
    assert_eq!(
        a.cmd("a2 SORT (REVERSE DATE) UTF-8 ALL"),
        ["* SORT 3 1", "a2 OK SORT completed"]
    );
    assert_eq!(
        a.cmd("a3 THREAD ORDEREDSUBJECT UTF-8 ALL"),
        ["* THREAD (1 3)", "a3 OK THREAD completed"]
    );
    assert!(a.cmd("n NOOP").contains(&"* 2 EXPUNGE".to_string()));
    assert_eq!(a.cmd("a4 UID SORT (DATE) UTF-8 ALL")[0], "* SORT 1 3");
}
