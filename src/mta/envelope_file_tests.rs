//! Tests of the envelope file: examples, the old format, and a property test — thousands of
//! random addresses that RFC 5321 / RFC 6531 allow must come back from the file unchanged.

use super::*;

fn addr(text: &str) -> Address {
    address::parse_path(&format!("<{text}>"), true).unwrap()
}

#[test]
fn envelope_text_round_trips() {
    let mut entry = Entry::new(
        QueueId::new(),
        ReversePath::Mailbox(addr("alice@a.test")),
        vec![addr("bob@b.test"), addr("c@c.test"), addr("d@d.test")],
    );
    entry.recipients[1].status = Status::Delivered("250 2.0.0 Ok".into());
    entry.recipients[2].status = Status::Failed {
        status: "5.1.1".into(),
        diagnostic: "550 5.1.1 no\r\nsuch user".into(),
    };
    let text = entry.to_text();
    assert!(
        text.contains("rcpt: <d@d.test>\nstatus: failed 5.1.1 550 5.1.1 no  such user\n"),
        "{text}"
    );
    let back = Entry::parse(entry.id.clone(), &text).unwrap();
    assert_eq!(back.recipients[0], entry.recipients[0]);
    assert_eq!(back.recipients[1], entry.recipients[1]);
    assert_eq!(back.from, entry.from);
    let bounce = Entry::new(QueueId::new(), ReversePath::Null, vec![addr("x@y.test")]);
    assert_eq!(
        Entry::parse(bounce.id.clone(), &bounce.to_text())
            .unwrap()
            .from,
        ReversePath::Null
    );
}

/// Issue 14, finding 2: `RCPT TO:<"x> y"@remote.test>` made the file unreadable.
#[test]
fn regression_quoted_local_part_with_angle_and_space() {
    let entry = Entry::new(
        QueueId::new(),
        ReversePath::Mailbox(addr("\"a> b\"@a.test")),
        vec![addr("\"x> y\"@remote.test"), addr("bob@b.test")],
    );
    let back = Entry::parse(entry.id.clone(), &entry.to_text()).unwrap();
    assert_eq!(back, entry);
}

/// Files written before the two-line format are still read, even the ones the old reader
/// could not read.
#[test]
fn old_one_line_files_are_still_read() {
    let text = "# old\nfrom: <alice@a.test>\narrived: 5\nattempts: 1\nnext-attempt: 9\n\
                rcpt: <bob@b.test> pending 421 4.4.0 mx.b.test did not answer\n\
                rcpt: <\"x> y\"@remote.test> pending\n\
                rcpt: <v@[192.0.2.1]> delivered 250 2.0.0 Ok\n\
                rcpt: <\"q\\\"> z\"@c.test> failed 5.1.1 550 5.1.1 no such user\n";
    let entry = Entry::parse(QueueId::new(), text).unwrap();
    let got: Vec<(String, Status)> = entry
        .recipients
        .iter()
        .map(|r| (r.address.to_string(), r.status.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "bob@b.test".to_string(),
                Status::Pending("421 4.4.0 mx.b.test did not answer".into())
            ),
            (
                "\"x> y\"@remote.test".to_string(),
                Status::Pending("".into())
            ),
            (
                "v@[192.0.2.1]".to_string(),
                Status::Delivered("250 2.0.0 Ok".into())
            ),
            (
                "\"q\\\"> z\"@c.test".to_string(),
                Status::Failed {
                    status: "5.1.1".into(),
                    diagnostic: "550 5.1.1 no such user".into()
                }
            ),
        ]
    );
    assert_eq!(
        (entry.arrived, entry.attempts, entry.next_attempt),
        (5, 1, 9)
    );
}

#[test]
fn damaged_files_are_errors_not_guesses() {
    let good = "from: <a@a.test>\nrcpt: <b@b.test>\n";
    assert!(Entry::parse(QueueId::new(), good).is_ok());
    for bad in [
        "",
        "from: <a@a.test>\n",
        "status: pending\nrcpt: <b@b.test>\n",
        "rcpt: <b@b.test>\nstatus: lost\n",
        "rcpt: <b@b.test\n",
        "rcpt: b@b.test\n",
        "rcpt: <b@b.test>\nattempts: 99999999999\n",
        "rcpt: <b@b.test>\nwho: me\n",
        "rcpt <b@b.test>\n",
    ] {
        assert!(Entry::parse(QueueId::new(), bad).is_err(), "{bad:?}");
    }
}

/// A small seeded generator (xorshift64*), so a failure can be replayed from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Non-ASCII characters RFC 6531 allows: letters of several scripts, an emoji, and U+2028
/// (a line separator that is not a control character, so a quoted local part may hold it).
const UTF8: &[char] = &['é', 'ß', 'ж', 'λ', '中', '文', 'ü', '😀', '\u{2028}', 'ñ'];
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// `atext` (RFC 5322 §3.2.3), with UTF-8 (RFC 6531 §3.3).
fn atext(r: &mut Random) -> char {
    match r.below(5) {
        0 => r.pick(ATEXT_SPECIALS.as_bytes()) as char,
        1 => r.pick(&['é', 'ß', 'ж', 'λ', '中', '😀']),
        _ => r.pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") as char,
    }
}

