//! IMAP extensions of issue 17 over real sockets: ESEARCH (RFC 4731), LIST-EXTENDED (RFC 5258,
//! 6154), LIST-STATUS (RFC 5819), QUOTA (RFC 9208) and MULTIAPPEND (RFC 3502), with the RFCs' own
//! examples replayed, Python's imaplib reading the answer, and hostile rows for each new
//! grammar (answered BAD, the server going on).

use crate::imap::Imap;
use crate::support::{python, TestServer};

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
    assert_eq!(python(&script).trim(), "ok");
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
            // SAVE is known since SEARCHRES (tests/imap_rev2.rs); PARTIAL (RFC 9394) is not.
            "h SEARCH RETURN (PARTIAL 1:10) ALL",
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

/// Sends `command` and compares every line of the answer with `want` and the tagged OK.
fn expect(c: &mut Imap, command: &str, want: &[&str]) {
    let tag = command.split(' ').next().unwrap();
    let mut all: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    all.push(format!("{tag} OK LIST completed"));
    assert_eq!(c.cmd(command), all, "{command}");
}

/// RFC 5258 §5's examples on their hierarchy (postlab's delimiter is "."), beside the four
/// special-use folders every postlab account has; attributes in postlab's order.
#[test]
fn list_extended_answers_the_rfc_5258_examples() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let caps = c.cmd("c CAPABILITY")[0].clone();
    assert!(caps.contains(" LIST-EXTENDED LIST-STATUS"), "{caps}");
    for name in [
        "Fruit",
        "Fruit.Apple",
        "Fruit.Banana",
        "Tofu",
        "Vegetable",
        "Vegetable.Broccoli",
        "Vegetable.Corn",
    ] {
        assert_eq!(
            c.cmd(&format!("k CREATE {name}"))[0],
            "k OK CREATE completed"
        );
    }
    for name in [
        "Fruit.Banana",
        "Fruit.Peach",
        "Vegetable",
        "Vegetable.Broccoli",
    ] {
        c.cmd(&format!("k SUBSCRIBE {name}"));
    }
    let subscribed = [
        "* LIST (\\Subscribed) \".\" \"INBOX\"",
        "* LIST (\\Drafts \\Subscribed) \".\" \"Drafts\"",
        "* LIST (\\Subscribed) \".\" \"Fruit.Banana\"",
        "* LIST (\\NonExistent \\Subscribed) \".\" \"Fruit.Peach\"",
        "* LIST (\\Junk \\Subscribed) \".\" \"Junk\"",
        "* LIST (\\Sent \\Subscribed) \".\" \"Sent\"",
        "* LIST (\\Trash \\Subscribed) \".\" \"Trash\"",
        "* LIST (\\Subscribed) \".\" \"Vegetable\"",
        "* LIST (\\Subscribed) \".\" \"Vegetable.Broccoli\"",
    ];
    expect(&mut c, "A02 LIST (SUBSCRIBED) \"\" \"*\"", &subscribed);
    // No remote folders here: REMOTE changes nothing (A05).
    expect(
        &mut c,
        "A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"",
        &subscribed,
    );
    let children = [
        "* LIST (\\HasNoChildren) \".\" \"INBOX\"",
        "* LIST (\\HasNoChildren \\Drafts) \".\" \"Drafts\"",
        "* LIST (\\HasChildren) \".\" \"Fruit\"",
        "* LIST (\\HasNoChildren \\Junk) \".\" \"Junk\"",
        "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"",
        "* LIST (\\HasNoChildren) \".\" \"Tofu\"",
        "* LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"",
        "* LIST (\\HasChildren) \".\" \"Vegetable\"",
    ];
    expect(
        &mut c,
        "A03 LIST () \"\" \"%\" RETURN (CHILDREN)",
        &children,
    );
    expect(
        &mut c,
        "A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)",
        &children,
    );
    expect(
        &mut c,
        "A06 LIST (REMOTE) \"\" \"*\" RETURN (SUBSCRIBED)",
        &[
            "* LIST (\\Subscribed) \".\" \"INBOX\"",
            "* LIST (\\Drafts \\Subscribed) \".\" \"Drafts\"",
            "* LIST () \".\" \"Fruit\"",
            "* LIST () \".\" \"Fruit.Apple\"",
            "* LIST (\\Subscribed) \".\" \"Fruit.Banana\"",
            "* LIST (\\Junk \\Subscribed) \".\" \"Junk\"",
            "* LIST (\\Sent \\Subscribed) \".\" \"Sent\"",
            "* LIST () \".\" \"Tofu\"",
            "* LIST (\\Trash \\Subscribed) \".\" \"Trash\"",
            "* LIST (\\Subscribed) \".\" \"Vegetable\"",
            "* LIST (\\Subscribed) \".\" \"Vegetable.Broccoli\"",
            "* LIST () \".\" \"Vegetable.Corn\"",
        ],
    );
    // Several patterns (BBB), each name once.
    expect(
        &mut c,
        "BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Fruit.%\" \"Fruit.*\")",
        &[
            "* LIST () \".\" \"INBOX\"",
            "* LIST (\\Drafts) \".\" \"Drafts\"",
            "* LIST () \".\" \"Fruit.Apple\"",
            "* LIST () \".\" \"Fruit.Banana\"",
        ],
    );
    expect(
        &mut c,
        "b2 LIST \"\" (\"INBOX\" \"Sent\")",
        &[
            "* LIST () \".\" \"INBOX\"",
            "* LIST (\\Sent) \".\" \"Sent\"",
        ],
    );
    // A plain LIST is answered as before.
    assert_eq!(
        c.cmd("p LIST \"\" Fruit")[0],
        "* LIST (\\HasChildren) \".\" \"Fruit\""
    );
}

