//! Issue 14, findings 5 and 11: folder changes that used to hide mail or grow without bound.
//! RENAME checks every sub-folder's new name before it moves anything; CREATE (and RENAME of
//! INBOX, which makes a folder) stops at `max_folders` with `NO [LIMIT]`, and so do
//! subscriptions.

use crate::imap::Imap;
use crate::support::{Setup, TestServer};

fn append(c: &mut Imap, folder: &str, message: &str) {
    let r = c.cmd(&format!(
        "a APPEND \"{folder}\" {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(r.last().unwrap().starts_with("a OK"), "{r:?}");
}

#[test]
fn rename_that_would_make_a_sub_folder_name_too_long_renames_nothing() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob");
    // "P." + 190 = 192 octets: allowed (the limit is 200).
    let child = format!("P.{}", "c".repeat(190));
    assert!(c.cmd("a CREATE P").last().unwrap().starts_with("a OK"));
    let r = c.cmd(&format!("a CREATE \"{child}\""));
    assert!(r.last().unwrap().starts_with("a OK"), "{r:?}");
    append(&mut c, &child, "Subject: keep me\r\n\r\nstill here\r\n");

    // The parent to 20 characters would make the child 211: refused, nothing renamed.
    let parent = "Q".repeat(20);
    let r = c.cmd(&format!("b RENAME P {parent}"));
    assert!(r.last().unwrap().starts_with("b NO"), "{r:?}");
    assert!(r.last().unwrap().contains("nothing renamed"), "{r:?}");

    let list = c.cmd("l LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.ends_with(" \"P\"")), "{list:?}");
    assert!(
        list.iter().any(|l| l.ends_with(&format!(" \"{child}\""))),
        "{list:?}"
    );
    assert!(!list.iter().any(|l| l.contains(&parent)), "{list:?}");
    let r = c.cmd(&format!("s SELECT \"{child}\""));
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");

    // A short enough new name still moves the parent and its child together.
    let r = c.cmd("b RENAME P R");
    assert!(r.last().unwrap().starts_with("b OK"), "{r:?}");
    let moved = format!("R.{}", "c".repeat(190));
    let r = c.cmd(&format!("s SELECT \"{moved}\""));
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");
}

#[test]
fn create_beyond_max_folders_gets_no_limit() {
    let server = TestServer::start_with(Setup {
        config: "max_folders = 8\n".into(),
        ..Setup::default()
    });
    let mut c = Imap::login(server.addr("imap"), "bob");
    // INBOX and the four special-use folders made at the first login: 5 of 8.
    for name in ["One", "Two", "Three"] {
        let r = c.cmd(&format!("a CREATE {name}"));
        assert!(r.last().unwrap().starts_with("a OK"), "{r:?}");
    }
    let r = c.cmd("a CREATE Four");
    assert!(r.last().unwrap().starts_with("a NO [LIMIT]"), "{r:?}");
    let list = c.cmd("l LIST \"\" \"*\"");
    assert_eq!(list.len() - 1, 8, "{list:?}");
    // Deleting one makes room again; RENAME does not add a folder.
    assert!(c.cmd("d DELETE One").last().unwrap().starts_with("d OK"));
    assert!(c
        .cmd("r RENAME Two Deux")
        .last()
        .unwrap()
        .starts_with("r OK"));
    assert!(c.cmd("a CREATE Four").last().unwrap().starts_with("a OK"));
    assert!(c
        .cmd("a CREATE Five")
        .last()
        .unwrap()
        .starts_with("a NO [LIMIT]"));
    // Renaming INBOX makes a new folder (INBOX stays): it counts too.
    let r = c.cmd("r RENAME INBOX Old");
    assert!(r.last().unwrap().starts_with("r NO [LIMIT]"), "{r:?}");
    // Subscriptions need no folder (RFC 3501 §6.3.6) but are bounded the same way: INBOX and
    // the four special-use folders are subscribed, so three more names make 8.
    for n in 0..3 {
        let r = c.cmd(&format!("u SUBSCRIBE Ghost{n}"));
        assert!(r.last().unwrap().starts_with("u OK"), "{r:?}");
    }
    let r = c.cmd("u SUBSCRIBE Ghost3");
    assert!(r.last().unwrap().starts_with("u NO [LIMIT]"), "{r:?}");
    let r = c.cmd("u SUBSCRIBE Ghost0");
    assert!(
        r.last().unwrap().starts_with("u OK"),
        "already subscribed: {r:?}"
    );
}