/// `Local-part = Dot-string / Quoted-string` (RFC 5321 §4.1.2), at most 64 octets.
fn local_part(r: &mut Random) -> String {
    loop {
        let text = if r.below(2) == 0 {
            let atoms: Vec<String> = (0..1 + r.below(4))
                .map(|_| (0..1 + r.below(8)).map(|_| atext(r)).collect())
                .collect();
            atoms.join(".")
        } else {
            let mut text = String::from("\"");
            for _ in 0..r.below(20) {
                match r.below(6) {
                    // quoted-pairSMTP: a backslash and any printable ASCII (%d32-126)
                    0 => {
                        text.push('\\');
                        text.push((32 + r.below(95)) as u8 as char);
                    }
                    1 => text.push(r.pick(UTF8)),
                    // the characters that once broke the reader, more often than chance
                    2 => text.push(r.pick(&['>', ' ', '@', ':', '<', ',', '#'])),
                    // qtextSMTP: %d32-33 / %d35-91 / %d93-126
                    _ => loop {
                        let c = (32 + r.below(95)) as u8 as char;
                        if c != '"' && c != '\\' {
                            text.push(c);
                            break;
                        }
                    },
                }
            }
            text.push('"');
            text
        };
        if text.len() <= address::MAX_LOCAL_PART {
            return text;
        }
    }
}

/// `Domain` (letters, digits, inner hyphens; U-labels with SMTPUTF8) or an address literal.
fn domain(r: &mut Random) -> String {
    match r.below(8) {
        0 => format!(
            "[{}.{}.{}.{}]",
            r.below(256),
            r.below(256),
            r.below(256),
            r.below(256)
        ),
        1 => format!("[IPv6:2001:db8::{:x}]", r.below(65536)),
        _ => {
            let labels: Vec<String> = (0..1 + r.below(4))
                .map(|_| {
                    let mut label: String = (0..1 + r.below(10))
                        .map(|_| match r.below(6) {
                            0 => r.pick(&['ü', 'é', 'ж', '中']),
                            1 => '-',
                            _ => r.pick(b"abcxyz0189") as char,
                        })
                        .collect();
                    label = label.trim_matches('-').to_string();
                    if label.is_empty() {
                        label.push('d');
                    }
                    label
                })
                .collect();
            labels.join(".")
        }
    }
}

fn random_address(r: &mut Random) -> Address {
    loop {
        if r.below(50) == 0 {
            return addr("Postmaster");
        }
        let text = format!("<{}@{}>", local_part(r), domain(r));
        if text.len() <= address::MAX_PATH {
            // The generator writes only what the grammar allows; our SMTP parser agrees.
            return address::parse_path(&text, true)
                .unwrap_or_else(|e| panic!("generated {text:?}, refused: {e:?}"));
        }
    }
}

fn random_text(r: &mut Random) -> String {
    let words: Vec<String> = (0..r.below(6))
        .map(|_| (0..1 + r.below(6)).map(|_| atext(r)).collect())
        .collect();
    words.join(" ")
}

#[test]
fn every_legal_address_round_trips_through_the_file() {
    const SEED: u64 = 0x5EED_0F14;
    let mut r = Random(SEED);
    for case in 0..5_000 {
        let from = if r.below(10) == 0 {
            ReversePath::Null
        } else {
            ReversePath::Mailbox(random_address(&mut r))
        };
        let recipients: Vec<Address> = (0..1 + r.below(4))
            .map(|_| random_address(&mut r))
            .collect();
        let mut entry = Entry::new(QueueId::new(), from, recipients);
        entry.attempts = r.below(1000) as u32;
        for recipient in &mut entry.recipients {
            recipient.status = match r.below(3) {
                0 => Status::Pending(random_text(&mut r)),
                1 => Status::Delivered(random_text(&mut r)),
                _ => Status::Failed {
                    status: "5.1.1".into(),
                    diagnostic: random_text(&mut r),
                },
            };
        }
        let text = entry.to_text();
        let back = Entry::parse(entry.id.clone(), &text)
            .unwrap_or_else(|e| panic!("case {case} (seed {SEED:#x}): {e}\n{text}"));
        assert_eq!(back, entry, "case {case} (seed {SEED:#x}):\n{text}");
    }
}

#[test]
fn random_bytes_never_panic_the_reader() {
    let mut r = Random(7);
    let pieces = [
        "rcpt: ", "from: ", "status: ", "<", ">", "\"", "\\", "@", "[", "]", " ", "\n", "a",
        "pending", "failed", "é", ":",
    ];
    for _ in 0..5_000 {
        let text: String = (0..r.below(30)).map(|_| r.pick(&pieces)).collect();
        let _ = Entry::parse(QueueId::new(), &text);
    }
}