/// RFC 5258 §5 examples 9 and 10: RECURSIVEMATCH and CHILDINFO.
#[test]
fn list_extended_recursivematch_gives_childinfo() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    for name in [
        "foo2",
        "foo2.bar1",
        "foo2.bar2",
        "baz2",
        "baz2.bar2",
        "baz2.bar22",
        "baz2.bar222",
        "eps2",
        "eps2.mamba",
        "qux2.bar2",
        "foo",
    ] {
        c.cmd(&format!("k CREATE {name}"));
    }
    for name in [
        "foo2.bar1",
        "foo2.bar2",
        "baz2.bar2",
        "baz2.bar22",
        "baz2.bar222",
        "eps2",
        "eps2.mamba",
        "qux2.bar2",
        "foo.bar",
    ] {
        c.cmd(&format!("k SUBSCRIBE {name}"));
    }
    // D03: baz2 and qux2 are left out, since every subscribed child of theirs matches the
    // pattern (RFC 5258 §3.5's SHOULD NOT, the RFC's own answer).
    expect(
        &mut c,
        "D03 LIST (RECURSIVEMATCH SUBSCRIBED) \"\" \"*2\"",
        &[
            "* LIST (\\Subscribed) \".\" \"baz2.bar2\"",
            "* LIST (\\Subscribed) \".\" \"baz2.bar22\"",
            "* LIST (\\Subscribed) \".\" \"baz2.bar222\"",
            "* LIST (\\Subscribed) \".\" \"eps2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST () \".\" \"foo2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed) \".\" \"foo2.bar2\"",
            "* LIST (\\Subscribed) \".\" \"qux2.bar2\"",
        ],
    );
    expect(
        &mut c,
        "C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%2\"",
        &[
            "* LIST () \".\" \"baz2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed) \".\" \"eps2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST () \".\" \"foo2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\NonExistent) \".\" \"qux2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
        ],
    );
    expect(
        &mut c,
        "a1 LIST \"\" (\"foo\" \"foo.*\")",
        &["* LIST () \".\" \"foo\""],
    );
    expect(
        &mut c,
        "a2 LIST (SUBSCRIBED) \"\" \"foo.*\"",
        &["* LIST (\\NonExistent \\Subscribed) \".\" \"foo.bar\""],
    );
    expect(
        &mut c,
        "a3 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" foo RETURN (CHILDREN)",
        &["* LIST (\\HasNoChildren) \".\" \"foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"],
    );
}

