//! SEARCHRES (RFC 5182, RFC 9051 §6.4.4.1) and IMAP4rev2 (RFC 9051) over real sockets: the
//! SAVE examples of RFC 9051 §6.4.4.4 (RFC 5182's, brought into rev2) replayed, `$` in every
//! command that takes a sequence set, what clears it, Python's imaplib using it, hostile rows,
//! memory bounded with a saved set of 5,000 intervals, and `ENABLE IMAP4rev2` answered exactly
//! as CAPABILITY advertises it.

use std::fs;

use crate::imap::Imap;
use crate::support::{python, status_kb, TestServer};

/// The mailbox the examples search: message n (UID n) is from `SENDERS[n - 1]`; 2, 3, 5 and
/// 6 are \Flagged; 2 and 6 have $Junk; 4 and 6 say "мать" in their body.
const SENDERS: [&str; 6] = ["Eric", "Smith", "Alice", "Eric", "Bob", "Smith"];

fn mailbox(c: &mut Imap) {
    for (i, who) in SENDERS.iter().enumerate() {
        let n = i + 1;
        let word = if n == 4 || n == 6 {
            "мать"
        } else {
            "hello"
        };
        let message = format!(
            "From: {who} <{}@example.org>\r\nSubject: m{n}\r\n\r\nbody {n} {word}\r\n",
            who.to_lowercase()
        );
        let r = c.cmd(&format!(
            "a APPEND INBOX {{{}+}}\r\n{message}",
            message.len()
        ));
        assert!(r.last().unwrap().starts_with("a OK [APPENDUID"), "{r:?}");
    }
    assert!(c.cmd("s SELECT INBOX").contains(&"* 6 EXISTS".to_string()));
    c.cmd("f STORE 2,3,5,6 +FLAGS.SILENT (\\Flagged)");
    c.cmd("j STORE 2,6 +FLAGS.SILENT ($Junk)");
}

/// The numbers of a `* SEARCH` answer among `lines`.
fn searched(lines: &[String]) -> Vec<u32> {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("* SEARCH"))
        .unwrap_or_else(|| panic!("no SEARCH answer: {lines:?}"));
    line.split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// What `$` holds now, as UIDs.
fn saved(c: &mut Imap) -> Vec<u32> {
    searched(&c.cmd("q UID SEARCH $"))
}

