//! CONDSTORE and QRESYNC (RFC 7162) over real sockets: the RFC's examples replayed on a real
//! folder, two sessions (one changes, the other resynchronises and hears exactly that), the
//! mod-sequences across a restart, a flag change made outside postlab, Python's imaplib driving
//! a QRESYNC SELECT, and hostile rows for the new grammar.

use crate::imap::Imap;
use crate::support::{python, Setup, TestServer};

/// Appends `count` small messages to INBOX with LITERAL+.
fn fill(c: &mut Imap, count: usize) {
    for i in 1..=count {
        let message = format!("Subject: message {i}\r\n\r\nbody {i}\r\n");
        let r = c.cmd(&format!(
            "f APPEND INBOX {{{}+}}\r\n{message}",
            message.len()
        ));
        assert!(r.last().unwrap().starts_with("f OK [APPENDUID"), "{r:?}");
    }
}

/// The number after `word` in the first line that has it (`HIGHESTMODSEQ 17`, `MODSEQ (17)`).
fn number_after(lines: &[String], word: &str) -> u64 {
    lines
        .iter()
        .find_map(|l| {
            let at = l.find(word)? + word.len();
            let digits: String = l[at..]
                .trim_start_matches([' ', '('])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {word} in {lines:?}"))
}

/// The untagged lines of a reply (all but the tagged one).
fn untagged(lines: &[String]) -> Vec<String> {
    lines[..lines.len() - 1].to_vec()
}

#[test]
fn condstore_answers_the_rfc_7162_examples() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let caps = c.cmd("c CAPABILITY");
    assert!(caps[0].contains(" CONDSTORE QRESYNC"), "{caps:?}");
    fill(&mut c, 12);
    // Example 18: SELECT (CONDSTORE) ends with HIGHESTMODSEQ.
    let select = c.cmd("A142 SELECT INBOX (CONDSTORE)");
    assert!(
        select[select.len() - 2].starts_with("* OK [HIGHESTMODSEQ "),
        "{select:?}"
    );
    assert_eq!(
        select.last().unwrap(),
        "A142 OK [READ-WRITE] SELECT completed"
    );
    let start = number_after(&select, "HIGHESTMODSEQ");
    // Example 13: the MODSEQ item.
    let r = c.cmd("a FETCH 1:3 (MODSEQ)");
    assert_eq!(r.len(), 4, "{r:?}");
    for (i, line) in r[..3].iter().enumerate() {
        assert!(
            line.starts_with(&format!("* {} FETCH (MODSEQ (", i + 1)),
            "{line}"
        );
        assert!(number_after(std::slice::from_ref(line), "MODSEQ") <= start);
    }
    // Example 3: every message passes UNCHANGEDSINCE; .SILENT still answers UID and MODSEQ.
    let r = c.cmd(&format!(
        "a103 UID STORE 6,4,8 (UNCHANGEDSINCE {start}) +FLAGS.SILENT (\\Deleted)"
    ));
    // Each changed message gets a MODSEQ above `start` (one for the command, or one each
    // as in the RFC's own example: §3.1 allows both, and postlab gives one each when its
    // listing of the folder is in memory).
    assert_eq!(r.len(), 4, "{r:?}");
    let mut after = start;
    let four = number_after(&r[..1], "MODSEQ");
    for (line, uid) in r.iter().zip([4, 6, 8]) {
        let modseq = number_after(std::slice::from_ref(line), "MODSEQ");
        assert_eq!(
            *line,
            format!("* {uid} FETCH (UID {uid} MODSEQ ({modseq}))")
        );
        assert!(modseq > start && modseq >= after, "{r:?}");
        after = modseq;
    }
    assert_eq!(r[3], "a103 OK STORE completed");
    // Example 6: 7 and 9 changed since `start`, 5 did not: 5 is stored, 7 and 9 are MODIFIED.
    c.cmd("x STORE 7,9 +FLAGS.SILENT (\\Answered)");
    let r = c.cmd(&format!(
        "d105 STORE 7,5,9 (UNCHANGEDSINCE {start}) +FLAGS.SILENT (\\Deleted)"
    ));
    assert_eq!(r.len(), 2, "{r:?}");
    let five = number_after(&r[..1], "MODSEQ");
    assert_eq!(r[0], format!("* 5 FETCH (UID 5 MODSEQ ({five}))"));
    assert!(five > after + 1, "{r:?}");
    assert_eq!(r[1], "d105 OK [MODIFIED 7,9] Conditional STORE failed");
    // Example 8: UNCHANGEDSINCE 0 always fails (the keyword is new to the folder, so the
    // client first hears the new FLAGS).
    let r = c.cmd("a102 STORE 12 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)");
    assert_eq!(
        r.last().unwrap(),
        "a102 OK [MODIFIED 12] Conditional STORE failed"
    );
    assert!(!r.iter().any(|l| l.contains("FETCH")), "{r:?}");
    // Example 12: CHANGEDSINCE gives only what changed, with MODSEQ.
    let r = c.cmd(&format!(
        "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {start})"
    ));
    let changed: Vec<&str> = r
        .iter()
        .filter_map(|l| l.split(" FETCH (UID ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap())
        .collect();
    assert_eq!(changed, ["4", "5", "6", "7", "8", "9"], "{r:?}");
    assert!(
        r[0].starts_with("* 4 FETCH (UID 4 FLAGS (\\Deleted"),
        "{r:?}"
    );
    assert!(r[0].ends_with(&format!("MODSEQ ({four}))")), "{r:?}");
    // Example 15 and 16: SEARCH MODSEQ, with an entry name, ends with the highest MODSEQ
    // (message 5's, stored last).
    let r = c.cmd(&format!("a SEARCH MODSEQ \"/flags/\\\\draft\" all {four}"));
    assert_eq!(
        r[0],
        format!("* SEARCH 4 5 6 7 8 9 (MODSEQ {five})"),
        "{r:?}"
    );
    assert_eq!(
        c.cmd("t SEARCH OR NOT MODSEQ 1 LARGER 50000")[0],
        "* SEARCH"
    );
    // Example 19: ESEARCH carries MODSEQ too.
    assert_eq!(
        c.cmd(&format!("a SEARCH RETURN (ALL) MODSEQ {four}"))[0],
        format!("* ESEARCH (TAG \"a\") ALL 4:9 MODSEQ {five}")
    );
    // Example 17: STATUS HIGHESTMODSEQ.
    let r = c.cmd("A042 STATUS INBOX (UIDNEXT MESSAGES HIGHESTMODSEQ)");
    assert_eq!(
        r[0],
        format!("* STATUS \"INBOX\" (UIDNEXT 13 MESSAGES 12 HIGHESTMODSEQ {five})")
    );
    // §3.2.11: selecting another folder says the first one closed.
    let r = c.cmd("b SELECT Sent (CONDSTORE)");
    assert!(r[0].starts_with("* OK [CLOSED]"), "{r:?}");
}

#[test]
fn the_first_enabling_command_tells_highestmodseq_and_flag_news_carry_modseq() {
    let server = TestServer::start();
    let mut a = Imap::login(server.addr("imap"), "bob");
    fill(&mut a, 3);
    a.cmd("s SELECT INBOX");
    // RFC 7162 §3.1: a first enabling command with a folder selected gives HIGHESTMODSEQ.
    let r = a.cmd("c101 STORE 2 (UNCHANGEDSINCE 100) -FLAGS.SILENT (\\Deleted)");
    assert!(r[0].starts_with("* OK [HIGHESTMODSEQ "), "{r:?}");
    let mut b = Imap::login(server.addr("imap"), "bob");
    b.cmd("s SELECT INBOX");
    b.cmd("x STORE 3 +FLAGS (\\Flagged)");
    // §3.2.4: the change made in another session reaches a CONDSTORE-aware session with UID
    // and MODSEQ.
    let r = a.cmd("C180 NOOP");
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[0].starts_with("* 3 FETCH (UID 3 FLAGS (\\Flagged") && r[0].contains(") MODSEQ ("),
        "{r:?}"
    );
    // A plain session hears the plain form.
    a.cmd("x STORE 1 +FLAGS (\\Seen)");
    assert_eq!(untagged(&b.cmd("n NOOP")), ["* 1 FETCH (FLAGS (\\Seen))"]);
}

#[test]
fn qresync_resync_sees_exactly_the_other_sessions_changes() {
    let server = TestServer::start();
    let addr = server.addr("imap");
    let mut phone = Imap::login(addr, "bob");
    fill(&mut phone, 10);
    // A QRESYNC SELECT before ENABLE QRESYNC is refused (§3.2.5).
    assert!(phone.cmd("q SELECT INBOX (QRESYNC (1 1))")[0].starts_with("q BAD"));
    assert_eq!(
        phone.cmd("e ENABLE QRESYNC"),
        ["* ENABLED QRESYNC", "e OK ENABLE completed"]
    );
    let select = phone.cmd("s SELECT INBOX");
    let validity = number_after(&select, "UIDVALIDITY");
    let known = number_after(&select, "HIGHESTMODSEQ");
    phone.cmd("l LOGOUT");
    // The laptop changes flags and expunges while the phone is away.
    let mut laptop = Imap::login(addr, "bob");
    laptop.cmd("s SELECT INBOX");
    laptop.cmd("x STORE 2 +FLAGS (\\Flagged)");
    laptop.cmd("x STORE 3,5 +FLAGS (\\Deleted)");
    laptop.cmd("x EXPUNGE");
    // The phone comes back: exactly UID 3 and 5 vanished, exactly UID 2 changed.
    let mut phone = Imap::login(addr, "bob");
    phone.cmd("e ENABLE QRESYNC");
    let r = phone.cmd(&format!("s SELECT INBOX (QRESYNC ({validity} {known}))"));
    let news: Vec<&String> = r
        .iter()
        .filter(|l| l.starts_with("* VANISHED") || l.contains(" FETCH "))
        .collect();
    assert_eq!(news.len(), 2, "{r:?}");
    assert_eq!(news[0], "* VANISHED (EARLIER) 3,5");
    assert!(
        news[1].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("),
        "{r:?}"
    );
    let now = number_after(&r, "HIGHESTMODSEQ");
    assert!(now > known);
    // The same question as one UID FETCH (§3.2.6), and the known UIDs narrow it.
    let r = phone.cmd(&format!(
        "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known} VANISHED)"
    ));
    assert_eq!(r[0], "* VANISHED (EARLIER) 3,5");
    assert!(
        r[1].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("),
        "{r:?}"
    );
    assert_eq!(r.len(), 3, "{r:?}");
    let r = phone.cmd(&format!(
        "s SELECT INBOX (QRESYNC ({validity} {known} 4:10))"
    ));
    assert!(r.iter().any(|l| l == "* VANISHED (EARLIER) 5"), "{r:?}");
    assert!(!r.iter().any(|l| l.contains(" FETCH ")), "{r:?}");
    // Nothing changed since now: nothing told. A wrong UIDVALIDITY: nothing told either.
    for params in [format!("{validity} {now}"), format!("{} 1", validity + 1)] {
        let r = phone.cmd(&format!("s SELECT INBOX (QRESYNC ({params}))"));
        assert!(
            !r.iter()
                .any(|l| l.contains("VANISHED") || l.contains(" FETCH ")),
            "{params}: {r:?}"
        );
    }
    // Live: an expunge in the other session is a VANISHED here, never `n EXPUNGE`.
    laptop.cmd("x STORE 1 +FLAGS.SILENT (\\Deleted)");
    let r = laptop.cmd("x EXPUNGE");
    assert_eq!(r[0], "* 1 EXPUNGE");
    let r = phone.cmd("n NOOP");
    assert_eq!(r[0], "* VANISHED 1", "{r:?}");
    // The phone's own EXPUNGE: VANISHED and the new HIGHESTMODSEQ in the tagged OK (§3.2.7).
    phone.cmd("x UID STORE 4 +FLAGS.SILENT (\\Deleted)");
    let r = phone.cmd("x EXPUNGE");
    assert_eq!(r[0], "* VANISHED 4");
    assert!(r[1].starts_with("x OK [HIGHESTMODSEQ "), "{r:?}");
}

#[test]
fn modseqs_and_expunges_survive_a_restart() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, 4);
    c.cmd("e ENABLE QRESYNC");
    let select = c.cmd("s SELECT INBOX");
    let validity = number_after(&select, "UIDVALIDITY");
    let known = number_after(&select, "HIGHESTMODSEQ");
    // A new/ changed just now (SELECT moved the messages to cur/) is not trusted for the
    // listing kept in memory (`mailbox::uids`), and changes go to the uidlist's journal only
    // through that listing: new/ aged, as it is on a server that has run for a moment.
    let new = std::fs::File::open(server.dir.join("mail/bob/new")).unwrap();
    new.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(10))
        .unwrap();
    c.cmd("n NOOP");
    c.cmd("x STORE 1 +FLAGS (\\Seen)");
    c.cmd("x STORE 2 +FLAGS.SILENT (\\Deleted)");
    c.cmd("x EXPUNGE");
    let before = c.cmd("f FETCH 1:* (MODSEQ)");
    let highest = number_after(&c.cmd("t STATUS INBOX (HIGHESTMODSEQ)"), "HIGHESTMODSEQ");
    drop(c);
    let dir = server.kill();
    // The three changes are lines of the uidlist's journal, not yet in the list itself
    // (`mailbox::uidlist`): the restarted server must replay them.
    let journal = std::fs::read_to_string(dir.join("mail/bob/postlab-uidlist.log")).unwrap();
    assert_eq!(journal.lines().count(), 1 + 3, "{journal}");
    let server = TestServer::start_in(dir, &Setup::default());
    let mut c = Imap::login(server.addr("imap"), "bob");
    let status = c.cmd("t STATUS INBOX (HIGHESTMODSEQ)");
    assert_eq!(number_after(&status, "HIGHESTMODSEQ"), highest);
    c.cmd("e ENABLE QRESYNC");
    let r = c.cmd(&format!("s SELECT INBOX (QRESYNC ({validity} {known}))"));
    assert!(r.iter().any(|l| l == "* VANISHED (EARLIER) 2"), "{r:?}");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (")),
        "{r:?}"
    );
    assert_eq!(c.cmd("f FETCH 1:* (MODSEQ)"), before);
}

#[test]
fn a_flag_change_made_outside_postlab_gets_a_new_modseq() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, 2);
    c.cmd("e ENABLE CONDSTORE");
    let select = c.cmd("s SELECT INBOX");
    let known = number_after(&select, "HIGHESTMODSEQ");
    // Another program (a Maildir tool, a second server) renames a file: \Flagged on UID 2.
    let bob = server.dir.join("mail/bob");
    let list = std::fs::read_to_string(bob.join("postlab-uidlist")).unwrap();
    let line = list.lines().find(|l| l.starts_with("2 ")).unwrap();
    let unique = line.split(' ').nth(2).unwrap().split(":2,").next().unwrap();
    let file = std::fs::read_dir(bob.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().contains(unique))
        .unwrap();
    let flags = file
        .to_str()
        .unwrap()
        .split(":2,")
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::rename(&file, bob.join("cur").join(format!("{unique}:2,F{flags}"))).unwrap();
    let r = c.cmd("n NOOP");
    assert!(
        r[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged"),
        "{r:?}"
    );
    assert!(number_after(&r, "MODSEQ") > known);
    let r = c.cmd(&format!("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known})"));
    assert_eq!(r.len(), 2, "{r:?}");
}