/// RFC 6154 §5.1 (SPECIAL-USE) and RFC 5819 §2 (LIST-STATUS) examples, and imaplib.
#[test]
fn list_special_use_and_status() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    fill(&mut c, "INBOX", 3);
    c.cmd("s SELECT INBOX");
    c.cmd("x STORE 1 +FLAGS.SILENT (\\Seen)");
    c.cmd("u UNSELECT");
    c.cmd("k CREATE bar.baz");
    expect(
        &mut c,
        "t2 LIST \"\" \"%\" RETURN (SPECIAL-USE)",
        &[
            "* LIST () \".\" \"INBOX\"",
            "* LIST (\\Drafts) \".\" \"Drafts\"",
            "* LIST (\\Junk) \".\" \"Junk\"",
            "* LIST (\\Sent) \".\" \"Sent\"",
            "* LIST (\\Trash) \".\" \"Trash\"",
            "* LIST (\\NonExistent) \".\" \"bar\"",
        ],
    );
    expect(
        &mut c,
        "t3 LIST (SPECIAL-USE) \"\" \"*\"",
        &[
            "* LIST (\\Drafts) \".\" \"Drafts\"",
            "* LIST (\\Junk) \".\" \"Junk\"",
            "* LIST (\\Sent) \".\" \"Sent\"",
            "* LIST (\\Trash) \".\" \"Trash\"",
        ],
    );
    // RFC 5819 A01: no STATUS for "bar", which is not a folder ("b" sorts after "T").
    expect(
        &mut c,
        "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))",
        &[
            "* LIST () \".\" \"INBOX\"",
            "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 2)",
            "* LIST (\\Drafts) \".\" \"Drafts\"",
            "* STATUS \"Drafts\" (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Junk) \".\" \"Junk\"",
            "* STATUS \"Junk\" (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Sent) \".\" \"Sent\"",
            "* STATUS \"Sent\" (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Trash) \".\" \"Trash\"",
            "* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\NonExistent) \".\" \"bar\"",
        ],
    );
    // RFC 5819 A02: "bar" is listed for its subscribed child, without STATUS.
    c.cmd("k SUBSCRIBE bar.baz");
    expect(
        &mut c,
        "A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX bar) RETURN (STATUS (MESSAGES))",
        &[
            "* LIST (\\Subscribed) \".\" \"INBOX\"",
            "* STATUS \"INBOX\" (MESSAGES 3)",
            "* LIST (\\NonExistent) \".\" \"bar\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
        ],
    );

    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', "*", "RETURN", "(STATUS (MESSAGES))")
assert typ == "OK", (typ, data)
typ, lists = m._untagged_response(typ, data, "LIST")
assert lists == [b'(\\Drafts) "." "Drafts"', b'(\\Junk) "." "Junk"', b'(\\Sent) "." "Sent"', b'(\\Trash) "." "Trash"'], lists
typ, status = m._untagged_response(typ, data, "STATUS")
assert status[0] == b'"Drafts" (MESSAGES 0)', status
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port(),
    );
    assert_eq!(python(&script).trim(), "ok");
}

#[test]
fn hostile_list_extended_is_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let many = format!("h LIST \"\" ({})", ["\"a*\""; 5000].join(" "));
    let seventeen = format!("h LIST \"\" ({})", ["x"; 17].join(" "));
    let deep = format!(
        "h LIST {}SUBSCRIBED{} \"\" *",
        "(".repeat(500),
        ")".repeat(500)
    );
    let deep_return = format!(
        "h LIST \"\" * RETURN {}CHILDREN{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    refused_and_still_serving(
        &mut c,
        &[
            &many,
            &seventeen,
            &deep,
            &deep_return,
            "h LIST (RECURSIVEMATCH) \"\" *",
            "h LIST (SUBSCRIBED) \"\" ()",
            "h LIST \"\" * RETURN (STATUS (MESSAGES 99999999999999999999))",
            "h LIST \"\" * RETURN (STATUS ())",
            "h LIST (SUBSCRIBED \"\" *",
            "h LIST \"\" * RETURN (BOGUS)",
        ],
    );
    // Nine wildcards in one of several patterns: the pattern limit still holds.
    let r = c.cmd("w LIST \"\" (INBOX \"*%*%*%*%*\")");
    assert!(r[0].starts_with("w NO [LIMIT]"), "{r:?}");
}