#[test]
fn searchres_replays_the_rfc_examples() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(c.cmd("c CAPABILITY")[0].contains(" SEARCHRES"));
    mailbox(&mut c);

    // Example 1: SAVE alone sends no ESEARCH; FETCH $ reads what was found.
    assert_eq!(
        c.cmd("A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        ["A282 OK SEARCH completed"]
    );
    assert_eq!(
        c.cmd("A283 FETCH $ (UID)"),
        [
            "* 3 FETCH (UID 3)",
            "* 5 FETCH (UID 5)",
            "A283 OK FETCH completed"
        ]
    );
    // Example 2: the same, pipelined.
    c.send(b"A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\nA283 FETCH $ (UID)\r\n");
    assert_eq!(
        c.until("A283"),
        [
            "A282 OK SEARCH completed",
            "* 3 FETCH (UID 3)",
            "* 5 FETCH (UID 5)",
            "A283 OK FETCH completed"
        ]
    );
    // Example 3: one SEARCH's result in another, `UID $` and `$` alike.
    c.cmd("A300 SEARCH RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM \"Smith\"");
    assert_eq!(
        searched(&c.cmd("A301 UID SEARCH UID $ SMALLER 4096")),
        [1, 3, 4, 5]
    );
    assert_eq!(
        searched(&c.cmd("A301 UID SEARCH $ SMALLER 4096")),
        [1, 3, 4, 5]
    );
    // Example 4: `$` inside OR, with a UTF-8 literal (LITERAL+).
    c.cmd("P282 SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    let r = c.cmd("P283 SEARCH CHARSET UTF-8 (OR $ 1,3000:3021) TEXT {8+}\r\nмать");
    assert_eq!(
        searched(&r),
        [4],
        "message 6 says it too, but is from Smith"
    );
    // Example 5: a failed SEARCH (SAVE) leaves `$` empty.
    assert_eq!(saved(&mut c), [1, 3, 4, 5]);
    let r = c.cmd("B283 SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3000:3021) TEXT {4+}\r\nXXXX");
    assert_eq!(
        r,
        ["B283 NO [BADCHARSET (US-ASCII UTF-8)] Only US-ASCII and UTF-8 can be searched"]
    );
    assert_eq!(saved(&mut c), [] as [u32; 0]);
    // Example 6: an empty `$` is no error.
    c.cmd("m CREATE \"Other Messages\"");
    c.cmd("E282 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM \"Eric\" FROM \"Nobody\"");
    assert_eq!(
        c.cmd("E283 COPY $ \"Other Messages\""),
        ["E283 OK COPY completed"]
    );
    assert_eq!(c.cmd("E284 FETCH $ (UID)"), ["E284 OK FETCH completed"]);
    // Example 7: SAVE, COPY and STORE pipelined.
    c.send(b"F282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nF283 COPY $ \"Junk\"\r\nF284 STORE $ +FLAGS.Silent (\\Deleted)\r\n");
    let r = c.until("F284");
    assert_eq!(r[0], "F282 OK SEARCH completed");
    assert!(r[1].starts_with("F283 OK [COPYUID "), "{r:?}");
    assert_eq!(r[2], "F284 OK STORE completed");
    assert_eq!(searched(&c.cmd("d SEARCH DELETED")), [2, 6]);
    assert_eq!(
        c.cmd("t STATUS Junk (MESSAGES)")[0],
        "* STATUS \"Junk\" (MESSAGES 2)"
    );
    c.cmd("u STORE 1:* -FLAGS.SILENT (\\Deleted)");
    // Example 9: the second SAVE wins.
    c.send(b"H282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nH283 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 FROM \"Eric\"\r\n");
    assert_eq!(c.until("H283").len(), 2);
    assert_eq!(saved(&mut c), [1, 4]);
    // Example 10: SAVE beside the other options (table 4). "NOT FROM Smith" is 1,3:5 here.
    let cases: [(&str, &str, &[u32]); 6] = [
        ("(ALL)", "ALL 1,3:5", &[1, 4]),
        ("(ALL SAVE)", "ALL 1,3:5", &[1, 3, 4, 5]),
        ("(SAVE MIN)", "MIN 1", &[1]),
        ("(MAX SAVE MIN)", "MIN 1 MAX 5", &[1, 5]),
        ("(MAX SAVE MIN COUNT)", "MIN 1 MAX 5 COUNT 4", &[1, 3, 4, 5]),
        ("(ALL SAVE MIN)", "MIN 1 ALL 1,3:5", &[1, 3, 4, 5]),
    ];
    for (options, answer, dollar) in cases {
        let r = c.cmd(&format!(
            "C SEARCH RETURN {options} SINCE 12-Feb-2006 NOT FROM \"Smith\""
        ));
        assert_eq!(
            r,
            [
                format!("* ESEARCH (TAG \"C\") {answer}"),
                "C OK SEARCH completed".into()
            ]
        );
        assert_eq!(saved(&mut c), dollar, "{options}");
    }
}

#[test]
fn dollar_follows_the_messages_and_is_cleared_with_the_folder() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    mailbox(&mut c);
    // Before any SAVE, `$` is empty: valid, and naming nothing.
    assert_eq!(c.cmd("a FETCH $ (UID)"), ["a OK FETCH completed"]);
    assert_eq!(c.cmd("b UID EXPUNGE $"), ["b OK EXPUNGE completed"]);
    // Saved by sequence number, used by UID (the RFC's implementation note), and back.
    c.cmd("c SEARCH RETURN (SAVE) 2:4");
    assert_eq!(
        c.cmd("d UID FETCH $ (UID)"),
        [
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* 4 FETCH (UID 4)",
            "d OK FETCH completed"
        ]
    );
    // An expunged message leaves the set; the others keep their place in it, renumbered.
    c.cmd("e STORE 3 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(
        c.cmd("f EXPUNGE"),
        ["* 3 EXPUNGE", "f OK EXPUNGE completed"]
    );
    assert_eq!(
        c.cmd("g FETCH $ (UID)"),
        [
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 4)",
            "g OK FETCH completed"
        ]
    );
    // UID STORE, UID EXPUNGE and SEARCH with `$`.
    let r = c.cmd("h UID STORE $ +FLAGS.SILENT (\\Deleted)");
    assert_eq!(r, ["h OK STORE completed"]);
    assert_eq!(searched(&c.cmd("i SEARCH DELETED")), [2, 3]);
    assert_eq!(
        c.cmd("j UID EXPUNGE $"),
        ["* 3 EXPUNGE", "* 2 EXPUNGE", "j OK EXPUNGE completed"]
    );
    assert_eq!(saved(&mut c), [] as [u32; 0]);
    // Another session's expunge takes the message out of this session's `$` too.
    c.cmd("k UID SEARCH RETURN (SAVE) ALL");
    assert_eq!(saved(&mut c), [1, 5, 6]);
    let mut other = Imap::login(server.addr("imap"), "bob");
    other.cmd("s SELECT INBOX");
    other.cmd("t UID STORE 5 +FLAGS.SILENT (\\Deleted)");
    other.cmd("u UID EXPUNGE 5");
    assert_eq!(c.cmd("l NOOP"), ["* 2 EXPUNGE", "l OK NOOP completed"]);
    assert_eq!(saved(&mut c), [1, 6]);
    // MOVE $ (and UID COPY $) take exactly the saved messages.
    let r = c.cmd("m UID COPY $ Trash");
    assert!(r[0].starts_with("m OK [COPYUID "), "{r:?}");
    c.cmd("n SEARCH RETURN (SAVE) 1");
    let r = c.cmd("o MOVE $ Trash");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
    assert_eq!(
        c.cmd("p STATUS Trash (MESSAGES)")[0],
        "* STATUS \"Trash\" (MESSAGES 3)"
    );
    // After SELECT, EXAMINE, UNSELECT or CLOSE, the folder opened next starts with an empty `$`.
    for leave in ["SELECT INBOX", "EXAMINE INBOX", "UNSELECT", "CLOSE"] {
        c.cmd("s SELECT INBOX");
        c.cmd("r SEARCH RETURN (SAVE) ALL");
        assert_eq!(saved(&mut c), [6]);
        c.cmd(&format!("x {leave}"));
        c.cmd("s EXAMINE INBOX");
        assert_eq!(saved(&mut c), [] as [u32; 0], "after {leave}");
    }
}