/// The forgotten expunges: past `uids::MAX_EXPUNGED`, a client asking about a time before
/// them hears every UID of its set that is gone (RFC 7162 §3.2.6), and the sequence match
/// data narrows that down (§3.2.5.2).
#[test]
fn past_the_remembered_expunges_every_missing_uid_is_told() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, 6);
    c.cmd("e ENABLE QRESYNC");
    let select = c.cmd("s SELECT INBOX");
    let validity = number_after(&select, "UIDVALIDITY");
    c.cmd("x STORE 2 +FLAGS.SILENT (\\Deleted)");
    c.cmd("x EXPUNGE");
    // The list forgot its expunges (as if 10,000 more had pushed them out): the floor is
    // the newest MODSEQ, the list of expunged UIDs empty.
    let list = server.dir.join("mail/bob/postlab-uidlist");
    let text = std::fs::read_to_string(&list).unwrap();
    let mut header: Vec<String> = text
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .map(String::from)
        .collect();
    header[4] = header[3].clone();
    let body: String = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("- "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&list, format!("{}\n{body}", header.join(" "))).unwrap();
    c.cmd("u UNSELECT");
    let r = c.cmd(&format!("s SELECT INBOX (QRESYNC ({validity} 1))"));
    assert!(r.iter().any(|l| l == "* VANISHED (EARLIER) 2"), "{r:?}");
    // With match data saying sequence 4 is UID 5, nothing up to 5 is in question.
    let r = c.cmd(&format!(
        "s SELECT INBOX (QRESYNC ({validity} 1 1:6 (1,4 1,5)))"
    ));
    assert!(!r.iter().any(|l| l.contains("VANISHED")), "{r:?}");
}

