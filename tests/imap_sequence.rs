//! Issue 14, finding 14 (SEARCH half): a huge, messy sequence set over 2,000 messages is
//! answered correctly. The set is normalised once (`src/imap/syntax.rs`), so its cost no
//! longer grows with messages × ranges; speed is not asserted here, the answers are.

use std::collections::BTreeSet;

use crate::imap::Imap;
use crate::support::TestServer;

const MESSAGES: u32 = 2000;

/// A deterministic list of ranges: overlapping, reversed, out of order, some with `*`.
fn messy_set() -> (String, BTreeSet<u32>) {
    let mut seed = 0x9e37_79b9_u64;
    let mut next = |below: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % u64::from(below)) as u32
    };
    let mut parts = Vec::new();
    let mut expected = BTreeSet::new();
    // Within the 64 KiB line limit: about 6,000 ranges.
    while parts.iter().map(|p: &String| p.len() + 1).sum::<usize>() < 60_000 {
        let a = next(MESSAGES + 500) + 1;
        let b = a.saturating_sub(next(3)).max(1);
        // Mostly short reversed ranges; numbers above 2000 name no message.
        parts.push(format!("{a}:{b}"));
        expected.extend((b..=a).filter(|&n| n <= MESSAGES));
    }
    // A few ranges with `*` (the largest number in use, 2000).
    parts.push("2600:*".into());
    expected.insert(MESSAGES);
    parts.insert(0, "*".into());
    (parts.join(","), expected)
}

#[test]
fn a_huge_sequence_set_over_2000_messages_answers_correctly() {
    let server = TestServer::start();
    let new = server.dir.join("mail/bob/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(server.dir.join("mail/bob/cur")).unwrap();
    std::fs::create_dir_all(server.dir.join("mail/bob/tmp")).unwrap();
    for i in 0..MESSAGES {
        // Delivered as an MDA would: names sort by time, so sequence numbers follow i.
        let body = format!("Subject: m{i}\r\n\r\nmessage {i}\r\n");
        let name = format!("{}.M{i}P1.mx.test,S={}", 1_700_000_000 + i, body.len());
        std::fs::write(new.join(name), body).unwrap();
    }
    let (set, expected) = messy_set();
    assert!(set.len() > 50_000, "the set is huge: {} octets", set.len());

    let mut c = Imap::login(server.addr("imap"), "bob");
    let r = c.cmd("s SELECT INBOX");
    assert!(
        r.iter().any(|l| l == &format!("* {MESSAGES} EXISTS")),
        "{r:?}"
    );
    let want: Vec<String> = expected.iter().map(u32::to_string).collect();

    for command in [format!("a SEARCH {set}"), format!("b UID SEARCH UID {set}")] {
        let tag = &command[..1];
        let r = c.cmd(&command);
        assert!(r.last().unwrap().starts_with(&format!("{tag} OK")), "{r:?}");
        let found: Vec<String> = r
            .iter()
            .find_map(|l| l.strip_prefix("* SEARCH"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // UIDs were given in delivery order, 1 to 2000, so both answers are the same numbers.
        assert_eq!(found, want, "{}", &command[..20]);
    }
    // FETCH and STORE resolve the same way.
    let r = c.cmd(&format!("f FETCH {set} (UID)"));
    assert_eq!(r.len() - 1, expected.len());
    assert!(r.last().unwrap().starts_with("f OK"), "{:?}", r.last());
}
