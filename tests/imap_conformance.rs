//! Issue 15's smaller conformance findings (from Dovecot's imaptest), each over a real socket:
//! SENT* dates, addresses with comments and source routes, LSUB's \Noselect parents, untagged
//! FLAGS for a new keyword, 8-bit text in BODYSTRUCTURE, and a deleted folder's subscription.

use crate::imap::Imap;
use crate::support::TestServer;

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

fn append(c: &mut Imap, message: &str) {
    let r = c.cmd(&format!(
        "a APPEND INBOX {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(r[0].starts_with("a OK [APPENDUID"), "{r:?}");
}

#[test]
fn sent_dates_are_the_day_the_sender_wrote_whatever_the_zone() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    // In UTC the first was sent on 31 January and the second on 1 February.
    append(
        &mut c,
        "Date: Thu, 01 Feb 2007 01:02:03 +0200\r\n\r\none\r\n",
    );
    append(
        &mut c,
        "Date: Wed, 31 Jan 2007 23:30:00 -0500\r\n\r\ntwo\r\n",
    );
    c.cmd("s SELECT INBOX");
    assert_eq!(c.cmd("s1 SEARCH SENTON 1-Feb-2007")[0], "* SEARCH 1");
    assert_eq!(c.cmd("s2 SEARCH SENTON 31-Jan-2007")[0], "* SEARCH 2");
    assert_eq!(c.cmd("s3 SEARCH SENTBEFORE 1-Feb-2007")[0], "* SEARCH 2");
    assert_eq!(c.cmd("s4 SEARCH SENTSINCE 1-Feb-2007")[0], "* SEARCH 1");
}

#[test]
fn addresses_with_comments_and_source_routes() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    append(
        &mut c,
        "From: <user (c)@ (c) domain.org>\r\nTo: <@route:user@domain>\r\n\
Cc: old@domain.org (Old Style)\r\n\r\nbody\r\n",
    );
    c.cmd("s SELECT INBOX");
    let r = c.cmd("f FETCH 1 ENVELOPE");
    assert_eq!(
        r[0],
        "* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"user\" \"domain.org\")) \
((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) \
((NIL \"@route\" \"user\" \"domain\")) ((\"Old Style\" NIL \"old\" \"domain.org\")) NIL NIL NIL))"
    );
    assert_eq!(c.cmd("s1 SEARCH FROM user@domain.org")[0], "* SEARCH 1");
    assert_eq!(c.cmd("s2 SEARCH TO user@domain")[0], "* SEARCH 1");
    assert_eq!(c.cmd("s3 SEARCH CC \"old style\"")[0], "* SEARCH 1");
    // A comment is not part of an address (imaptest's search-addresses).
    assert_eq!(c.cmd("s4 SEARCH FROM \"(c)\"")[0], "* SEARCH");
}

#[test]
fn lsub_with_percent_shows_the_unsubscribed_parent_as_noselect() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    c.cmd("c SUBSCRIBE pl.a.b");
    let r = c.cmd("l LSUB \"\" pl.%");
    assert_eq!(
        r,
        ["* LSUB (\\Noselect) \".\" \"pl.a\"", "l OK LSUB completed"]
    );
    let r = c.cmd("l2 LSUB \"\" pl.*");
    assert_eq!(r, ["* LSUB () \".\" \"pl.a.b\"", "l2 OK LSUB completed"]);
}

#[test]
fn a_new_keyword_is_announced_with_flags_to_every_session() {
    let server = TestServer::start();
    let mut a = Imap::login(server.addr("imap"), "bob");
    append(&mut a, "Subject: k\r\n\r\nk\r\n");
    let mut b = Imap::login(server.addr("imap"), "bob");
    a.cmd("a SELECT INBOX");
    b.cmd("b SELECT INBOX");
    let flags = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Project)";
    let r = a.cmd("a1 STORE 1 +FLAGS (Project)");
    assert_eq!(r[0], flags, "{r:?}");
    assert!(r[1].starts_with("* OK [PERMANENTFLAGS ("), "{r:?}");
    assert_eq!(r[2], "* 1 FETCH (FLAGS (\\Recent Project))");
    // The other session hears the new FLAGS before it sees the keyword on a message.
    let r = b.cmd("b1 NOOP");
    assert_eq!(r[0], flags, "{r:?}");
    assert_eq!(r[2], "* 1 FETCH (FLAGS (Project))", "{r:?}");
}

#[test]
fn bodystructure_never_puts_8bit_text_in_a_quoted_string() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    append(
        &mut c,
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
hi\r\n--b\r\nContent-Type: application/pdf; name*=utf-8''%C3%A9t%C3%A9.pdf\r\n\
Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.pdf\r\n\r\nAAAA\r\n--b--\r\n",
    );
    c.cmd("s SELECT INBOX");
    let r = c.cmd("f FETCH 1 BODYSTRUCTURE");
    assert!(r[0].is_ascii(), "{r:?}");
    assert!(has(&r, "\"=?utf-8?b?w6l0w6kucGRm?=\""), "{r:?}");
}

/// imaptest's listext: DELETE leaves the subscription (RFC 3501 §6.3.6: the server must not
/// remove a name from the list because its folder is gone), shown as \NonExistent.
#[test]
fn a_deleted_folder_stays_subscribed() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    for command in ["c CREATE t.six", "s SUBSCRIBE t.six", "d DELETE t.six"] {
        let r = c.cmd(command);
        assert!(r.last().unwrap().contains(" OK"), "{command}: {r:?}");
    }
    let r = c.cmd("l LIST (SUBSCRIBED) \"\" t.*");
    assert_eq!(
        r,
        [
            "* LIST (\\NonExistent \\Subscribed) \".\" \"t.six\"",
            "l OK LIST completed"
        ]
    );
    assert_eq!(c.cmd("l2 LSUB \"\" t.*")[0], "* LSUB () \".\" \"t.six\"");
}