#[test]
fn hostile_condstore_input_is_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, 3);
    c.cmd("e ENABLE QRESYNC");
    let select = c.cmd("s SELECT INBOX");
    let validity = number_after(&select, "UIDVALIDITY");
    let huge = "9".repeat(5000);
    for line in [
        "h FETCH 1 (FLAGS) (CHANGEDSINCE 18446744073709551616)".to_string(),
        "h FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)".to_string(),
        format!("h FETCH 1 (FLAGS) (CHANGEDSINCE {huge})"),
        "h FETCH 1 (FLAGS) (CHANGEDSINCE -1)".to_string(),
        "h FETCH 1 (FLAGS) (CHANGEDSINCE abc)".to_string(),
        "h FETCH 1 (FLAGS) (VANISHED)".to_string(),
        "h FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)".to_string(),
        "h UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE)".to_string(),
        "h STORE 1 (UNCHANGEDSINCE 18446744073709551616) +FLAGS (\\Seen)".to_string(),
        "h STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)".to_string(),
        "h SEARCH MODSEQ 18446744073709551617".to_string(),
        "h SEARCH MODSEQ \"/flags/\\\\seen\" sometimes 5".to_string(),
        "h SEARCH MODSEQ".to_string(),
        format!("h SELECT INBOX (QRESYNC ({validity} 18446744073709551616))"),
        format!("h SELECT INBOX (QRESYNC ({validity} 1 1:*))"),
        format!("h SELECT INBOX (QRESYNC ({validity} 1 1:3 (1,2 3)))"),
        "h SELECT INBOX (QRESYNC (0 1))".to_string(),
        "h SELECT INBOX (CONDSTORE".to_string(),
        "h STATUS INBOX (HIGHESTMODSEQ X)".to_string(),
    ] {
        let r = c.cmd(&line);
        assert!(r.last().unwrap().starts_with("h BAD"), "{line}: {r:?}");
        assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");
    }
    // CHANGEDSINCE 0 is "before everything": every message.
    assert_eq!(c.cmd("z FETCH 1:* (FLAGS) (CHANGEDSINCE 0)").len(), 4);
    // A known-UID set as large as a command line allows: answered, within the folder's UIDs.
    let many: Vec<String> = (1..6000u32).map(|n| (n * 2 + 1).to_string()).collect();
    let r = c.cmd(&format!(
        "k SELECT INBOX (QRESYNC ({validity} 1 {},1:4294967295))",
        many.join(",")
    ));
    assert!(r.last().unwrap().starts_with("k OK"), "{r:?}");
    assert!(!r.iter().any(|l| l.contains("VANISHED")), "{r:?}");
    let r = c.cmd("v UID FETCH 1:4294967295 (FLAGS) (CHANGEDSINCE 1 VANISHED)");
    assert!(r.last().unwrap().starts_with("v OK"), "{r:?}");
}