#[test]
fn dollar_in_odd_places_is_answered_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    // Not in the Authenticated state: no folder, no `$`.
    let r = c.cmd("h FETCH $ (UID)");
    assert!(r[0].starts_with("h BAD [CLIENTBUG] Not allowed"), "{r:?}");
    mailbox(&mut c);
    c.cmd("s SEARCH RETURN (SAVE) 1:2");
    for line in [
        "h FETCH $:3 (UID)",
        "h FETCH 1,$ (UID)",
        "h FETCH $,1 (UID)",
        "h FETCH $$ (UID)",
        "h UID SEARCH UID $:*",
        "h STORE $ +FLAGS",
        "h SEARCH RETURN (SAVE SAVE SAVE SAVE SAVE SAVE SAVE SAVE SAVE) ALL",
        "h SEARCH RETURN (SAVE",
        "h SEARCH RETURN SAVE ALL",
    ] {
        let r = c.cmd(line);
        assert!(
            r.last().unwrap().starts_with("h BAD [CLIENTBUG]"),
            "{line}: {r:?}"
        );
        assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    }
    // A BAD SEARCH leaves `$` as it was (§6.4.4.1).
    assert_eq!(saved(&mut c), [1, 2]);
    // SAVE twice is SAVE once; `$` in a SEARCH that saves is the old `$`.
    assert_eq!(
        c.cmd("a SEARCH RETURN (SAVE SAVE) NOT $"),
        ["a OK SEARCH completed"]
    );
    assert_eq!(saved(&mut c), [3, 4, 5, 6]);
    // A folder may be called `$`; it is no sequence set there.
    assert_eq!(c.cmd("b CREATE $").last().unwrap(), "b OK CREATE completed");
    assert!(c.cmd("c COPY $ $")[0].starts_with("c OK [COPYUID "));
    assert_eq!(
        c.cmd("d STATUS $ (MESSAGES)")[0],
        "* STATUS \"$\" (MESSAGES 4)"
    );
    // As many `$` keys as a SEARCH may have (256): every one is the one saved set, shared.
    let many = " $".repeat(256);
    assert_eq!(searched(&c.cmd(&format!("e SEARCH{many}"))), [3, 4, 5, 6]);
    let r = c.cmd(&format!("h SEARCH{many} $"));
    assert!(r.last().unwrap().starts_with("h BAD"), "{r:?}");
}

