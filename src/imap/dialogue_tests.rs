//! Whole dialogues against the session alone, without a socket (STYLE.md: tests in layers).
//! Useful for what a loopback test cannot show, such as a client on another address.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::command;
use super::session::{Session, State};
use crate::accounts::{Directory, Users};
use crate::config::Config;

fn session(peer: [u8; 4], name: &str) -> (Session, PathBuf) {
    let root = std::env::temp_dir().join(format!("postlab-imap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let directory = Directory {
        users: Users::parse("bob:{PLAIN}pw\n").unwrap(),
        ..Directory::default()
    };
    let mut config = Config::defaults();
    config.hostname = "mx.test".into();
    let peer: IpAddr = peer.into();
    (
        Session::new(Arc::new(config), Arc::new(directory), root.clone(), peer),
        root,
    )
}

/// Feeds one line and returns the responses as the transcript shows them.
fn say(session: &mut Session, line: &str) -> Vec<String> {
    session
        .handle(command::parse(line.as_bytes()))
        .responses
        .iter()
        .map(|r| r.log_line())
        .collect()
}

#[test]
fn passwords_are_refused_off_loopback() {
    let (mut s, _) = session([192, 0, 2, 7], "remote");
    let greeting = s.greeting().responses[0].log_line();
    assert!(greeting.contains("LOGINDISABLED") && !greeting.contains("AUTH=PLAIN"));
    assert_eq!(
        say(&mut s, "a LOGIN bob pw"),
        ["a NO [PRIVACYREQUIRED] Passwords are accepted only over TLS or from this machine"]
    );
    assert_eq!(
        say(&mut s, "b AUTHENTICATE PLAIN AGJvYgBwdw==")[0],
        "b NO [PRIVACYREQUIRED] Passwords are accepted only over TLS or from this machine"
    );
    assert_eq!(s.state, State::NotAuthenticated);
}

#[test]
fn a_dialogue_through_the_states() {
    let (mut s, root) = session([127, 0, 0, 1], "states");
    assert_eq!(
        say(&mut s, "a1 CAPABILITY")[0],
        "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE ESEARCH LIST-EXTENDED LIST-STATUS QUOTA QUOTA=RES-STORAGE MULTIAPPEND UTF8=ACCEPT STATUS=SIZE SEARCHRES CONDSTORE QRESYNC SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT BINARY CREATE-SPECIAL-USE AUTH=PLAIN"
    );
    // SASL-IR: the PLAIN response on the command line (base64 of "\0bob\0pw").
    assert!(say(&mut s, "a2 AUTHENTICATE PLAIN AGJvYgBwdw==")[0].starts_with("a2 OK [CAPABILITY"));
    assert_eq!(s.state, State::Authenticated);
    assert!(root.join("bob/.Sent/cur").is_dir() && root.join("bob/.Trash/new").is_dir());
    assert_eq!(
        say(&mut s, "a3 CLOSE")[0],
        "a3 BAD [CLIENTBUG] Not allowed in the Authenticated state: SELECT a folder first"
    );
    let select = say(&mut s, "a4 SELECT INBOX");
    assert_eq!(
        select.last().unwrap(),
        "a4 OK [READ-WRITE] SELECT completed"
    );
    assert!(select.contains(&"* 0 EXISTS".to_string()));
    assert_eq!(s.state, State::Selected);
    assert_eq!(
        say(&mut s, "a5 SEARCH ALL"),
        ["* SEARCH", "a5 OK SEARCH completed"]
    );
    assert_eq!(say(&mut s, "a6 UNSELECT"), ["a6 OK UNSELECT completed"]);
    assert_eq!(s.state, State::Authenticated);
    // RFC 5161 §3.2: what cannot be enabled is not listed; RFC 7162's CONDSTORE can.
    assert_eq!(
        say(&mut s, "a7 ENABLE CONDSTORE X-UNKNOWN"),
        ["* ENABLED CONDSTORE", "a7 OK ENABLE completed"]
    );
    assert_eq!(
        say(&mut s, "a7 ENABLE CONDSTORE"),
        ["* ENABLED", "a7 OK ENABLE completed"]
    );
    assert_eq!(say(&mut s, "a8 LOGOUT")[0], "* BYE postlab logging out");
    assert_eq!(s.state, State::Logout);
    std::fs::remove_dir_all(&root).unwrap();
}