#[test]
fn imaplib_resynchronises_with_qresync() {
    let server = TestServer::start();
    let addr = server.addr("imap");
    let mut c = Imap::login(addr, "bob");
    fill(&mut c, 5);
    c.cmd("e ENABLE QRESYNC");
    let select = c.cmd("s SELECT INBOX");
    let validity = number_after(&select, "UIDVALIDITY");
    let known = number_after(&select, "HIGHESTMODSEQ");
    c.cmd("x STORE 4 +FLAGS (\\Answered)");
    c.cmd("x STORE 1 +FLAGS.SILENT (\\Deleted)");
    c.cmd("x EXPUNGE");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
print(m.enable("QRESYNC"), m.untagged_responses.pop("ENABLED", None))
typ, data = m._simple_command("SELECT", "INBOX", "(QRESYNC ({validity} {known}))")
print(typ, m.untagged_responses.get("VANISHED"), m.untagged_responses.get("FETCH"))
m.logout()
"#,
        ip = addr.ip(),
        port = addr.port()
    );
    let text = python(&script);
    assert!(text.contains("[b'QRESYNC']"), "{text}");
    assert!(text.contains("OK [b'(EARLIER) 1']"), "{text}");
    assert!(
        text.contains("b'3 (UID 4 FLAGS (\\\\Answered) MODSEQ ("),
        "{text}"
    );
}

