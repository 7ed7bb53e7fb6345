//! IMAP extensions of issue 17 over real sockets: ESEARCH (RFC 4731) with the RFC's own
//! examples replayed, Python's imaplib reading the answer, and hostile rows for each new
//! grammar (answered BAD, the server going on).

use crate::imap::Imap;
use crate::support::TestServer;

/// Appends `count` small messages to `folder` with LITERAL+, one command each.
fn fill(c: &mut Imap, folder: &str, count: usize) {
    for i in 1..=count {
        let message = format!("Subject: message {i}\r\n\r\nbody {i}\r\n");
        let r = c.cmd(&format!(
            "f APPEND {folder} {{{}+}}\r\n{message}",
            message.len()
        ));
        assert!(r.last().unwrap().starts_with("f OK [APPENDUID"), "{r:?}");
    }
}

/// Every hostile line gets a tagged BAD and the session goes on (NOOP answered).
fn refused_and_still_serving(c: &mut Imap, lines: &[&str]) {
    for line in lines {
        let r = c.cmd(line);
        assert!(
            r.last().unwrap().starts_with("h BAD [CLIENTBUG]"),
            "{line}: {r:?}"
        );
        assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    }
}

#[test]
fn esearch_answers_the_rfc_4731_examples() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(c.cmd("c CAPABILITY")[0].contains(" ESEARCH"));
    // The mailbox of RFC 4731 §3.1's examples: \Flagged 2, 10, 11; 1-3 seen so the first
    // unseen is 4; fifteen \Deleted.
    fill(&mut c, "INBOX", 20);
    c.cmd("s SELECT INBOX");
    c.cmd("x STORE 2,10,11 +FLAGS.SILENT (\\Flagged)");
    c.cmd("x STORE 1:3 +FLAGS.SILENT (\\Seen)");
    c.cmd("x STORE 6:20 +FLAGS.SILENT (\\Deleted)");
    for (command, want) in [
        (
            "A282 SEARCH RETURN (MIN COUNT) FLAGGED",
            "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3",
        ),
        (
            "A283 SEARCH RETURN () FLAGGED",
            "* ESEARCH (TAG \"A283\") ALL 2,10:11",
        ),
        (
            "A284 SEARCH RETURN (MIN) UNSEEN",
            "* ESEARCH (TAG \"A284\") MIN 4",
        ),
        (
            "A286 SEARCH RETURN (COUNT) DELETED",
            "* ESEARCH (TAG \"A286\") COUNT 15",
        ),
        // Nothing matched: MIN, MAX and ALL are left out, COUNT stays, the response is sent.
        (
            "A287 SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD $Nothing",
            "* ESEARCH (TAG \"A287\") COUNT 0",
        ),
        (
            "A288 SEARCH RETURN (MIN) KEYWORD $Nothing",
            "* ESEARCH (TAG \"A288\")",
        ),
        // RETURN comes before CHARSET (RFC 4466 §2.6), in any case.
        (
            "A289 search return (max) CHARSET UTF-8 SUBJECT \"message 1\"",
            "* ESEARCH (TAG \"A289\") MAX 19",
        ),
    ] {
        let tag = command.split(' ').next().unwrap();
        assert_eq!(
            c.cmd(command),
            [want.to_string(), format!("{tag} OK SEARCH completed")],
            "{command}"
        );
    }
    // A plain SEARCH still answers SEARCH.
    assert_eq!(c.cmd("p SEARCH FLAGGED")[0], "* SEARCH 2 10 11");

    // UID SEARCH: the UID indicator; A285's lowest UID is 7 (six expunged before it).
    c.cmd("e EXPUNGE");
    c.cmd("k CREATE Archive");
    fill(&mut c, "Archive", 6);
    c.cmd("s SELECT Archive");
    c.cmd("x STORE 1:* +FLAGS.SILENT (\\Deleted)");
    c.cmd("e EXPUNGE");
    fill(&mut c, "Archive", 9);
    c.cmd("x UID STORE 7,11:14 +FLAGS.SILENT (\\Seen)");
    assert_eq!(
        c.cmd("A285 UID SEARCH RETURN (MIN MAX) 1:5000")[0],
        "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 15"
    );
    assert_eq!(
        c.cmd("a1 UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")[0],
        "* ESEARCH (TAG \"a1\") UID MIN 8 MAX 15 COUNT 4 ALL 8:10,15"
    );
}

#[test]
fn imaplib_reads_an_esearch_answer() {
    let server = TestServer::start();
    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
for i in range(5):
    m.append("INBOX", "(\\Seen)" if i in (1, 2) else None, None, b"Subject: x\r\n\r\nbody\r\n")
m.select("INBOX")
typ, data = m._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
assert typ == "OK", (typ, data)
typ, data = m._untagged_response(typ, data, "ESEARCH")
assert data[0].endswith(b"UID MIN 1 MAX 5 COUNT 3 ALL 1,4:5"), data
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port(),
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hostile_esearch_is_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, "INBOX", 2);
    c.cmd("s SELECT INBOX");
    let deep = format!(
        "h SEARCH RETURN {}MIN{} ALL",
        "(".repeat(500),
        ")".repeat(500)
    );
    let many = format!("h SEARCH RETURN ({}) ALL", ["MIN"; 5000].join(" "));
    refused_and_still_serving(
        &mut c,
        &[
            "h SEARCH RETURN (MIN 99999999999999999999) ALL",
            "h UID SEARCH RETURN (MIN) 1:99999999999999999999",
            "h SEARCH RETURN (MIN ALL",
            "h SEARCH RETURN (SAVE) ALL",
            "h SEARCH RETURN MIN ALL",
            "h SEARCH RETURN (MIN)",
            &deep,
            &many,
        ],
    );
    assert_eq!(
        c.cmd("q SEARCH RETURN (COUNT) ALL")[0],
        "* ESEARCH (TAG \"q\") COUNT 2"
    );
}