#[test]
fn a_saved_set_of_5000_intervals_used_by_every_key_keeps_memory_bounded() {
    const MESSAGES: u32 = 10_000;
    let server = TestServer::start();
    let root = server.dir.join("mail/bob");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    for i in 0..MESSAGES {
        // Every other message already read, so UNSEEN finds 5,000 runs of one message.
        let body = format!("Subject: m{i}\r\n\r\nmessage {i}\r\n");
        let seen = if i % 2 == 1 { "S" } else { "" };
        let name = format!(
            "{}.M{i}P1.mx.test,S={}:2,{seen}",
            1_700_000_000 + i,
            body.len()
        );
        fs::write(root.join("cur").join(name), body).unwrap();
    }
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("s SELECT INBOX");
    assert!(r.contains(&format!("* {MESSAGES} EXISTS")), "{r:?}");
    assert_eq!(
        c.cmd("a SEARCH RETURN (SAVE) UNSEEN"),
        ["a OK SEARCH completed"]
    );
    let r = c.cmd("b SEARCH RETURN (COUNT) $");
    assert_eq!(r[0], "* ESEARCH (TAG \"b\") COUNT 5000");
    // The 5,000-interval set used by every key a SEARCH may have (NOT and 255 `$`).
    let many = " $".repeat(255);
    let r = c.cmd(&format!("c SEARCH RETURN (COUNT) NOT{many}"));
    assert_eq!(
        r,
        ["* ESEARCH (TAG \"c\") COUNT 0", "c OK SEARCH completed"]
    );
    // And the whole folder saved, then fetched through `$`.
    c.cmd("d UID SEARCH RETURN (SAVE) ALL");
    let r = c.cmd("e FETCH $ (UID)");
    assert_eq!(r.len() as u32, MESSAGES + 1);
    let peak = status_kb(server.child.id(), "VmHWM:");
    assert!(peak < 200 * 1024, "the server peaked at {peak} kB");
}

#[test]
fn python_imaplib_saves_a_search_and_uses_dollar() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    mailbox(&mut c);
    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
assert "SEARCHRES" in m.capabilities, m.capabilities
m.select("INBOX")
typ, data = m.search(None, "RETURN", "(SAVE)", "FROM", '"Smith"')
assert typ == "OK" and data == [None], (typ, data)
typ, data = m.fetch("$", "(UID)")
assert data == [b"2 (UID 2)", b"6 (UID 6)"], data
typ, data = m.uid("STORE", "$", "+FLAGS", "(\\Answered)")
assert typ == "OK", (typ, data)
typ, data = m.copy("$", "Trash")
assert typ == "OK", (typ, data)
typ, data = m.search(None, "ANSWERED")
assert data == [b"2 6"], data
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port()
    );
    assert_eq!(python(&script).trim(), "ok");
}