/// Found by the MODSEQ model of `imap_concurrency`: a keyword another session has just created
/// was left out of a FETCH's FLAGS (this session's table did not know it yet), and appeared
/// later under the same MODSEQ. The FETCH now announces the new keyword first (RFC 3501
/// §7.2.6) and shows it.
#[test]
fn a_keyword_made_by_another_session_is_in_the_first_fetch_that_shows_the_message() {
    let server = TestServer::start();
    let mut a = Imap::login(server.addr("imap"), "bob");
    fill(&mut a, 1);
    a.cmd("e ENABLE CONDSTORE");
    a.cmd("s SELECT INBOX");
    let mut b = Imap::login(server.addr("imap"), "bob");
    b.cmd("s SELECT INBOX");
    b.cmd("x STORE 1 +FLAGS ($Fresh)");
    let r = a.cmd("f FETCH 1 (FLAGS MODSEQ)");
    let flags = r
        .iter()
        .position(|l| l.starts_with("* FLAGS (") && l.contains("$Fresh"));
    let fetch = r
        .iter()
        .position(|l| l.starts_with("* 1 FETCH (FLAGS (") && l.contains("$Fresh) MODSEQ ("));
    assert!(
        matches!((flags, fetch), (Some(f), Some(g)) if f < g),
        "{r:?}"
    );
}

