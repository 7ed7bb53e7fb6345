//! IMAP4rev2's rules (`rev2.rs`), dialogue by dialogue against the session, without a socket.
//! Over a socket they can be reached only once IMAP4rev2 is advertised (`tests/imap_rev2.rs`
//! then runs them too); here the session is switched the way `ENABLE IMAP4rev2` switches it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::accounts::{Directory, Users};
use crate::config::Config;
use crate::imap::command;
use crate::mailbox::Maildir;

/// A logged-in session for bob with `messages` delivered to his INBOX.
fn session(name: &str, messages: usize) -> (Session, PathBuf) {
    let root = std::env::temp_dir().join(format!("postlab-rev2-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let directory = Directory {
        users: Users::parse("bob:{PLAIN}pw\n").unwrap(),
        ..Directory::default()
    };
    let mut config = Config::defaults();
    config.hostname = "mx.test".into();
    let peer: IpAddr = [127, 0, 0, 1].into();
    let mut s = Session::new(Arc::new(config), Arc::new(directory), root.clone(), peer);
    assert!(say(&mut s, "l LOGIN bob pw")[0].starts_with("l OK"));
    let inbox = Maildir::create(&root.join("bob")).unwrap();
    for i in 0..messages {
        let text = format!("Subject: m{i}\r\n\r\nbody {i}\r\n");
        inbox.deliver(&[text.as_bytes()], "mx.test").unwrap();
    }
    (s, root)
}

fn say(s: &mut Session, line: &str) -> Vec<String> {
    s.handle(command::parse(line.as_bytes()))
        .responses
        .iter()
        .map(|r| r.log_line())
        .collect()
}

#[test]
fn imap4rev2_is_advertised_only_with_every_capability_it_requires() {
    let caps = r::capabilities(false, true);
    // Everything rev2 folds in is offered but the FETCH side of BINARY, being built apart.
    // When it lands (BINARY in the listing), IMAP4rev2 is advertised with no other change.
    assert!(missing(&caps).iter().all(|m| *m == "BINARY"), "{caps}");
    assert_eq!(offered(), missing(&caps).is_empty());
    assert!(missing(&format!("{caps} BINARY")).is_empty());
    let listed = advertise(caps.clone());
    assert_eq!(
        listed.contains("IMAP4rev1 IMAP4rev2 "),
        offered(),
        "{listed}"
    );
    assert!(listed.contains(" SEARCHRES"));
}

#[test]
fn enable_imap4rev2_is_ignored_while_it_is_not_advertised() {
    let (mut s, root) = session("enable", 0);
    let want = if offered() {
        "* ENABLED IMAP4rev2"
    } else {
        "* ENABLED"
    };
    assert_eq!(
        say(&mut s, "e ENABLE IMAP4rev2"),
        [want, "e OK ENABLE completed"]
    );
    assert_eq!(s.rev2, offered());
    // Nothing changed for a client that was told nothing changed: rev1's SEARCH answer.
    if !offered() {
        say(&mut s, "s SELECT INBOX");
        assert_eq!(
            say(&mut s, "f SEARCH ALL"),
            ["* SEARCH", "f OK SEARCH completed"]
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn select_sends_list_and_neither_recent_nor_unseen() {
    let (mut s, root) = session("select", 2);
    s.switch_to_rev2();
    let r = say(&mut s, "s SELECT INBOX");
    assert!(
        r.contains(&"* LIST (\\HasNoChildren) \".\" \"INBOX\"".to_string()),
        "{r:?}"
    );
    assert!(r.contains(&"* 2 EXISTS".to_string()), "{r:?}");
    assert!(
        !r.iter()
            .any(|l| l.contains("RECENT") || l.contains("UNSEEN")),
        "{r:?}"
    );
    let r = say(&mut s, "x EXAMINE Sent");
    assert!(
        r.contains(&"* LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"".to_string()),
        "{r:?}"
    );
    assert_eq!(r.last().unwrap(), "x OK [READ-ONLY] EXAMINE completed");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn no_recent_flag_and_search_answers_esearch() {
    let (mut s, root) = session("search", 3);
    s.switch_to_rev2();
    say(&mut s, "s SELECT INBOX");
    assert_eq!(
        say(&mut s, "f FETCH 1 FLAGS"),
        ["* 1 FETCH (FLAGS ())", "f OK FETCH completed"]
    );
    say(&mut s, "t STORE 2 +FLAGS.SILENT (\\Seen)");
    assert_eq!(
        say(&mut s, "a SEARCH UNSEEN"),
        ["* ESEARCH (TAG \"a\") ALL 1,3", "a OK SEARCH completed"]
    );
    assert_eq!(
        say(&mut s, "b UID SEARCH SEEN"),
        ["* ESEARCH (TAG \"b\") UID ALL 2", "b OK SEARCH completed"]
    );
    assert_eq!(
        say(&mut s, "c SEARCH SUBJECT nothing-like-this"),
        ["* ESEARCH (TAG \"c\")", "c OK SEARCH completed"]
    );
    // RETURN options still choose the answer's parts.
    assert_eq!(
        say(&mut s, "d SEARCH RETURN (COUNT) ALL"),
        ["* ESEARCH (TAG \"d\") COUNT 3", "d OK SEARCH completed"]
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn recent_is_not_in_the_rev2_grammar() {
    let (mut s, root) = session("recent", 1);
    s.switch_to_rev2();
    for line in [
        "a STATUS INBOX (MESSAGES RECENT)",
        "b LIST \"\" \"*\" RETURN (STATUS (RECENT))",
    ] {
        let r = say(&mut s, line);
        assert!(r.last().unwrap().contains(" BAD "), "{line}: {r:?}");
    }
    assert_eq!(
        say(&mut s, "c STATUS INBOX (MESSAGES)")[0],
        "* STATUS \"INBOX\" (MESSAGES 1)"
    );
    say(&mut s, "s SELECT INBOX");
    for line in [
        "d SEARCH RECENT",
        "e SEARCH NEW",
        "f UID SEARCH OR OLD SEEN",
    ] {
        let r = say(&mut s, line);
        assert!(r.last().unwrap().contains(" BAD "), "{line}: {r:?}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn unsolicited_fetch_carries_the_uid_and_folder_names_are_utf8() {
    let (mut s, root) = session("unsolicited", 2);
    s.switch_to_rev2();
    say(&mut s, "s SELECT INBOX");
    // Another session (here: the Maildir itself) sets \Seen on message 2.
    let inbox = Maildir::create(&root.join("bob")).unwrap();
    let entry = s.selected.as_ref().unwrap().messages[1].entry.clone();
    inbox.set_flags(&entry, "S").unwrap();
    assert_eq!(
        say(&mut s, "n NOOP"),
        ["* 2 FETCH (FLAGS (\\Seen) UID 2)", "n OK NOOP completed"]
    );
    assert_eq!(
        say(&mut s, "c CREATE \"Données\"").last().unwrap(),
        "c OK CREATE completed"
    );
    assert!(root.join("bob/.Donn&AOk-es").is_dir());
    // LSUB is deprecated in rev2, not gone.
    say(&mut s, "u SUBSCRIBE \"Données\"");
    assert_eq!(
        say(&mut s, "l LSUB \"\" \"Donn*\""),
        ["* LSUB () \".\" \"Données\"", "l OK LSUB completed"]
    );
    std::fs::remove_dir_all(&root).unwrap();
}