/// RFC 9208: the quota `postlab user quota` sets, as GETQUOTAROOT and GETQUOTA report it, in
/// KiB; SETQUOTA refused; APPEND over it NO [OVERQUOTA] (§5's A003); imaplib reads it.
#[test]
fn quota_reports_the_enforced_quota() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let caps = c.cmd("c CAPABILITY")[0].clone();
    assert!(caps.contains(" QUOTA QUOTA=RES-STORAGE"), "{caps}");
    assert!(!caps.contains("QUOTASET"), "{caps}");
    // No quota: no quota root (§4.2.2).
    assert_eq!(
        c.cmd("G0 GETQUOTAROOT INBOX"),
        ["* QUOTAROOT \"INBOX\"", "G0 OK GETQUOTAROOT completed"]
    );
    assert!(c.cmd("G1 GETQUOTA \"\"")[0].starts_with("G1 NO [NONEXISTENT]"));

    let (code, _, err) = server.postlab(&["user", "quota", "bob", "64K"]);
    assert_eq!(code, 0, "{err}");
    // A session reads the accounts when it starts, as the APPEND check does.
    let mut c = Imap::login(server.addr("imap"), "bob");
    let message = format!("Subject: q\r\n\r\n{}\r\n", "x".repeat(3000));
    let r = c.cmd(&format!(
        "a APPEND Sent {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(r[0].starts_with("a OK [APPENDUID"), "{r:?}");
    // 3,017 octets are 3 KiB rounded up; 64K is 64 KiB.
    assert_eq!(
        c.cmd("G0002 GETQUOTAROOT INBOX"),
        [
            "* QUOTAROOT \"INBOX\" \"\"",
            "* QUOTA \"\" (STORAGE 3 64)",
            "G0002 OK GETQUOTAROOT completed"
        ]
    );
    assert_eq!(
        c.cmd("G0003 GETQUOTAROOT Sent")[..2],
        ["* QUOTAROOT \"Sent\" \"\"", "* QUOTA \"\" (STORAGE 3 64)"]
    );
    assert_eq!(
        c.cmd("G0001 GETQUOTA \"\""),
        ["* QUOTA \"\" (STORAGE 3 64)", "G0001 OK GETQUOTA completed"]
    );
    assert!(c.cmd("G4 GETQUOTA \"#user/bob\"")[0].starts_with("G4 NO [NONEXISTENT]"));
    assert!(c.cmd("G5 GETQUOTAROOT Nope")[0].starts_with("G5 NO [NONEXISTENT]"));
    assert!(c.cmd("S0001 SETQUOTA \"\" (STORAGE 510)")[0].starts_with("S0001 NO [NOPERM]"));
    let big = format!("Subject: big\r\n\r\n{}\r\n", "y".repeat(70_000));
    let r = c.cmd(&format!(
        "A003 APPEND Sent (\\Seen) {{{}+}}\r\n{big}",
        big.len()
    ));
    assert!(r[0].starts_with("A003 NO [OVERQUOTA]"), "{r:?}");

    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
typ, data = m.getquotaroot("INBOX")
assert typ == "OK", (typ, data)
assert data == [[b'"INBOX" ""'], [b'"" (STORAGE 3 64)']], data
typ, data = m.getquota('""')
assert data == [b'"" (STORAGE 3 64)'], data
m.logout()
print("ok")
"#,
        ip = imap.ip(),
        port = imap.port(),
    );
    assert_eq!(python(&script).trim(), "ok");
}

#[test]
fn hostile_quota_commands_are_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let many = format!("h SETQUOTA \"\" ({})", ["STORAGE 1"; 2000].join(" "));
    let deep = format!(
        "h SETQUOTA \"\" {}STORAGE 1{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    refused_and_still_serving(
        &mut c,
        &[
            "h SETQUOTA \"\" (STORAGE 99999999999999999999999999)",
            "h SETQUOTA \"\" (STORAGE -1)",
            "h GETQUOTAROOT",
            "h GETQUOTA",
            "h GETQUOTA \"\" extra",
            &many,
            &deep,
        ],
    );
    // The session goes on answering QUOTA.
    assert_eq!(
        c.cmd("q GETQUOTAROOT INBOX"),
        ["* QUOTAROOT \"INBOX\"", "q OK GETQUOTAROOT completed"]
    );
}

const JOE: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example.COM>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.example.net\r\nMessage-Id: <B27397-0100000@Blurdybloop.example.COM>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
const FRED: &str = "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\nFrom: Joe Mooch <mooch@OWaTaGu.example.net>\r\nSubject: Re: afternoon meeting\r\nTo: foobar@blurdybloop.example.com\r\nMessage-Id: <a0434793874930@OWaTaGu.example.net>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n3:30 is fine with me.\r\n";

