//! IMAP SEARCH keys, keywords, UID EXPUNGE (RFC 4315), RENAME INBOX and UIDVALIDITY of a
//! re-created folder over a socket, with messages whose internal dates are set by APPEND.

use crate::imap::Imap;
use crate::support::TestServer;

fn append(c: &mut Imap, flags: &str, date: &str, message: &str) {
    let r = c.cmd(&format!(
        "a APPEND INBOX ({flags}) \"{date}\" {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(r[0].starts_with("a OK [APPENDUID"), "{r:?}");
}

#[test]
fn search_keys_uid_expunge_and_rename_inbox() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    append(
        &mut c,
        "\\Seen",
        "01-Oct-2026 12:00:00 +0000",
        "From: alice@localhost\r\nSubject: Lunch plans\r\nDate: Wed, 30 Sep 2026 08:00:00 +0000\r\n\r\npizza\r\n",
    );
    append(
        &mut c,
        "\\Flagged",
        "15-Oct-2026 12:00:00 +0000",
        "From: carol@example.org\r\nSubject: Report\r\nX-Team: blue\r\n\r\nthe numbers are in\r\n",
    );
    append(
        &mut c,
        "",
        "02-Nov-2026 23:30:00 -0200",
        &format!(
            "From: alice@localhost\r\nSubject: big\r\n\r\n{}\r\n",
            "x".repeat(5000)
        ),
    );
    c.cmd("s SELECT INBOX");
    for (query, want) in [
        ("ALL", "* SEARCH 1 2 3"),
        ("SEEN", "* SEARCH 1"),
        ("UNSEEN", "* SEARCH 2 3"),
        ("FLAGGED", "* SEARCH 2"),
        ("FROM alice", "* SEARCH 1 3"),
        ("SUBJECT \"lunch\"", "* SEARCH 1"),
        ("BODY numbers", "* SEARCH 2"),
        ("TEXT pizza", "* SEARCH 1"),
        ("HEADER X-Team blue", "* SEARCH 2"),
        ("SINCE 15-Oct-2026", "* SEARCH 2 3"),
        ("BEFORE 15-Oct-2026", "* SEARCH 1"),
        // 23:30 at -0200 is 01:30 UTC the next day.
        ("ON 3-Nov-2026", "* SEARCH 3"),
        ("SENTBEFORE 1-Oct-2026", "* SEARCH 1"),
        ("LARGER 1000", "* SEARCH 3"),
        ("SMALLER 1000", "* SEARCH 1 2"),
        ("NOT FROM alice", "* SEARCH 2"),
        ("OR SEEN FLAGGED", "* SEARCH 1 2"),
        ("2:3 UNFLAGGED", "* SEARCH 3"),
        ("UID 1,3", "* SEARCH 1 3"),
        ("(FROM alice SEEN)", "* SEARCH 1"),
        ("KEYWORD $Junk", "* SEARCH"),
    ] {
        let r = c.cmd(&format!("q SEARCH {query}"));
        assert_eq!(r, [want, "q OK SEARCH completed"], "SEARCH {query}");
    }
    assert!(
        c.cmd("q SEARCH FROB")[0].starts_with("q BAD [CLIENTBUG] SEARCH: expected a search key")
    );

    // UID EXPUNGE removes only the named \Deleted messages.
    c.cmd("d STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    let r = c.cmd("e UID EXPUNGE 2:3");
    assert_eq!(r, ["* 2 EXPUNGE", "e OK EXPUNGE completed"]);
    assert_eq!(c.cmd("u UID SEARCH ALL")[0], "* SEARCH 1 3");

    // RENAME INBOX moves the messages and leaves INBOX empty (RFC 3501 §6.3.5).
    c.cmd("x CLOSE");
    assert_eq!(c.cmd("r RENAME INBOX Old")[0], "r OK RENAME completed");
    assert_eq!(
        c.cmd("t STATUS INBOX (MESSAGES)")[0],
        "* STATUS \"INBOX\" (MESSAGES 0)"
    );
    assert_eq!(
        c.cmd("t STATUS Old (MESSAGES)")[0],
        "* STATUS \"Old\" (MESSAGES 1)"
    );

    // The session's transcript file is named after the protocol.
    let day = std::fs::read_dir(server.dir.join("transcripts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(day.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("-imap.log")), "{names:?}");
}

#[test]
fn keywords_are_kept_in_file_names_like_dovecot() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    append(
        &mut c,
        "\\Seen $Forwarded",
        "01-Oct-2026 12:00:00 +0000",
        "Subject: a\r\n\r\nx\r\n",
    );
    append(
        &mut c,
        "",
        "01-Oct-2026 12:00:00 +0000",
        "Subject: b\r\n\r\ny\r\n",
    );
    let r = c.cmd("s SELECT INBOX");
    assert!(
        r.contains(
            &"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)".to_string()
        ),
        "{r:?}"
    );
    assert!(
        has_line(
            &r,
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)]"
        ),
        "{r:?}"
    );
    let r = c.cmd("k1 STORE 2 +FLAGS (Urgent $forwarded)");
    // A new keyword: the new FLAGS and PERMANENTFLAGS come first (RFC 3501 §7.2.6).
    assert_eq!(
        r[0..2],
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Urgent)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Urgent \\*)] Flags kept in the Maildir file names"
        ]
    );
    // Message 2 arrived in new/ and this session was the first to see it: \Recent.
    assert_eq!(r[2], "* 2 FETCH (FLAGS (\\Recent $Forwarded Urgent))");
    assert_eq!(c.cmd("k2 SEARCH KEYWORD urgent")[0], "* SEARCH 2");
    assert_eq!(c.cmd("k3 SEARCH KEYWORD $Forwarded")[0], "* SEARCH 1 2");
    assert_eq!(c.cmd("k4 SEARCH UNKEYWORD Urgent")[0], "* SEARCH 1");
    let r = c.cmd("k5 STORE 2 -FLAGS ($Forwarded)");
    assert_eq!(r[0], "* 2 FETCH (FLAGS (\\Recent Urgent))");
    // On disk: letter a is $Forwarded, b is Urgent (Dovecot's dovecot-keywords file).
    let table = std::fs::read_to_string(server.dir.join("mail/bob/dovecot-keywords")).unwrap();
    assert_eq!(table, "0 $Forwarded\n1 Urgent\n");
    let names: Vec<String> = std::fs::read_dir(server.dir.join("mail/bob/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(":2,Sa")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(":2,b")), "{names:?}");
    // Another session sees the keyword; a copy keeps it, with the target folder's letters.
    let mut other = Imap::login(server.addr("imap"), "bob");
    other.cmd("o SELECT INBOX");
    assert_eq!(
        other.cmd("o1 FETCH 2 FLAGS")[0],
        "* 2 FETCH (FLAGS (Urgent))"
    );
    assert!(c.cmd("k6 COPY 2 Trash")[0].starts_with("k6 OK [COPYUID"));
    // The copy is new to Trash: the first session to select it sees it \Recent.
    assert!(has_line(&c.cmd("t SELECT Trash"), "* 1 RECENT"));
    assert_eq!(
        c.cmd("k7 FETCH 1 FLAGS")[0],
        "* 1 FETCH (FLAGS (\\Recent Urgent))"
    );
    assert_eq!(
        std::fs::read_to_string(server.dir.join("mail/bob/.Trash/dovecot-keywords")).unwrap(),
        "0 Urgent\n"
    );
}

fn has_line(lines: &[String], start: &str) -> bool {
    lines.iter().any(|l| l.starts_with(start))
}

#[test]
fn a_folder_created_again_gets_a_new_uidvalidity() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let validity = |c: &mut Imap| c.cmd("v STATUS Tmp (UIDVALIDITY)")[0].clone();
    c.cmd("c CREATE Tmp");
    let first = validity(&mut c);
    c.cmd("d DELETE Tmp");
    c.cmd("c CREATE Tmp");
    // RFC 3501 §2.3.1.1: UIDs of the old folder must not be mistaken for the new one's.
    assert_ne!(validity(&mut c), first);
}

/// One SEARCH costs keys × messages × size (TEXT reads each message): a line full of keys is
/// refused before any message is read, and the session goes on.
#[test]
fn a_search_with_more_than_256_keys_is_refused() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    append(
        &mut c,
        "",
        "01-Jan-2024 10:00:00 +0000",
        "Subject: a\r\n\r\nbody\r\n",
    );
    c.cmd("s SELECT INBOX");
    let keys = |n: usize| vec!["TEXT x"; n].join(" ");
    assert_eq!(
        c.cmd(&format!("a SEARCH {}", keys(256))),
        ["* SEARCH", "a OK SEARCH completed"]
    );
    // Nested keys count too: NOT and OR are keys, and so is everything inside them.
    for line in [
        format!("h SEARCH {}", keys(257)),
        format!("h SEARCH OR ({}) ALL", keys(256)),
    ] {
        let r = c.cmd(&line);
        assert!(
            r.last().unwrap().starts_with("h BAD") && r.last().unwrap().contains("256"),
            "{r:?}"
        );
    }
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
}