/// RFC 4731 §3.2: with MIN or MAX and neither ALL nor COUNT, the MODSEQ of an ESEARCH is that
/// of the message(s) returned, not the highest of everything found (imaptest's
/// esearch-condstore script).
#[test]
fn esearch_min_and_max_tell_the_modseq_of_the_messages_they_return() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, 4);
    c.cmd("e ENABLE CONDSTORE");
    c.cmd("s SELECT INBOX");
    // Stored in the order 1, 3, 2, 4: each gets a higher MODSEQ than the one before.
    let mut modseq = [0u64; 5];
    for n in [1, 3, 2, 4] {
        let r = c.cmd(&format!("x STORE {n} +FLAGS.SILENT (\\Seen)"));
        modseq[n] = number_after(&r, "MODSEQ");
    }
    let search = |c: &mut Imap, ret: &str, set: &str| {
        let r = c.cmd(&format!(
            "t SEARCH RETURN ({ret}) {set} MODSEQ \"/flags/\\\\seen\" all 1"
        ));
        r[0].clone()
    };
    let cases = [
        ("MIN", "1:3", format!("MIN 1 MODSEQ {}", modseq[1])),
        ("MAX", "1:3", format!("MAX 3 MODSEQ {}", modseq[3])),
        (
            "MIN MAX",
            "2:3",
            format!("MIN 2 MAX 3 MODSEQ {}", modseq[2]),
        ),
        ("", "1:3", format!("ALL 1:3 MODSEQ {}", modseq[2])),
        (
            "MIN COUNT",
            "1:3",
            format!("MIN 1 COUNT 3 MODSEQ {}", modseq[2]),
        ),
    ];
    for (ret, set, want) in cases {
        assert_eq!(
            search(&mut c, ret, set),
            format!("* ESEARCH (TAG \"t\") {want}"),
            "RETURN ({ret})"
        );
    }
}