/// RFC 3502 §6.3.11's example with synchronizing literals: two messages, one APPENDUID set;
/// then failures that store nothing at all.
#[test]
fn multiappend_stores_all_or_nothing() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(c.cmd("c CAPABILITY")[0].contains(" MULTIAPPEND"));
    c.cmd("k CREATE saved-messages");
    c.send(format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n", JOE.len()).as_bytes());
    assert!(c.line().starts_with("+ "));
    c.send(JOE.as_bytes());
    c.send(
        format!(
            " (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {{{}}}\r\n",
            FRED.len()
        )
        .as_bytes(),
    );
    assert!(c.line().starts_with("+ "));
    c.send(FRED.as_bytes());
    c.send(b"\r\n");
    let done = c.until("A003");
    let validity = c.cmd("s STATUS saved-messages (UIDVALIDITY)")[0]
        .trim_start_matches("* STATUS \"saved-messages\" (UIDVALIDITY ")
        .trim_end_matches(')')
        .to_string();
    assert_eq!(
        done,
        [format!(
            "A003 OK [APPENDUID {validity} 1:2] APPEND completed"
        )]
    );
    c.cmd("e EXAMINE saved-messages");
    let r = c.cmd("f FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        r[0].contains("FLAGS (\\Seen") && r[0].contains("Subject: afternoon meeting"),
        "{r:?}"
    );
    assert!(
        // The same moment, as postlab writes it: in UTC.
        r[1].contains("INTERNALDATE \"08-Feb-1994 06:43:04 +0000\"")
            && r[1].contains("Subject: Re: afternoon meeting"),
        "{r:?}"
    );
    c.cmd("u UNSELECT");

    // A004: no such folder.
    let r = c.cmd("A004 APPEND bogusname (\\Flagged) {1+}\r\nx {1+}\r\ny");
    assert!(r[0].starts_with("A004 NO [TRYCREATE]"), "{r:?}");
    // A005: together over the quota, though each one alone would fit: none is stored.
    let (code, _, err) = server.postlab(&["user", "quota", "bob", "8K"]);
    assert_eq!(code, 0, "{err}");
    let mut c = Imap::login(server.addr("imap"), "bob");
    let part = format!("Subject: part\r\n\r\n{}\r\n", "z".repeat(5000));
    let r = c.cmd(&format!(
        "A005 APPEND saved-messages {{{n}+}}\r\n{part} {{{n}+}}\r\n{part}",
        n = part.len()
    ));
    assert!(r[0].starts_with("A005 NO [OVERQUOTA]"), "{r:?}");
    // A bad second message: the command is not understood, the first is not stored either.
    let r = c.cmd("A006 APPEND saved-messages {1+}\r\nx \"31-Foo-2026 00:00:00 +0000\" {1+}\r\ny");
    assert!(r[0].starts_with("A006 BAD"), "{r:?}");
    assert_eq!(
        c.cmd("s STATUS saved-messages (MESSAGES)")[0],
        "* STATUS \"saved-messages\" (MESSAGES 2)"
    );
    // Within the quota, several with LITERAL+ at once, keywords kept.
    let r = c.cmd("A007 APPEND saved-messages ($Work) {1+}\r\nx {1+}\r\ny (\\Flagged) {1+}\r\nz");
    assert_eq!(
        r,
        [format!(
            "A007 OK [APPENDUID {validity} 3:5] APPEND completed"
        )]
    );
    c.cmd("e EXAMINE saved-messages");
    assert_eq!(c.cmd("q SEARCH KEYWORD $Work")[0], "* SEARCH 3",);
}

#[test]
fn hostile_multiappend_is_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let many = format!("h APPEND Sent{}", " {1+}\r\nx".repeat(257));
    let deep = format!(
        "h APPEND Sent {{1+}}\r\nx {}\\Seen{} {{1+}}\r\ny",
        "(".repeat(500),
        ")".repeat(500)
    );
    refused_and_still_serving(
        &mut c,
        &[
            &many,
            &deep,
            "h APPEND Sent {1+}\r\nx \"99-Feb-99999999999 22:43:04 -0800\" {1+}\r\ny",
            "h APPEND Sent {1+}\r\nx ",
        ],
    );
    assert_eq!(
        c.cmd("s STATUS Sent (MESSAGES)")[0],
        "* STATUS \"Sent\" (MESSAGES 0)"
    );
    // And a good MULTIAPPEND after them is stored whole.
    let r = c.cmd("m APPEND Sent {1+}\r\nx {1+}\r\ny");
    assert!(
        r[0].starts_with("m OK [APPENDUID ") && r[0].ends_with(" 1:2] APPEND completed"),
        "{r:?}"
    );
}

#[test]
fn status_size_and_deleted_count_the_folder() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(c.cmd("c CAPABILITY")[0].contains(" STATUS=SIZE"));
    fill(&mut c, "INBOX", 3);
    c.cmd("s SELECT INBOX");
    c.cmd("x STORE 2 +FLAGS.SILENT (\\Deleted)");
    // RFC 8438 §2: SIZE is the sum of the messages' RFC822.SIZE.
    let sizes: u64 = (1..=3)
        .map(|i| format!("Subject: message {i}\r\n\r\nbody {i}\r\n").len() as u64)
        .sum();
    assert_eq!(
        c.cmd("t STATUS INBOX (MESSAGES SIZE DELETED)")[0],
        format!("* STATUS \"INBOX\" (MESSAGES 3 SIZE {sizes} DELETED 1)")
    );
    refused_and_still_serving(&mut c, &["h STATUS INBOX (SIZES)"]);
}
