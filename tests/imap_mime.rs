//! IMAP FETCH over a socket: ENVELOPE, BODYSTRUCTURE and BODY[section] of
//! a multipart message with a nested multipart, an attached message and encoded headers; the
//! FETCH macros and RFC822 items; and the small commands (ID, CHECK, UNSUBSCRIBE, LIST limits).

use crate::imap::Imap;
use crate::support::TestServer;

const MESSAGE: &str = "From: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>\r\n\
To: bob@localhost\r\n\
Subject: =?utf-8?b?w6l0w6k=?= report\r\n\
Date: Thu, 26 Nov 2026 15:20:55 +0000\r\n\
Message-ID: <r1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
plain text\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>html</p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: attached\r\n\
\r\n\
attached body\r\n\
--outer--\r\n";

#[test]
fn sections_envelope_and_bodystructure_of_a_nested_message() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd(&format!(
        "a APPEND INBOX {{{}+}}\r\n{MESSAGE}",
        MESSAGE.len()
    ));
    assert!(r[0].starts_with("a OK [APPENDUID"), "{r:?}");
    c.cmd("s SELECT INBOX");
    let r = c.cmd("f1 FETCH 1 ENVELOPE");
    assert_eq!(
        r[0],
        "* 1 FETCH (ENVELOPE (\"Thu, 26 Nov 2026 15:20:55 +0000\" \"=?utf-8?b?w6l0w6k=?= report\" \
((\"=?utf-8?b?UmVuw6ll?=\" NIL \"renee\" \"example.org\")) ((\"=?utf-8?b?UmVuw6ll?=\" NIL \"renee\" \"example.org\")) \
((\"=?utf-8?b?UmVuw6ll?=\" NIL \"renee\" \"example.org\")) ((NIL NIL \"bob\" \"localhost\")) NIL NIL NIL \
\"<r1@example.org>\"))"
    );
    let r = c.cmd("f2 FETCH 1 BODYSTRUCTURE");
    assert!(
        r[0].starts_with("* 1 FETCH (BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 10 0"),
        "{r:?}"
    );
    assert!(r[0].contains("\"ALTERNATIVE\""), "{r:?}");
    assert!(
        r[0].contains("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "),
        "{r:?}"
    );
    assert!(r[0].contains("\"MIXED\""), "{r:?}");
    for (section, want) in [
        ("1.1", "plain text"),
        ("1.2", "<p>html</p>"),
        ("1.2.MIME", "Content-Type: text/html; charset=utf-8\r\n\r\n"),
        ("2.HEADER", "Subject: attached\r\n\r\n"),
        ("2.TEXT", "attached body"),
        ("2.1", "attached body"),
        (
            "HEADER.FIELDS (MESSAGE-ID)",
            "Message-ID: <r1@example.org>\r\n\r\n",
        ),
    ] {
        let r = c.cmd(&format!("g FETCH 1 BODY.PEEK[{section}]"));
        assert!(r[0].ends_with(&format!("\r\n{want})")), "{section}: {r:?}");
    }
    let r = c.cmd("n FETCH 1 BODY.PEEK[9]");
    assert_eq!(r[0], "* 1 FETCH (BODY[9] NIL)");
}

#[test]
fn fetch_macros_and_rfc822_items() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    let message = "Subject: small\r\n\r\nbody\r\n";
    c.cmd(&format!(
        "a APPEND INBOX {{{}+}}\r\n{message}",
        message.len()
    ));
    c.cmd("s EXAMINE INBOX");
    let r = c.cmd("f1 FETCH 1 FAST");
    assert!(
        r[0].starts_with("* 1 FETCH (FLAGS (\\Recent) INTERNALDATE \"")
            && r[0].ends_with(" RFC822.SIZE 24)"),
        "{r:?}"
    );
    let r = c.cmd("f2 FETCH 1 (RFC822.HEADER RFC822.TEXT)");
    assert_eq!(
        r[0],
        "* 1 FETCH (RFC822.HEADER {18}\r\nSubject: small\r\n\r\n RFC822.TEXT {6}\r\nbody\r\n)"
    );
    let r = c.cmd("f3 FETCH 1 BODY");
    assert_eq!(
        r[0],
        "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1))"
    );
    let r = c.cmd("f4 FETCH 1 FULL");
    assert!(
        r[0].contains(" ENVELOPE (NIL \"small\" NIL NIL NIL NIL NIL NIL NIL NIL) BODY (\"TEXT\""),
        "{r:?}"
    );
    // EXAMINE is read-only: RFC822 does not set \Seen, and the appended message is still
    // \Recent (no read-write session has claimed it).
    let r = c.cmd("f5 FETCH 1 (RFC822 FLAGS)");
    assert!(r[0].ends_with("body\r\n FLAGS (\\Recent))"), "{r:?}");
}

#[test]
fn small_commands_any_state_and_folder_listing() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    assert_eq!(
        c.cmd("i ID (\"name\" \"test\")"),
        ["* ID (\"name\" \"postlab\")", "i OK ID completed"]
    );
    assert_eq!(
        c.cmd("l LIST \"\" \"\""),
        ["* LIST (\\Noselect) \".\" \"\"", "l OK LIST completed"]
    );
    assert_eq!(
        c.cmd("w LIST \"\" \"*%*%*%*%*\"")[0],
        "w NO [LIMIT] At most 8 wildcards in a pattern"
    );
    // A level that exists only as a parent is listed as \Noselect (RFC 3501 §6.3.8).
    c.cmd("c CREATE Projects.2026.Q4");
    let r = c.cmd("p LIST \"\" Projects%");
    assert_eq!(r[0], "* LIST (\\Noselect \\HasChildren) \".\" \"Projects\"");
    let r = c.cmd("p LIST \"\" Projects.%");
    assert_eq!(
        r[0],
        "* LIST (\\Noselect \\HasChildren) \".\" \"Projects.2026\""
    );
    let r = c.cmd("p LIST \"\" Projects.%.%");
    assert_eq!(r[0], "* LIST (\\HasNoChildren) \".\" \"Projects.2026.Q4\"");
    assert_eq!(c.cmd("u UNSUBSCRIBE Sent")[0], "u OK UNSUBSCRIBE completed");
    let r = c.cmd("z LSUB \"\" *");
    assert!(
        !r.iter().any(|l| l.contains("\"Sent\"")) && r.iter().any(|l| l.contains("\"Trash\"")),
        "{r:?}"
    );
    c.cmd("s SELECT INBOX");
    assert_eq!(c.cmd("k CHECK"), ["k OK CHECK completed"]);
}
