//! UTF8=ACCEPT (RFC 6855) over real sockets: a client that enables it names folders in UTF-8,
//! one that does not sees the same folders in modified UTF-7 (RFC 3501 §5.1.3), and Python's
//! imaplib, which switches to UTF-8 after `enable("UTF8=ACCEPT")`, works with both.

use crate::imap::Imap;
use crate::support::{python, TestServer};

#[test]
fn enabled_client_names_folders_in_utf8_and_others_see_modified_utf7() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert!(c.cmd("c CAPABILITY")[0].contains(" UTF8=ACCEPT"));
    // Before ENABLE, an 8-bit name is refused: only modified UTF-7 reaches the disk.
    assert!(c
        .cmd("x CREATE \"Données\"")
        .last()
        .unwrap()
        .starts_with("x NO"));
    assert_eq!(
        c.cmd("e ENABLE UTF8=ACCEPT"),
        ["* ENABLED UTF8=ACCEPT", "e OK ENABLE completed"]
    );
    assert_eq!(
        c.cmd("c1 CREATE \"Données\"").last().unwrap(),
        "c1 OK CREATE completed"
    );
    assert_eq!(
        c.cmd("c2 CREATE \"Tom & Jerry\"").last().unwrap(),
        "c2 OK CREATE completed"
    );
    // The disk keeps the modified UTF-7 spelling (Maildir++: a leading dot).
    let root = server.dir.join("mail").join("bob");
    assert!(root.join(".Donn&AOk-es").is_dir());
    assert!(root.join(".Tom &- Jerry").is_dir());
    assert_eq!(
        c.cmd("l LIST \"\" \"Donn*\""),
        [
            "* LIST (\\HasNoChildren) \".\" \"Données\"",
            "l OK LIST completed"
        ]
    );
    let r = c.cmd("s STATUS \"Données\" (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"Données\" (MESSAGES 0)");
    assert_eq!(
        c.cmd("a APPEND \"Données\" {5+}\r\nHi\r\n").last().unwrap()[..13],
        *"a OK [APPENDU"
    );
    assert!(c
        .cmd("sel SELECT \"Données\"")
        .contains(&"* 1 EXISTS".to_string()));
    assert_eq!(
        c.cmd("cp COPY 1 \"Tom & Jerry\"").last().unwrap()[..12],
        *"cp OK [COPYU"
    );

    // A second client that never enabled it sees the stored names.
    let mut legacy = Imap::login(server.addr("imap"), "bob");
    let listed = legacy.cmd("l LIST \"\" \"*\"").join("\n");
    assert!(listed.contains("\"Donn&AOk-es\""), "{listed}");
    assert!(listed.contains("\"Tom &- Jerry\""), "{listed}");
    assert!(!listed.contains("Données"), "{listed}");
    let r = legacy.cmd("s STATUS \"Tom &- Jerry\" (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"Tom &- Jerry\" (MESSAGES 1)");
}

#[test]
fn utf8_names_that_rfc_6855_forbids_are_refused_and_enable_waits_for_authenticated_state() {
    let server = TestServer::start();
    let mut c = Imap::connect(server.addr("imap"));
    // ENABLE before login is not allowed at all (RFC 5161 §3.1).
    assert!(c
        .cmd("e ENABLE UTF8=ACCEPT")
        .last()
        .unwrap()
        .starts_with("e BAD"));
    c.cmd("l LOGIN bob bob-password");
    c.cmd("e ENABLE UTF8=ACCEPT");
    // A line separator (U+2028) or a C1 control in a name: BAD, and the session goes on.
    for line in ["h CREATE \"a\u{2028}b\"", "h CREATE \"c1\u{85}\""] {
        let r = c.cmd(line);
        assert!(r.last().unwrap().starts_with("h BAD"), "{line}: {r:?}");
    }
    // Octets that are not UTF-8 inside a quoted string (RFC 6855 §3: BAD).
    c.send(b"h CREATE \"bad\xff\xfename\"\r\n");
    assert!(c.until("h").last().unwrap().starts_with("h BAD"));
    assert_eq!(c.cmd("n NOOP").last().unwrap(), "n OK NOOP completed");

    // Once a folder is selected, ENABLE UTF8=ACCEPT is not in effect (authenticated state only).
    let mut late = Imap::login(server.addr("imap"), "bob");
    late.cmd("s SELECT INBOX");
    assert_eq!(late.cmd("e ENABLE UTF8=ACCEPT")[0], "* ENABLED");
}

#[test]
fn imaplib_enables_utf8_and_uses_a_folder_named_in_utf8() {
    let server = TestServer::start();
    let imap = server.addr("imap");
    let script = format!(
        r#"
import imaplib
m = imaplib.IMAP4("{ip}", {port})
m.login("bob", "bob-password")
typ, data = m.enable("UTF8=ACCEPT")
assert typ == "OK", (typ, data)
assert m.untagged_responses.get("ENABLED") == [b"UTF8=ACCEPT"], m.untagged_responses
typ, data = m.create('"日本語"')
assert typ == "OK", (typ, data)
typ, data = m.append('"日本語"', None, None, b"Subject: x\r\n\r\nbody\r\n")
assert typ == "OK", (typ, data)
typ, data = m.list('""', '"日*"')
assert data == ['(\\HasNoChildren) "." "日本語"'.encode()], data
typ, data = m.select('"日本語"')
assert typ == "OK" and data == [b"1"], (typ, data)
m.logout()
"#,
        ip = imap.ip(),
        port = imap.port()
    );
    python(&script);
    assert!(server.dir.join("mail/bob/.&ZeVnLIqe-").join("cur").is_dir());
}