#[test]
fn enable_imap4rev2_is_honoured_exactly_when_capability_advertises_it() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let caps = c.cmd("c CAPABILITY")[0].clone();
    let advertised = caps.contains(" IMAP4rev2");
    // rev2 folds in BINARY (RFC 9051 Appendix E, 2): advertised with it, never without it.
    assert_eq!(advertised, caps.contains(" BINARY"), "{caps}");
    let r = c.cmd("e ENABLE IMAP4rev2");
    if !advertised {
        // RFC 5161 §3.1: an extension the server does not offer is ignored, and the session
        // keeps RFC 3501's answers (RFC 9051 §7.2.2).
        assert_eq!(r, ["* ENABLED", "e OK ENABLE completed"]);
        mailbox(&mut c);
        assert_eq!(searched(&c.cmd("a SEARCH FROM \"Eric\"")), [1, 4]);
        let r = c.cmd("s SELECT INBOX");
        assert!(r.iter().any(|l| l.ends_with(" RECENT")), "{r:?}");
        assert!(!r.iter().any(|l| l.starts_with("* LIST")), "{r:?}");
        assert_eq!(
            c.cmd("t STATUS INBOX (RECENT)")[0],
            "* STATUS \"INBOX\" (RECENT 0)"
        );
        return;
    }
    // Advertised: every rule of `src/imap/rev2.rs` holds over the socket too.
    assert_eq!(r, ["* ENABLED IMAP4rev2", "e OK ENABLE completed"]);
    assert_eq!(
        c.cmd("c CAPABILITY")[0],
        caps,
        "ENABLE never changes CAPABILITY"
    );
    mailbox(&mut c);
    assert_eq!(
        c.cmd("a SEARCH FROM \"Eric\""),
        ["* ESEARCH (TAG \"a\") ALL 1,4", "a OK SEARCH completed"]
    );
    let r = c.cmd("s SELECT INBOX");
    assert!(
        r.contains(&"* LIST (\\HasNoChildren) \".\" \"INBOX\"".to_string()),
        "{r:?}"
    );
    assert!(
        !r.iter()
            .any(|l| l.contains("RECENT") || l.contains("UNSEEN")),
        "{r:?}"
    );
    assert_eq!(c.cmd("f FETCH 1 (FLAGS)")[0], "* 1 FETCH (FLAGS ())");
    assert!(c.cmd("t STATUS INBOX (RECENT)")[0].starts_with("t BAD"));
    let mut other = Imap::login(server.addr("imap"), "bob");
    other.cmd("s SELECT INBOX");
    other.cmd("t STORE 1 +FLAGS.SILENT (\\Seen)");
    assert_eq!(
        c.cmd("n NOOP"),
        ["* 1 FETCH (FLAGS (\\Seen) UID 1)", "n OK NOOP completed"]
    );
    assert_eq!(
        c.cmd("u CREATE \"Données\"").last().unwrap(),
        "u OK CREATE completed"
    );
    assert_eq!(
        c.cmd("l LSUB \"\" \"*\"").last().unwrap(),
        "l OK LSUB completed"
    );
}

#[test]
fn rev2_keywords_are_kept_by_append_copy_and_move_and_found_by_search() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let keywords = "$MDNSent $Forwarded $Junk $NotJunk $Phishing";
    let message = "Subject: k\r\n\r\nk\r\n";
    let r = c.cmd(&format!(
        "a APPEND INBOX ({keywords}) {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(r[0].starts_with("a OK [APPENDUID"), "{r:?}");
    let r = c.cmd("s SELECT INBOX");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* OK [PERMANENTFLAGS (") && l.contains("\\*)")),
        "{r:?}"
    );
    c.cmd("c COPY 1 Junk");
    c.cmd("k CREATE Archive");
    c.cmd("m MOVE 1 Archive");
    for folder in ["Junk", "Archive"] {
        c.cmd(&format!("s SELECT {folder}"));
        let r = c.cmd("f FETCH 1 (FLAGS)");
        for keyword in keywords.split(' ') {
            assert!(r[0].contains(keyword), "{folder}: {r:?}");
        }
        for keyword in keywords.split(' ') {
            assert_eq!(
                searched(&c.cmd(&format!("k SEARCH KEYWORD {keyword}"))),
                [1]
            );
        }
    }
}
